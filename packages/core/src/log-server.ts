// Owns the server's lifecycle and wiring: options, backends and their routes, listen, close
// (drain, store, acknowledge, close backends), config reloads (replaceRoutes) and signals. What
// happens to a connection and its lines is in the modules it wires together: listener.ts
// (binding, admission), connection.ts (a connection's protocol), read-turns.ts (fair reads),
// intake.ts (each line), unfinished-lines.ts, batch-builder.ts, ack-ledger.ts, pressure-gate.ts.
import { EventEmitter } from 'node:events';
import { hostname as osHostname } from 'node:os';
import type { Socket } from 'node:net';
import {
  DEFAULT_SOCKET_PATH,
  LogStreamError,
  encodeEntry,
  encodeError,
  type LineSink,
  type LogStreamErrorCode,
  type LogStreamErrorKind,
} from '@logstream/protocol';
import { AckLedger } from './ack-ledger';
import { BackendRoute, type BackendRouteOptions, type RouteDrop } from './backend-route';
import { BatchBuilder } from './batch-builder';
import { Connection } from './connection';
import { DedupeWindow } from './dedupe-window';
import { completeEntry } from './enrich';
import { Intake, type ClientError } from './intake';
import { Admission, Listener } from './listener';
import { PressureGate } from './pressure-gate';
import { ReadTurns } from './read-turns';
import { readPeerIdentity, senderKey } from './peer-identity';
import { DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_INTERVAL_MS, RateLimiter } from './rate-limiter';
import { ReportLimiter } from './report-limiter';
import { newServerCounters, type ServerCounters } from './server-counters';
import { UnfinishedLines } from './unfinished-lines';
import {
  DEFAULT_DEDUPE_WINDOW,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_INFLIGHT_BYTES,
  DEFAULT_READ_BUFFER_BYTES,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_SOCKET_MODE,
} from './server-defaults';

export type { IntakeDropReason, ServerCounters } from './server-counters';

/** Default maximum line length, in bytes. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
/** Default bound of the bytes of unfinished lines held across all connections (see `maxPartialBytes`). */
export const DEFAULT_MAX_PARTIAL_BYTES = 16 * 1024 * 1024;
/** Default time a connection has to complete its first line, or a line it began (see `handshakeTimeoutMs`). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Options of {@link LogServer}. */
export interface LogServerOptions {
  /** Unix socket path. Default `/tmp/logstream.sock`. */
  socketPath?: string;
  /** Backends, each with its own level filter and bounded queue. */
  backends: readonly (BackendRouteOptions | BackendRoute)[];
  /** Connections served at once; one more gets an error line and is closed. Default 1000. */
  maxConnections?: number;
  /**
   * Connections one user (the peer's uid, as the kernel says) may hold at once, so that no
   * unprivileged user can lock the others out by holding idle connections. Root and the
   * server's own user are bound only by `maxConnections`. Default half of `maxConnections`.
   */
  maxConnectionsPerUid?: number;
  /** Read buffer of each connection, in bytes (the spec's `buffer_size`). Default 8192 ({@link DEFAULT_READ_BUFFER_BYTES}). */
  readBufferBytes?: number;
  /** Longest accepted line in bytes, newline not counted. Default 65536. */
  maxLineBytes?: number;
  /** Hostname filled into entries that have none. Default `os.hostname()`. */
  hostname?: string;
  /** Daemon name for entries of connections without a handshake. Default `"unknown"`. */
  defaultDaemon?: string;
  /** Mode of the socket file. Default `0o660` (owner and group may log; not world-writable). */
  socketMode?: number;
  /** How long shutdown waits for clients to finish sending and backends to store. Default 5000 ms. */
  shutdownTimeoutMs?: number;
  /**
   * Ids remembered to drop resent entries (see {@link DedupeWindow}). Default 65536; 0 turns
   * dedupe off.
   */
  dedupeWindow?: number;
  /**
   * Bytes of entries in flight (parsed, not yet stored by every backend) above which the server
   * stops reading sockets. Default 16 MiB.
   */
  maxInflightBytes?: number;
  /**
   * How long a connection the server is done with (the peer ended it and every ack went out, or
   * its handshake was refused) stays open for the peer to read the last answers before it is
   * destroyed: a peer that never reads nor closes must not keep its slot. Default 5000 ms.
   */
  lingerMs?: number;
  /**
   * Recurring trouble (a backend's failing writes, its drops, errors it reports, failed accepts)
   * is emitted as `'error'` at most once per cause per this many ms, with the count. Default 10000.
   */
  reportIntervalMs?: number;
  /**
   * Bytes of unfinished lines (a line whose newline has not come yet) held across all
   * connections. Past it, the connections holding the most are refused with an error frame
   * (`BUFFER_FULL`) and closed, largest first, until the total is under 7/8 of it: their complete
   * lines are still stored and acknowledged, and the client library reconnects and resends the
   * rest. Default the larger of 16 MiB and 4 × (`maxLineBytes` + 1); more than `maxLineBytes`.
   */
  maxPartialBytes?: number;
  /**
   * Milliseconds a connection has to send its first complete line, and to finish a line it
   * began; past that it gets an error frame (`TIMEOUT`) and is closed. Time with the server not
   * reading (backpressure) does not count, and a connection may stay idle between complete lines
   * as long as it likes. Default 10000.
   */
  handshakeTimeoutMs?: number;
  /**
   * Entries one sender may have stored per `rateLimitIntervalMs`, like journald's
   * `RateLimitBurst`; 0 (the default) turns the limit off. The sender is the kernel's word (its
   * systemd unit when known, else its uid and pid: see `senderKey`), so renaming the daemon or
   * reconnecting does not evade it. Past the burst, entries are dropped and counted
   * (`counters.intakeDropped.rate_limited`) and acknowledged, the connection is told once per
   * interval (an error frame, `RATE_LIMITED`, without `seq`), and when the interval ends an
   * entry of daemon `logstream` at level warning says `suppressed N entries from <sender>`.
   */
  rateLimitBurst?: number;
  /** The window of `rateLimitBurst`, in ms. Default 30000. */
  rateLimitIntervalMs?: number;
}

/** Events of a {@link LogServer}, as `EventEmitter<LogServerEvents>` types them. */
export interface LogServerEvents {
  /** The socket is bound and connections are accepted. */
  listening: [];
  /** A connection was admitted; the count of connections open. */
  connection: [count: number];
  /** A setting or a situation worth an operator's attention (not a failure). */
  warning: [message: string];
  /** A backend write failed (it is retried), a backend reported trouble, or a failed accept (rate-limited). */
  error: [error: Error];
  /** A bad line or handshake of a client (it was answered with an error frame). */
  'client-error': [error: ClientError];
  /** The server is closed. */
  close: [];
}

/** What closing the backends may take past the shutdown deadline, in ms. */
const CLOSE_GRACE_MS = 1000;

/**
 * The LogStream server: accepts connections on a Unix socket, validates and completes entries,
 * routes them in batches to backends, and acknowledges them once every backend stored them.
 *
 * Events ({@link LogServerEvents}): `'listening'`, `'connection'` (count), `'warning'` (string:
 * a setting or a situation worth an operator's attention), `'error'` (Error: a backend write
 * failed; the write is retried), `'client-error'` ({ kind, code, message }: a bad line or
 * handshake), `'close'`.
 */
export class LogServer extends EventEmitter<LogServerEvents> {
  readonly socketPath: string;
  readonly maxConnections: number;
  readonly maxConnectionsPerUid: number;
  readonly maxLineBytes: number;
  readonly routes: readonly BackendRoute[];
  readonly counters: ServerCounters = newServerCounters();
  readonly #shutdownTimeoutMs: number;
  readonly #lingerMs: number;
  readonly #dedupe: DedupeWindow | undefined;
  readonly #rateLimiter: RateLimiter | undefined;
  /** Connections without credentials, each its own sender under the rate limit. */
  #anonymous = 0;
  readonly #hostname: string;
  readonly #reports: ReportLimiter;
  /** Aborted once the server is closed: the end of the backends' background work. */
  readonly #lifetime = new AbortController();
  readonly #conns = new Set<Connection>();
  readonly #listener: Listener;
  readonly #admission: Admission;
  readonly #turns: ReadTurns;
  readonly #intake: Intake;
  readonly #unfinished: UnfinishedLines;
  // The batch being gathered; flushed on the next turn of the event loop, when large, or once
  // MAX_BATCH_MS passed since its first chunk began being read.
  readonly #batch = new BatchBuilder<Connection>();
  readonly #ledger: AckLedger<Connection>;
  readonly #gate: PressureGate;
  /** Makes each connection's line sink (one per connection, none per line). */
  readonly #sinkFor: (conn: Connection) => LineSink;
  #flushScheduled = false;
  #closing: Promise<void> | undefined;
  // While replaceRoutes() switches backends, gathered entries wait here instead of being routed.
  #routesHeld = false;
  #state: 'new' | 'listening' | 'closing' | 'closed' = 'new';

  constructor(options: LogServerOptions) {
    super();
    this.socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.maxConnectionsPerUid = options.maxConnectionsPerUid ?? Math.max(1, Math.floor(this.maxConnections / 2));
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.#lingerMs = options.lingerMs ?? 5000;
    const maxPartialBytes = options.maxPartialBytes ?? Math.max(DEFAULT_MAX_PARTIAL_BYTES, 4 * (this.maxLineBytes + 1));
    if (!(maxPartialBytes > this.maxLineBytes)) {
      throw new LogStreamError(
        'config',
        `maxPartialBytes (${maxPartialBytes}) must be more than maxLineBytes (${this.maxLineBytes}): a line of maxLineBytes could never be received`,
        { code: 'CONFIG' },
      );
    }
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (!(handshakeTimeoutMs > 0)) {
      throw new LogStreamError('config', `handshakeTimeoutMs must be a positive number, got ${handshakeTimeoutMs}`, {
        code: 'CONFIG',
      });
    }
    const window = options.dedupeWindow ?? DEFAULT_DEDUPE_WINDOW;
    this.#dedupe = window > 0 ? new DedupeWindow(window) : undefined;
    this.#reports = new ReportLimiter(options.reportIntervalMs ?? 10_000, (text) =>
      this.#error(new LogStreamError('io', text, { code: 'BACKEND' })),
    );
    this.routes = options.backends.map((r) => this.#route(r));
    this.#hostname = options.hostname ?? osHostname();
    const burst = options.rateLimitBurst ?? DEFAULT_RATE_LIMIT_BURST;
    const intervalMs = options.rateLimitIntervalMs ?? DEFAULT_RATE_LIMIT_INTERVAL_MS;
    if (!Number.isInteger(burst) || burst < 0 || !Number.isInteger(intervalMs) || intervalMs <= 0) {
      throw new LogStreamError(
        'config',
        `rateLimitBurst must be an integer of 0 or more and rateLimitIntervalMs a positive integer, got ${burst} and ${intervalMs}`,
        { code: 'CONFIG' },
      );
    }
    if (burst > 0) {
      this.#rateLimiter = new RateLimiter({ intervalMs, burst, onSuppressed: (sender, n) => this.#storeSuppressed(sender, n) });
    }
    this.#admission = new Admission(this.maxConnections, this.maxConnectionsPerUid);
    this.#listener = new Listener(
      {
        socketPath: this.socketPath,
        socketMode: options.socketMode ?? DEFAULT_SOCKET_MODE,
        backlog: this.maxConnections,
        readBufferBytes: options.readBufferBytes ?? DEFAULT_READ_BUFFER_BYTES,
      },
      {
        accept: (socket) => this.#accept(socket),
        warn: (message) => this.#warn(message),
        acceptFailed: (error) => {
          this.counters.errors.io++;
          const fds = error.code === 'EMFILE' || error.code === 'ENFILE';
          this.#report(fds ? 'server: out of file descriptors, a connection was closed (raise LimitNOFILE / ulimit -n)' : 'server', error);
        },
      },
    );
    this.#unfinished = new UnfinishedLines(maxPartialBytes, handshakeTimeoutMs, this.#conns, (conn, kind, code, message) =>
      this.#refuse(conn, kind, code, message),
    );
    this.#ledger = new AckLedger<Connection>((conn, seq) => {
      conn.ack(seq);
      if (conn.done && this.#state === 'listening') conn.finish();
    });
    this.#gate = new PressureGate(options.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT_BYTES, () => this.routes.some((r) => r.full), {
      pause: () => {
        this.counters.socketPauses++;
        for (const conn of this.#conns) conn.socket.pause();
      },
      resume: () => {
        // A connection waiting for its turn is resumed when the turn comes.
        for (const conn of this.#conns) if (!conn.turn.busy && !conn.refused) conn.socket.resume();
      },
    });
    const gate = this.#gate;
    this.#turns = new ReadTurns({
      feed: (conn, chunk) => this.#feed(conn, chunk),
      end: (conn) => this.#onEnd(conn),
      get readPaused() {
        return gate.paused;
      },
    });
    this.#intake = new Intake({
      maxLineBytes: this.maxLineBytes,
      hostname: this.#hostname,
      defaultDaemon: options.defaultDaemon ?? 'unknown',
      dedupe: this.#dedupe,
      rateLimiter: this.#rateLimiter,
      counters: this.counters,
      batch: this.#batch,
      clientError: (error) => this.emit('client-error', error),
    });
    const intake = this.#intake;
    const turns = this.#turns;
    this.#sinkFor = (conn) => ({
      line: (line) => {
        intake.takeLine(conn, line);
        return turns.lineDone();
      },
      oversize: (bytes) => intake.takeOversize(conn, bytes),
    });
  }

  /** A route for `options`, its failures and drops told through the report limiter. */
  #route(options: BackendRouteOptions | BackendRoute): BackendRoute {
    const route = options instanceof BackendRoute ? options : new BackendRoute(options);
    const name = route.backend.name;
    route.on('error', (error: Error) => {
      this.counters.errors.io++;
      this.#report(`backend ${name}`, error);
    });
    route.on('drop', ({ entries, reason }: RouteDrop) => {
      if (reason === 'shutdown') return; // told once, by #close
      const why =
        reason === 'queue_full'
          ? `its queue is over ${route.maxQueuedBytes} bytes`
          : `not stored within ${route.maxWaitMs} ms: the backend is stalled or failing`;
      this.#reports.note(`drop ${name} ${reason}`, entries, (n) => `backend ${name}: dropped ${n} entries (when_full drop_newest: ${why})`);
    });
    return route;
  }

  /**
   * The recent ids every backend says it stored, to seed the dedupe window. A resend dropped as a
   * repeat is acknowledged without reaching any backend, so an id one backend stored and another
   * did not (the server died between the two writes) must not be seeded; and a backend without
   * `recentIds()` cannot say, so then nothing is: a resend may then be stored twice by the
   * others, which is better than lost by that one.
   */
  async #storedEverywhere(): Promise<Iterable<string>> {
    let common: Set<string> | undefined;
    for (const route of this.routes) {
      const ids = await route.backend.recentIds?.();
      if (ids === undefined) return [];
      if (common === undefined) common = new Set(ids);
      else {
        const mine = new Set(ids);
        for (const id of common) if (!mine.has(id)) common.delete(id);
      }
    }
    return common ?? [];
  }

  /**
   * Opens a route's backend with its context (errors it reports, the server's lifetime).
   * @throws LogStreamError (kind `io`) naming the backend that failed to open
   */
  async #openBackend(route: BackendRoute): Promise<void> {
    const backend = route.backend;
    // Backends that still report trouble as 'error' events (the BackendEvents of older
    // backends) are heard too: an unheard 'error' would crash the process.
    const events = backend as Partial<Pick<EventEmitter, 'on'>>;
    if (typeof events.on === 'function') events.on('error', (error: Error) => this.#report(`backend ${backend.name}`, error));
    try {
      await backend.open({ reportError: (error) => this.#report(`backend ${backend.name}`, error), signal: this.#lifetime.signal });
    } catch (error) {
      throw new LogStreamError('io', `backend ${backend.name} failed to open: ${(error as Error).message}`, {
        cause: error,
        code: 'BACKEND',
      });
    }
  }

  /**
   * Says `source: message` (as an `'error'` event) once per cause per report interval. The cause
   * is the source and the errno (of the error or its cause), else the message with its numbers
   * and ids blanked: one failing peer is one line per interval, and no cause hides another.
   */
  #report(source: string, error: Error): void {
    const text = `${source}: ${error.message}`;
    const cause = `${source} ${errnoOf(error) ?? error.message.replace(/[0-9a-f-]{8,}|\d+/g, '#')}`;
    this.#reports.note(cause, 1, (n) => (n === 1 ? text : `${text} (${n} times)`));
  }

  /** Connections open now. */
  get activeConnections(): number {
    return this.#conns.size;
  }

  /** Bytes held for unfinished lines across all connections (bounded by `maxPartialBytes`). */
  get partialBytes(): number {
    return this.#unfinished.bytes;
  }

  /** Bytes of entries parsed but not yet stored by every backend. */
  get inflightBytes(): number {
    return this.#ledger.bytes + this.#batch.bytes;
  }

  /**
   * Ids of recent entries, to seed the dedupe window after a restart (e.g. from the file
   * backend). They are held apart for 60 s, however many new entries arrive meanwhile, so a
   * client that comes back late still has its resends dropped (see {@link DedupeWindow}).
   */
  rememberIds(ids: Iterable<string>): void {
    this.#dedupe?.seed(ids);
  }

  /**
   * Opens every backend, seeds the dedupe window from their `recentIds`, then binds the socket. A stale socket file (nobody answers on it) is
   * replaced; a socket a live server answers on is an error.
   * @throws LogStreamError (kind `io` or `server`) naming what failed
   */
  async listen(): Promise<void> {
    if (this.#state !== 'new') throw new LogStreamError('server', 'listen() called twice');
    for (const route of this.routes) await this.#openBackend(route);
    this.rememberIds(await this.#storedEverywhere());
    await this.#admission.loadPeerCredentials();
    if (this.#rateLimiter !== undefined && !this.#admission.knowsPeers) {
      this.#warn(
        'rate_limit_burst: the kernel cannot say who sends (no SO_PEERCRED here), so each connection is limited on its own and a client that reconnects starts afresh',
      );
    }
    await this.#listener.bind();
    const fdWarning = await this.#admission.measureFdRoom();
    if (fdWarning !== undefined) this.#warn(fdWarning);
    this.#state = 'listening';
    // One sweep for every connection's line timeout, not a timer per connection.
    const timeoutMs = this.#unfinished.timeoutMs;
    const sweep = setInterval(
      () => {
        // Nothing is read while paused: nobody is late for it.
        if (this.#gate.paused || this.#state !== 'listening') return;
        this.#unfinished.sweep(this.#gate.resumedAt);
      },
      Math.min(1000, Math.max(10, timeoutMs / 4)),
    );
    sweep.unref();
    this.once('close', () => clearInterval(sweep));
    this.emit('listening');
  }

  /** Reopens the backends' files (SIGHUP) and retries failing writes at once. */
  async reopen(): Promise<void> {
    for (const route of this.routes) {
      await route.backend.reopen?.();
      route.retryNow();
    }
  }

  /**
   * Replaces the backends between two batches (a config reload), connections staying open.
   * Batches already routed finish on the old routes and are acknowledged as usual; entries read
   * from now on are held (read, not routed) until the old routes have stored everything they
   * hold and the new backends are open, then go to the new routes only. Each entry is so stored
   * by exactly one set of backends, and an old and a new backend writing the same file never
   * write at once. The old backends are closed afterwards.
   *
   * If a new backend fails to open, those opened are closed, the old routes stay and this
   * rejects. If the old routes have not drained after `drainTimeoutMs` (default: the shutdown
   * timeout; a backend whose peer is down keeps retrying), the switch happens anyway and the old
   * backends are closed in the background once they drain.
   * @returns the old routes, once their backends are closed (or left to drain after the timeout)
   * @throws LogStreamError (kind `server`) when not listening or a replacement is under way;
   *   (kind `io`) when a new backend fails to open
   */
  async replaceRoutes(
    backends: readonly (BackendRouteOptions | BackendRoute)[],
    options: { drainTimeoutMs?: number } = {},
  ): Promise<readonly BackendRoute[]> {
    if (this.#state !== 'listening') throw new LogStreamError('server', `replaceRoutes() while ${this.#state}`);
    if (this.#routesHeld) throw new LogStreamError('server', 'replaceRoutes() while another replacement is under way');
    const next = backends.map((r) => this.#route(r));
    const old = this.routes;
    this.#flush();
    this.#routesHeld = true;
    try {
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        Promise.all(old.map((r) => r.idle())).then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), options.drainTimeoutMs ?? this.#shutdownTimeoutMs))),
      ]);
      clearTimeout(timer);
      const opened: BackendRoute[] = [];
      try {
        for (const route of next) {
          await this.#openBackend(route);
          opened.push(route);
        }
      } catch (error) {
        for (const route of opened) await route.backend.close().catch(() => undefined);
        throw error;
      }
      // `routes` is readonly to users; this method is the one place that replaces it.
      (this as { routes: readonly BackendRoute[] }).routes = next;
      this.#routesHeld = false;
      this.#flush();
      const closeOld = async () => {
        for (const route of old) {
          await route.idle();
          await route.backend
            .flush()
            .then(() => route.backend.close())
            .catch((error: unknown) => this.#error(error as Error));
        }
      };
      if (drained) await closeOld();
      else void closeOld();
      return old;
    } finally {
      if (this.#routesHeld) {
        this.#routesHeld = false;
        this.#flush();
      }
    }
  }

  /**
   * Graceful shutdown: stops accepting, tells clients, reads what they already sent (until they
   * close, go quiet, or the deadline), stores and acknowledges it, flushes and closes every
   * backend and removes the socket file. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const deadline = Date.now() + this.#shutdownTimeoutMs;
    this.#state = 'closing';
    const closed = this.#listener.close();
    this.#gate.resume();
    for (const conn of this.#conns) {
      if (conn.daemon !== undefined && conn.daemon !== '') {
        conn.send(encodeError({ kind: 'server', code: 'SHUTTING_DOWN', message: 'server is shutting down' }));
      }
    }
    // Drain: a connection is done when its client closes its side or has been quiet a while,
    // counted from now at the earliest: what a client sent just before may not be read yet.
    // Each connection says so itself (its end, close, turn or quiet timer), no polling.
    // A connection drained may get busy again while others drain: all must be drained at once.
    const closingAt = Date.now();
    for (;;) {
      const busy = [...this.#conns].filter((conn) => !conn.isDrained(closingAt));
      if (busy.length === 0 || Date.now() >= deadline) break;
      await beforeDeadline(Promise.all(busy.map((conn) => conn.drained(closingAt))), deadline);
      for (const conn of busy) conn.stopDrain();
    }
    // What the rate limit dropped in the windows still open is said now, with the last batch.
    this.#rateLimiter?.flush();
    this.#flush();
    // Past the deadline every write still waiting is aborted and its entries are not stored
    // (nor acknowledged: their clients keep them).
    const stored = Promise.all(this.routes.map((r) => r.idle()));
    const timer = setTimeout(() => this.routes.forEach((r) => r.abandon()), Math.max(0, deadline - Date.now()));
    await stored;
    clearTimeout(timer);
    // The routes are idle: the acks of what they stored go out as their batches are released
    // (in order, right after); wait for each connection's, not for a guess at the time it takes.
    // What was abandoned is never acknowledged: past the deadline nothing more is waited for.
    await beforeDeadline(Promise.all([...this.#conns].map((conn) => conn.acksOut())), deadline);
    for (const route of this.routes) {
      const lost = route.counters.droppedShutdown;
      if (lost > 0) {
        this.#error(
          new LogStreamError(
            'io',
            `backend ${route.backend.name}: ${lost} entries not stored at shutdown (shutdown_timeout_ms ${this.#shutdownTimeoutMs}); their clients were not acknowledged`,
            { code: 'BACKEND' },
          ),
        );
      }
    }
    for (const conn of this.#conns) conn.socket.end();
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    for (const conn of this.#conns) conn.socket.destroy();
    this.#listener.destroyRefused();
    await closed;
    await this.#closeBackends(Math.max(deadline - Date.now(), 0) + CLOSE_GRACE_MS);
    this.#reports.flush();
    this.#lifetime.abort();
    await this.#listener.unlink();
    this.#state = 'closed';
    this.emit('close');
  }

  /**
   * Says something worth an operator's attention that is not a failure, as a `'warning'` event
   * (a string), or through `process.emitWarning` when nobody listens: unlike `'error'`, an
   * unheard warning must not end the process.
   */
  /**
   * Tells of trouble that does not stop the server (a backend failing, entries lost at shutdown):
   * an `'error'` event, or a process warning when nobody listens. An unheard `'error'` would
   * throw, and in the middle of close() that left sockets open and the socket file behind.
   */
  #error(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error.message, 'LogStreamWarning');
  }

  #warn(message: string): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', message);
    else process.emitWarning(message, 'LogStreamWarning');
  }

  /** Flushes and closes every backend, giving up on those not done within `ms`. */
  async #closeBackends(ms: number): Promise<void> {
    const closing = this.routes.map(async (route) => {
      const backend = route.backend;
      try {
        await backend.flush();
        await backend.close();
      } catch (error) {
        this.#error(
          new LogStreamError('io', `backend ${backend.name}: close failed: ${(error as Error).message}`, { cause: error, code: 'BACKEND' }),
        );
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
    const outcome = await Promise.race([Promise.all(closing), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.#error(new LogStreamError('io', `backends did not close within ${ms} ms; exiting without them`, { code: 'BACKEND' }));
    }
  }

  /** Installs SIGTERM/SIGINT (graceful close, then exit 0) and SIGHUP (reopen) handlers. */
  handleSignals(options: { exit?: boolean } = {}): () => void {
    const exit = options.exit ?? true;
    const stop = () => {
      this.close().then(
        () => exit && process.exit(0),
        (error: unknown) => {
          this.#error(error as Error);
          if (exit) process.exit(1);
        },
      );
    };
    const hup = () => void this.reopen().catch((error: unknown) => this.#error(error as Error));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', hup);
    return () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', hup);
    };
  }

  #accept(socket: Socket): void {
    this.counters.connectionsTotal++;
    const peer = this.#admission.peerOf(socket);
    const listening = this.#state === 'listening';
    const refusal = listening
      ? this.#admission.check(peer, this.#conns.size, this.#listener.refusedOpen)
      : { message: 'server is shutting down', outOfFds: false };
    if (refusal !== undefined) {
      this.counters.connectionsRejected++;
      this.counters.errors.server++;
      if (refusal.outOfFds) {
        this.#reports.note(
          'accept EMFILE',
          1,
          (n) =>
            `server: refused ${n} connection${n === 1 ? '' : 's'}: out of file descriptors with ${this.#conns.size} open (raise LimitNOFILE / ulimit -n)`,
        );
      }
      this.#listener.refuse(socket, listening ? 'TOO_MANY_CONNECTIONS' : 'SHUTTING_DOWN', refusal.message, refusal.outOfFds);
      return;
    }
    this.#admission.enter(peer);
    const conn = new Connection(socket, { peer, maxLineBytes: this.maxLineBytes, lingerMs: this.#lingerMs, sink: this.#sinkFor });
    if (this.#rateLimiter !== undefined) {
      // Read once per connection; without credentials each connection is a sender of its own.
      conn.rateKey = peer === undefined ? `connection ${++this.#anonymous}` : senderKey(conn.identity);
    }
    this.#conns.add(conn);
    socket.on('data', (chunk: Buffer) => {
      conn.lastDataAt = Date.now();
      this.counters.bytesReceived += chunk.length;
      if (conn.finished || conn.refused) return;
      // Data after the pause that held the rest of a chunk: kept behind it, in order.
      if (!this.#turns.queue(conn.turn, chunk)) this.#feed(conn, chunk);
    });
    socket.on('end', () => {
      if (conn.refused) return;
      if (!this.#turns.deferEnd(conn.turn)) this.#onEnd(conn);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.closed();
      this.#unfinished.drop(conn);
      this.#conns.delete(conn);
      this.#admission.leave(peer);
    });
    if (this.#gate.paused) socket.pause();
    this.emit('connection', this.#conns.size);
  }

  /** Splits and handles a chunk of `conn` within its turn; what does not fit is held for the next. */
  #feed(conn: Connection, chunk: Buffer): void {
    const turns = this.#turns;
    const started = turns.begin(conn.turn);
    const seqBefore = conn.seq;
    const handshaken = conn.daemon !== undefined;
    const taken = conn.splitter.push(chunk, conn.sink);
    const now = turns.spent(conn.turn, started);
    // One ack record per chunk, not per line: it covers every line the chunk completed.
    if (conn.seq > seqBefore) {
      if (this.#batch.note(conn, conn.seq, started, now)) this.#flush();
      else this.#scheduleFlush();
    }
    if (conn.finished || conn.refused) {
      // Refused within the chunk (a bad handshake): what it holds is dropped, the rest not read.
      this.#unfinished.drop(conn);
      return;
    }
    this.#unfinished.afterChunk(conn, conn.seq > seqBefore || (!handshaken && conn.daemon !== undefined));
    if (conn.refused) return;
    turns.after(conn, chunk, taken);
  }

  /**
   * Refuses `conn` from now on: answers with an error frame, drops its unfinished line and reads
   * nothing more. Its complete lines are stored and acknowledged as usual; then the server ends
   * its side and destroys the socket once those answers are flushed.
   */
  #refuse(conn: Connection, kind: LogStreamErrorKind, code: LogStreamErrorCode, message: string): void {
    this.#unfinished.drop(conn);
    this.counters.errors[kind]++;
    conn.refuse(kind, code, message);
    this.emit('client-error', { kind, code, message });
    this.#batch.noteAck(conn, conn.seq);
    this.#scheduleFlush();
  }

  #onEnd(conn: Connection): void {
    conn.markEnded();
    conn.splitter.end(conn.sink);
    this.#unfinished.drop(conn);
    // Keep our side open until the last acks are out; #flush sends them.
    this.#scheduleFlush();
    this.#batch.noteAck(conn, conn.seq);
  }

  /** Stores the one entry that says what a rate-limit window dropped, through the normal batch. */
  #storeSuppressed(sender: string, count: number): void {
    if (this.#state === 'closed') return;
    const message = `suppressed ${count} entries from ${sender}`;
    const { entry } = completeEntry(
      { level: 4, daemon: 'logstream', message, fields: { sender, suppressed: String(count) }, pid: process.pid },
      { daemon: 'logstream', hostname: this.#hostname },
    );
    const uid = process.getuid?.();
    entry.peer = uid === undefined ? null : readPeerIdentity({ pid: process.pid, uid, gid: process.getgid?.() ?? uid });
    this.#batch.addEncoded(encodeEntry(entry), entry.level);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Routes the gathered batch to every backend; its acks are released once all stored it. */
  #flush(): void {
    if (this.#routesHeld) {
      // Held entries count against the in-flight bound too: past it, stop reading until the switch.
      this.#gate.pauseIfOver(this.#batch.bytes);
      return;
    }
    const gathered = this.#batch.take();
    if (gathered === undefined) return;
    const { batch, bytes, acks } = gathered;
    const item = this.#ledger.open(acks, bytes);
    const stored = batch.length === 0 ? [] : this.routes.map((route) => route.enqueue(batch));
    void Promise.all(stored).then(() => {
      this.counters.messagesProcessed += batch.length;
      this.#ledger.settle(item);
      this.#gate.update(this.#ledger.bytes);
    });
    this.#gate.update(this.#ledger.bytes);
  }
}

/** Resolves when `work` does or at `deadline` (`Date.now()`), whichever comes first. */
async function beforeDeadline(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
  await Promise.race([work, late]);
  clearTimeout(timer);
}

/** The errno name (`ENOSPC`…) of an error or of the first of its causes that has one. */
function errnoOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return undefined;
}

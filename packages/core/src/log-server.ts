import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { EventEmitter } from 'node:events';
import { chmod, lstat, readFile, readdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_SOCKET_PATH,
  EntryBatch,
  LineSplitter,
  LogStreamError,
  checkDaemonName,
  decodeEntryLine,
  encodeAck,
  encodeEntry,
  encodeError,
  encodeReady,
  type LineSink,
  type LogLevel,
  type LogStreamErrorCode,
  type LogStreamErrorKind,
} from '@logstream/protocol';
import { BackendRoute, type BackendRouteOptions, type RouteDrop } from './backend-route';
import { loadPeerCredentialsReader, type PeerCredentials, type PeerCredentialsReader } from './peer-credentials';
import { readPeerIdentity, senderKey } from './peer-identity';
import { DEFAULT_RATE_LIMIT_INTERVAL_MS, RateLimiter } from './rate-limiter';
import { ReportLimiter } from './report-limiter';
import { DedupeWindow } from './dedupe-window';
import { completeEntry } from './enrich';
import { scanCanonicalEntry, type ScannedEntry } from './fast-scan';

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
  /** Read buffer of each connection, in bytes (the spec's `buffer_size`). Default 65536. */
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

/** Why the server dropped an entry before any backend saw it (see `ServerCounters.intakeDropped`). */
export type IntakeDropReason = 'rate_limited';

/** Counters for metrics, read at scrape time. */
export interface ServerCounters {
  connectionsTotal: number;
  connectionsRejected: number;
  messagesReceived: number;
  messagesProcessed: number;
  duplicatesDropped: number;
  bytesReceived: number;
  errors: Record<LogStreamErrorKind, number>;
  socketPauses: number;
  /** Entries received, acknowledged and not stored, by reason (`rate_limited`: see `rateLimitBurst`). */
  intakeDropped: Record<IntakeDropReason, number>;
}

interface Conn {
  socket: Socket;
  /** The sending process, as the kernel says (undefined where it cannot). */
  peer: PeerCredentials | undefined;
  splitter: LineSplitter;
  /** Handshake state: undefined until the first line. */
  daemon: string | undefined;
  /**
   * When the line being received began (`Date.now()`), or when the connection was accepted
   * until its first line is complete; 0 between lines. See handshakeTimeoutMs.
   */
  lineSince: number;
  /** Bytes of `splitter.heldBytes` counted in the server's total of unfinished lines. */
  partialBytes: number;
  /** The sender under the rate limit (undefined: no limit); see rateLimitBurst. */
  rateKey: string | undefined;
  /** The number of the last rate-limit window this connection was told about. */
  rateTold: number;
  /** The server refused the connection (see #refuse): nothing more is read from it. */
  refused: boolean;
  /** Destroys the socket once the linger is over (see #finish); cleared when it closes first. */
  lingerTimer: NodeJS.Timeout | undefined;
  /** Lines received on this connection that count in acks (entries, valid or not). */
  seq: number;
  acked: number;
  ended: boolean;
  lastDataAt: number;
  /** An ack is waiting for the peer to read what was sent before it (see #sendAck). */
  ackOwed: boolean;
  /** The server ended its side (see #finish): nothing more is read from the peer. */
  finished: boolean;
  /** Milliseconds spent on this connection since it last waited for the others (see TURN_MS). */
  turnMs: number;
  turnPaused: boolean;
  /** The rest of a chunk whose lines did not fit in this connection's turn; read next turn. */
  held: Buffer | undefined;
  /** The peer's 'end' came while `held` was waiting: handled once it is read. */
  endPending: boolean;
  sink: LineSink;
}

interface Inflight {
  batch: EntryBatch;
  bytes: number;
  acks: Map<Conn, number>;
  done: boolean;
}

const MAX_BATCH_ENTRIES = 8192;
/**
 * Milliseconds of the server's time a connection may take (reading, checking, refusing its
 * lines) before it waits for the others to have their turn. libuv reads a readable socket up to
 * 32 times per turn of the event loop: without this bound one client flooding the server with
 * lines that are slow to refuse would hold every other client's entries back for hundreds of
 * milliseconds. A well-behaved busy client yields every two or three 64 KiB reads.
 */
const TURN_MS = 1;
const MAX_BATCH_BYTES = 1024 * 1024;
/**
 * Milliseconds after its first chunk began being read (checked after each chunk) at which a
 * batch is written and acked, even in the middle of a turn of the event loop. When every
 * connection has a backlog (the server fell behind for a moment) one turn reads all of them, up
 * to TURN_MS each, twice; without this bound the first entries of that turn would wait for all
 * of it to be read before their ack.
 */
const MAX_BATCH_MS = 2;
/** What closing the backends may take past the shutdown deadline, in ms. */
const CLOSE_GRACE_MS = 1000;
/** Longest message in an error frame, in characters. */
const MAX_ERROR_MESSAGE_CHARS = 1024;

/**
 * The LogStream server: accepts connections on a Unix socket, validates and completes entries,
 * routes them in batches to backends, and acknowledges them once every backend stored them.
 *
 * Events: `'listening'`, `'connection'` (count), `'warning'` (string: a setting or a
 * situation worth an operator's attention), `'error'` (Error: a backend write failed; the
 * write is retried), `'client-error'` ({ kind, code, message }: a bad line or handshake),
 * `'close'`.
 */
export class LogServer extends EventEmitter {
  readonly socketPath: string;
  readonly maxConnections: number;
  readonly maxConnectionsPerUid: number;
  readonly maxLineBytes: number;
  readonly routes: readonly BackendRoute[];
  readonly counters: ServerCounters = {
    connectionsTotal: 0,
    connectionsRejected: 0,
    messagesReceived: 0,
    messagesProcessed: 0,
    duplicatesDropped: 0,
    bytesReceived: 0,
    errors: { io: 0, serde: 0, config: 0, server: 0, client: 0, connection: 0 },
    socketPauses: 0,
    intakeDropped: { rate_limited: 0 },
  };
  readonly #hostname: string;
  readonly #defaultDaemon: string;
  readonly #socketMode: number;
  readonly #shutdownTimeoutMs: number;
  readonly #maxInflightBytes: number;
  readonly #readBufferBytes: number;
  readonly #lingerMs: number;
  readonly #maxPartialBytes: number;
  readonly #handshakeTimeoutMs: number;
  readonly #dedupe: DedupeWindow | undefined;
  readonly #reports: ReportLimiter;
  readonly #rateLimiter: RateLimiter | undefined;
  /** Connections without credentials, each its own sender under the rate limit. */
  #anonymous = 0;
  /** Aborted once the server is closed: the end of the backends' background work. */
  readonly #lifetime = new AbortController();
  readonly #scan: ScannedEntry = { level: 0, idStart: 0, idEnd: 0 };
  #server: Server | undefined;
  /** Connections the open-file limit leaves room for (Linux; undefined elsewhere). */
  #fdRoom: number | undefined;
  #peerCredentials: PeerCredentialsReader | undefined;
  /** Connections open per unprivileged uid (see maxConnectionsPerUid). */
  #perUid = new Map<number, number>();
  #conns = new Set<Conn>();
  // Bytes held for unfinished lines by every connection's splitter (see maxPartialBytes).
  #partialBytes = 0;
  // When the server last resumed reading after backpressure: a line's time runs from then at most.
  #resumedAt = 0;
  // Connections that had their share of this turn (see TURN_MS), resumed at its end.
  #lineTick = 0;
  #turnDeadline = 0;
  #turnPaused: Conn[] = [];
  // Refused sockets, kept until they close so shutdown can destroy any the peer leaves half-open.
  #refused = new Set<Socket>();
  // The batch being gathered; flushed on the next turn of the event loop, when large, or once
  // MAX_BATCH_MS passed since its first chunk began being read.
  #lines: Buffer[] = [];
  #levels: LogLevel[] = [];
  #pendingBytes = 0;
  #pendingAcks = new Map<Conn, number>();
  // When the first chunk of the gathering batch began being read (0: nothing gathered).
  #batchStartedAt = 0;
  #flushScheduled = false;
  #inflight: Inflight[] = [];
  #inflightBytes = 0;
  #paused = false;
  #closing: Promise<void> | undefined;
  // While replaceRoutes() switches backends, gathered entries wait here instead of being routed.
  #routesHeld = false;
  #state: 'new' | 'listening' | 'closing' | 'closed' = 'new';

  constructor(options: LogServerOptions) {
    super();
    this.socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
    this.maxConnections = options.maxConnections ?? 1000;
    this.maxConnectionsPerUid = options.maxConnectionsPerUid ?? Math.max(1, Math.floor(this.maxConnections / 2));
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#hostname = options.hostname ?? osHostname();
    this.#defaultDaemon = options.defaultDaemon ?? 'unknown';
    this.#socketMode = options.socketMode ?? 0o660;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
    this.#maxInflightBytes = options.maxInflightBytes ?? 16 * 1024 * 1024;
    this.#readBufferBytes = options.readBufferBytes ?? 65536;
    this.#lingerMs = options.lingerMs ?? 5000;
    this.#maxPartialBytes = options.maxPartialBytes ?? Math.max(DEFAULT_MAX_PARTIAL_BYTES, 4 * (this.maxLineBytes + 1));
    if (!(this.#maxPartialBytes > this.maxLineBytes)) {
      throw new LogStreamError(
        'config',
        `maxPartialBytes (${this.#maxPartialBytes}) must be more than maxLineBytes (${this.maxLineBytes}): a line of maxLineBytes could never be received`,
        { code: 'CONFIG' },
      );
    }
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (!(this.#handshakeTimeoutMs > 0)) {
      throw new LogStreamError('config', `handshakeTimeoutMs must be a positive number, got ${this.#handshakeTimeoutMs}`, {
        code: 'CONFIG',
      });
    }
    const window = options.dedupeWindow ?? 65536;
    this.#dedupe = window > 0 ? new DedupeWindow(window) : undefined;
    this.#reports = new ReportLimiter(options.reportIntervalMs ?? 10_000, (text) =>
      this.emit('error', new LogStreamError('io', text, { code: 'BACKEND' })),
    );
    this.routes = options.backends.map((r) => this.#route(r));
    const burst = options.rateLimitBurst ?? 0;
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
    return this.#partialBytes;
  }

  /** Bytes of entries parsed but not yet stored by every backend. */
  get inflightBytes(): number {
    return this.#inflightBytes + this.#pendingBytes;
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
    this.#peerCredentials = await loadPeerCredentialsReader();
    if (this.#rateLimiter !== undefined && this.#peerCredentials === undefined) {
      this.#warn(
        'rate_limit_burst: the kernel cannot say who sends (no SO_PEERCRED here), so each connection is limited on its own and a client that reconnects starts afresh',
      );
    }
    await this.#clearStaleSocket();
    const server = createServer({ allowHalfOpen: true, highWaterMark: this.#readBufferBytes }, (socket) => this.#accept(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        // bind() reports a missing directory as EACCES (or ENOENT), which misleads even root.
        const missing = (error.code === 'EACCES' || error.code === 'ENOENT') && !existsSync(dirname(this.socketPath));
        const why = missing ? `the directory ${dirname(this.socketPath)} does not exist` : error.message;
        reject(new LogStreamError('io', `cannot listen on ${this.socketPath}: ${why}`, { cause: error, code: 'IO' }));
      });
      // Connections the server has not accepted yet wait in the kernel's backlog; Node's default
      // (511) is below max_connections, so a burst of connects (every daemon at boot) would fail
      // with EAGAIN before the server sees them. The kernel caps it at net.core.somaxconn.
      // Bind under a umask that already gives the socket its mode: no moment with wider access.
      const umask = process.umask(0o777 & ~this.#socketMode);
      try {
        server.listen({ path: this.socketPath, backlog: Math.max(511, this.maxConnections) }, () => resolve());
      } finally {
        process.umask(umask);
      }
    });
    // Failed accepts (EMFILE: out of file descriptors; libuv then closes the connection).
    server.on('error', (error: NodeJS.ErrnoException) => {
      this.counters.errors.io++;
      const fds = error.code === 'EMFILE' || error.code === 'ENFILE';
      this.#report(fds ? 'server: out of file descriptors, a connection was closed (raise LimitNOFILE / ulimit -n)' : 'server', error);
    });
    await chmod(this.socketPath, this.#socketMode);
    const parent = dirname(this.socketPath);
    const parentMode = (await lstat(parent).catch(() => undefined))?.mode ?? 0;
    if ((parentMode & 0o002) !== 0) {
      // Any user may bind this path while the server is down, and receive the daemons' entries
      // (clients refuse a socket owned by an untrusted user, but say so only as an error).
      this.#warn(
        `the socket ${this.socketPath} is in a world-writable directory (${parent}): another user could take the path while the server is down; use a directory only the server may write, such as /run/logstream/`,
      );
    }
    this.#fdRoom = await fileDescriptorRoom();
    if (this.#fdRoom !== undefined && this.#fdRoom < this.maxConnections) {
      this.#warn(
        `max_connections ${this.maxConnections} is more than the open-file limit leaves room for (${this.#fdRoom}); connections past ${this.#fdRoom} are refused: raise LimitNOFILE (ulimit -n)`,
      );
    }
    this.#state = 'listening';
    // One sweep for every connection's line timeout, not a timer per connection.
    const sweep = setInterval(() => this.#sweepTimeouts(), Math.min(1000, Math.max(10, this.#handshakeTimeoutMs / 4)));
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
            .catch((error: unknown) => this.emit('error', error));
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
    const server = this.#server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    this.#resume();
    for (const conn of this.#conns) {
      if (conn.daemon !== undefined && conn.daemon !== '') {
        this.#send(conn, encodeError({ kind: 'server', code: 'SHUTTING_DOWN', message: 'server is shutting down' }));
      }
    }
    // Drain: a connection is done when its client closes its side or has been quiet a while,
    // counted from now at the earliest: what a client sent just before may not be read yet.
    const closingAt = Date.now();
    while (Date.now() < deadline) {
      const now = Date.now();
      let busy = false;
      for (const conn of this.#conns) {
        // Bytes read and not yet handled (held for the next turn) make a connection busy too.
        if (conn.held !== undefined || conn.turnPaused) busy = true;
        else if (!conn.ended && now - Math.max(conn.lastDataAt, closingAt) < 200) busy = true;
      }
      if (!busy) break;
      await sleep(25);
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
    for (const route of this.routes) {
      const lost = route.counters.droppedShutdown;
      if (lost > 0) {
        this.emit(
          'error',
          new LogStreamError(
            'io',
            `backend ${route.backend.name}: ${lost} entries not stored at shutdown (shutdown_timeout_ms ${this.#shutdownTimeoutMs}); their clients were not acknowledged`,
            { code: 'BACKEND' },
          ),
        );
      }
    }
    for (const conn of this.#conns) conn.socket.end();
    await sleep(0);
    for (const conn of this.#conns) conn.socket.destroy();
    for (const socket of this.#refused) socket.destroy();
    await closed;
    await this.#closeBackends(Math.max(deadline - Date.now(), 0) + CLOSE_GRACE_MS);
    this.#reports.flush();
    this.#lifetime.abort();
    await unlink(this.socketPath).catch(() => undefined);
    this.#state = 'closed';
    this.emit('close');
  }

  /**
   * Says something worth an operator's attention that is not a failure, as a `'warning'` event
   * (a string), or through `process.emitWarning` when nobody listens: unlike `'error'`, an
   * unheard warning must not end the process.
   */
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
        this.emit(
          'error',
          new LogStreamError('io', `backend ${backend.name}: close failed: ${(error as Error).message}`, { cause: error, code: 'BACKEND' }),
        );
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
    const outcome = await Promise.race([Promise.all(closing), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.emit('error', new LogStreamError('io', `backends did not close within ${ms} ms; exiting without them`, { code: 'BACKEND' }));
    }
  }

  /** Installs SIGTERM/SIGINT (graceful close, then exit 0) and SIGHUP (reopen) handlers. */
  handleSignals(options: { exit?: boolean } = {}): () => void {
    const exit = options.exit ?? true;
    const stop = () => {
      this.close().then(
        () => exit && process.exit(0),
        (error) => {
          this.emit('error', error);
          if (exit) process.exit(1);
        },
      );
    };
    const hup = () => void this.reopen().catch((error) => this.emit('error', error));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', hup);
    return () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', hup);
    };
  }

  async #clearStaleSocket(): Promise<void> {
    let stat;
    try {
      stat = await lstat(this.socketPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new LogStreamError('io', `cannot check ${this.socketPath}: ${(error as Error).message}`, { cause: error, code: 'IO' });
    }
    if (!stat.isSocket()) {
      throw new LogStreamError('server', `${this.socketPath} exists and is not a socket; refusing to replace it`, { code: 'IO' });
    }
    const live = await new Promise<boolean>((resolve) => {
      const probe = createConnection(this.socketPath);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (live) {
      throw new LogStreamError('server', `another server is already listening on ${this.socketPath}`, { code: 'IO' });
    }
    await unlink(this.socketPath);
  }

  #accept(socket: Socket): void {
    this.counters.connectionsTotal++;
    // Past the open-file limit libuv would close new connections unseen (EMFILE): refuse them
    // ourselves while a few descriptors are left, so the client hears why and the log says so.
    const outOfFds = this.#fdRoom !== undefined && this.#conns.size >= this.#fdRoom;
    const peer = this.#peerCredentials?.(socket);
    const shared = peer !== undefined && peer.uid !== 0 && peer.uid !== process.getuid?.();
    const overShare = shared && (this.#perUid.get(peer.uid) ?? 0) >= this.maxConnectionsPerUid;
    if (this.#state !== 'listening' || this.#conns.size >= this.maxConnections || outOfFds || overShare) {
      this.counters.connectionsRejected++;
      this.counters.errors.server++;
      let message = 'server is shutting down';
      if (this.#state === 'listening') {
        if (outOfFds) message = `too many connections (${this.#conns.size}: the server's open-file limit is reached)`;
        else if (this.#conns.size >= this.maxConnections) message = `too many connections (max_connections ${this.maxConnections})`;
        else message = `too many connections from uid ${peer?.uid} (max_connections_per_uid ${this.maxConnectionsPerUid})`;
      }
      if (outOfFds && this.#state === 'listening') {
        this.#reports.note(
          'accept EMFILE',
          1,
          (n) =>
            `server: refused ${n} connection${n === 1 ? '' : 's'}: out of file descriptors with ${this.#conns.size} open (raise LimitNOFILE / ulimit -n)`,
        );
      }
      socket.on('error', () => undefined);
      this.#refused.add(socket);
      // The peer may never close its side (allowHalfOpen): do not let it hold the server. The
      // timer goes with the socket: under connect churn, timers left to run would keep thousands
      // of closed sockets alive.
      const timer = setTimeout(() => socket.destroy(), 1000).unref();
      socket.once('close', () => {
        clearTimeout(timer);
        this.#refused.delete(socket);
      });
      socket.end(encodeError({ kind: 'server', code: this.#state === 'listening' ? 'TOO_MANY_CONNECTIONS' : 'SHUTTING_DOWN', message }));
      return;
    }
    if (shared) this.#perUid.set(peer.uid, (this.#perUid.get(peer.uid) ?? 0) + 1);
    const conn: Conn = {
      socket,
      peer,
      // Read once per connection; without credentials each connection is a sender of its own.
      rateKey:
        this.#rateLimiter === undefined
          ? undefined
          : peer === undefined
            ? `connection ${++this.#anonymous}`
            : senderKey(readPeerIdentity(peer)),
      rateTold: 0,
      splitter: new LineSplitter(this.maxLineBytes),
      daemon: undefined,
      lineSince: Date.now(),
      partialBytes: 0,
      refused: false,
      lingerTimer: undefined,
      seq: 0,
      acked: 0,
      ended: false,
      lastDataAt: Date.now(),
      ackOwed: false,
      finished: false,
      turnMs: 0,
      turnPaused: false,
      held: undefined,
      endPending: false,
      sink: {
        line: (line) => {
          this.#onLine(conn, line);
          // Past the turn's deadline (looked at every 64 lines) the rest of the chunk waits.
          return (++this.#lineTick & 63) !== 0 || performance.now() < this.#turnDeadline;
        },
        oversize: (bytes) => this.#onOversize(conn, bytes),
      },
    };
    this.#conns.add(conn);
    socket.on('data', (chunk: Buffer) => {
      conn.lastDataAt = Date.now();
      this.counters.bytesReceived += chunk.length;
      if (conn.finished || conn.refused) return;
      // Data after the pause that held the rest of a chunk: kept behind it, in order.
      if (conn.held !== undefined) conn.held = Buffer.concat([conn.held, chunk]);
      else this.#feed(conn, chunk);
    });
    socket.on('end', () => {
      if (conn.refused) return;
      if (conn.held !== undefined) conn.endPending = true;
      else this.#onEnd(conn);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.ended = true;
      clearTimeout(conn.lingerTimer);
      this.#dropPartial(conn);
      this.#conns.delete(conn);
      if (shared) {
        const left = (this.#perUid.get(peer.uid) ?? 1) - 1;
        if (left === 0) this.#perUid.delete(peer.uid);
        else this.#perUid.set(peer.uid, left);
      }
    });
    if (this.#paused) socket.pause();
    this.emit('connection', this.#conns.size);
  }

  /** Splits and handles a chunk of `conn` within its turn; what does not fit is held for the next. */
  #feed(conn: Conn, chunk: Buffer): void {
    const started = performance.now();
    this.#turnDeadline = started + TURN_MS - conn.turnMs;
    const seqBefore = conn.seq;
    const handshaken = conn.daemon !== undefined;
    const splitter = conn.splitter;
    const taken = splitter.push(chunk, conn.sink);
    const now = performance.now();
    conn.turnMs += now - started;
    // One ack record per chunk, not per line: it covers every line the chunk completed.
    if (conn.seq > seqBefore) this.#note(conn, started, now);
    if (conn.finished || conn.refused) {
      // Refused within the chunk (a bad handshake): what it holds is dropped, the rest not read.
      this.#dropPartial(conn);
      return;
    }
    // A line's time runs from the chunk that began it; the first line's from the accept.
    if (conn.seq > seqBefore || (!handshaken && conn.daemon !== undefined)) conn.lineSince = splitter.inLine ? conn.lastDataAt : 0;
    else if (conn.lineSince === 0 && splitter.inLine) conn.lineSince = conn.lastDataAt;
    // The global bound on unfinished lines: O(1) per chunk; the search for whom to refuse runs
    // only past it, and frees an eighth of the bound each time.
    const held = splitter.heldBytes;
    if (held !== conn.partialBytes) {
      this.#partialBytes += held - conn.partialBytes;
      conn.partialBytes = held;
      if (this.#partialBytes > this.#maxPartialBytes) this.#shed();
      if (conn.refused) return;
    }
    if (taken < chunk.length) conn.held = chunk.subarray(taken);
    if ((conn.held !== undefined || conn.turnMs >= TURN_MS) && !conn.turnPaused) this.#yieldTurn(conn);
  }

  /** Forgets what `conn`'s splitter holds of an unfinished line, and its share of the total. */
  #dropPartial(conn: Conn): void {
    conn.splitter.reset();
    this.#partialBytes -= conn.partialBytes;
    conn.partialBytes = 0;
  }

  /**
   * Unfinished lines of all connections hold more than maxPartialBytes: refuses the connections
   * holding the most until the total is under 7/8 of the bound. A client mid-way through an
   * ordinary line holds a few KiB for microseconds; whoever holds the most is the likeliest to be
   * sending lines it never ends, and refusing it gives the most back.
   */
  #shed(): void {
    const holders: Conn[] = [];
    for (const conn of this.#conns) if (conn.partialBytes > 0 && !conn.refused) holders.push(conn);
    holders.sort((a, b) => b.partialBytes - a.partialBytes);
    const target = this.#maxPartialBytes - (this.#maxPartialBytes >> 3);
    for (const conn of holders) {
      if (this.#partialBytes <= target) break;
      this.#refuse(
        conn,
        'server',
        'BUFFER_FULL',
        `unfinished lines of all connections exceed max_partial_bytes ${this.#maxPartialBytes}; this connection held the most (${conn.partialBytes} bytes)`,
      );
    }
  }

  /** Closes connections whose first line, or a line they began, is older than handshakeTimeoutMs. */
  #sweepTimeouts(): void {
    // Nothing is read while paused: nobody is late for it.
    if (this.#paused || this.#state !== 'listening') return;
    const limit = Date.now() - this.#handshakeTimeoutMs;
    if (this.#resumedAt > limit) return;
    for (const conn of this.#conns) {
      const since = conn.lineSince;
      if (since === 0 || since > limit || conn.ended || conn.finished || conn.refused) continue;
      // Bytes it sent are waiting for their turn: they may well end the line.
      if (conn.held !== undefined || conn.turnPaused) continue;
      const what =
        conn.daemon === undefined
          ? `no complete first line within handshake_timeout_ms ${this.#handshakeTimeoutMs}`
          : `line not finished within handshake_timeout_ms ${this.#handshakeTimeoutMs}`;
      this.#refuse(conn, 'client', 'TIMEOUT', `${what}; closing the connection`);
    }
  }

  /**
   * Refuses `conn` from now on: answers with an error frame, drops its unfinished line and reads
   * nothing more. Its complete lines are stored and acknowledged as usual; then the server ends
   * its side (see #release) and destroys the socket once those answers are flushed.
   */
  #refuse(conn: Conn, kind: LogStreamErrorKind, code: LogStreamErrorCode, message: string): void {
    conn.refused = true;
    this.#dropPartial(conn);
    conn.held = undefined;
    conn.endPending = false;
    conn.socket.pause();
    this.counters.errors[kind]++;
    this.#send(conn, encodeError({ kind, code, message }));
    this.emit('client-error', { kind, code, message });
    conn.ended = true;
    this.#pendingAcks.set(conn, conn.seq);
    this.#scheduleFlush();
  }

  #onEnd(conn: Conn): void {
    conn.ended = true;
    conn.splitter.end(conn.sink);
    this.#dropPartial(conn);
    // Keep our side open until the last acks are out; #flush sends them.
    this.#scheduleFlush();
    this.#pendingAcks.set(conn, conn.seq);
  }

  #onLine(conn: Conn, line: Buffer): void {
    if (conn.finished || conn.refused) return;
    if (conn.daemon === undefined) {
      if (line[0] !== 0x7b /* { */) {
        const name = line.toString('utf8');
        const problem = checkDaemonName(name);
        if (problem !== undefined) {
          // Answered once; whatever else the peer sends is not read.
          this.#reject(conn, 'client', 'INVALID_HANDSHAKE', `invalid handshake: ${problem}`, undefined);
          this.#finish(conn);
          return;
        }
        conn.daemon = name;
        this.#send(conn, encodeReady(this.maxLineBytes));
        return;
      }
      conn.daemon = '';
    }
    const seq = ++conn.seq;
    this.counters.messagesReceived++;
    if (conn.rateKey !== undefined && this.#rateLimited(conn)) return;
    const scan = this.#scan;
    if (scanCanonicalEntry(line, scan)) {
      if (this.#dedupe !== undefined && !this.#dedupe.addBytes(line, scan.idStart, scan.idEnd)) {
        this.counters.duplicatesDropped++;
        return;
      }
      // Zero-copy: a view of the socket's chunk, kept until the batch is written.
      this.#lines.push(line);
      this.#levels.push(scan.level as LogLevel);
      this.#pendingBytes += line.length + 1;
      return;
    }
    this.#slowLine(conn, line, seq);
  }

  /**
   * Counts a line of `conn` against its sender's rate limit: true when it is over the burst
   * (dropped, counted; the ack still covers it, so the client does not send it again). The
   * connection is told once per window.
   */
  #rateLimited(conn: Conn): boolean {
    const limiter = this.#rateLimiter as RateLimiter;
    const window = limiter.take(conn.rateKey as string, conn.lastDataAt);
    if (window === 0) return false;
    this.counters.intakeDropped.rate_limited++;
    if (window !== conn.rateTold) {
      conn.rateTold = window;
      this.#send(
        conn,
        encodeError({
          kind: 'server',
          code: 'RATE_LIMITED',
          message: `${conn.rateKey} sent more than rate_limit_burst ${limiter.burst} entries within rate_limit_interval_ms ${limiter.intervalMs}: the rest of this interval's entries are acknowledged and not stored`,
        }),
      );
    }
    return true;
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
    const bytes = Buffer.from(encodeEntry(entry));
    this.#lines.push(bytes);
    this.#levels.push(entry.level);
    this.#pendingBytes += bytes.length + 1;
    this.#scheduleFlush();
  }

  /** Lines that are not complete canonical entries: JSON.parse, check, complete, encode. */
  #slowLine(conn: Conn, line: Buffer, seq: number): void {
    const decoded = decodeEntryLine(line);
    if (!decoded.ok) {
      this.#reject(conn, 'serde', decoded.code, decoded.message, seq);
      return;
    }
    const { entry } = completeEntry(decoded.entry, { daemon: conn.daemon || this.#defaultDaemon, hostname: this.#hostname });
    if (this.#dedupe !== undefined && !this.#dedupe.add(entry.id)) {
      this.counters.duplicatesDropped++;
      return;
    }
    // Always the canonical encoding, never the bytes sent: they may have spaces, escapes or a key
    // twice (JSON.parse kept the last value; a reader keeping the first would see another entry),
    // and readers of the stored lines (dedupe after a restart among them) expect one layout.
    const bytes = Buffer.from(encodeEntry(entry));
    this.#lines.push(bytes);
    this.#levels.push(entry.level);
    this.#pendingBytes += bytes.length + 1;
  }

  #onOversize(conn: Conn, bytes: number): void {
    if (conn.daemon === undefined) conn.daemon = '';
    const seq = ++conn.seq;
    this.counters.messagesReceived++;
    this.#reject(conn, 'serde', 'LINE_TOO_LONG', `line of ${bytes} bytes exceeds max_line_bytes ${this.maxLineBytes}`, seq);
  }

  #reject(conn: Conn, kind: LogStreamErrorKind, code: LogStreamErrorCode, message: string, seq: number | undefined): void {
    this.counters.errors[kind]++;
    // One 64 KiB line of bad fields words thousands of issues: keep the answer small.
    if (message.length > MAX_ERROR_MESSAGE_CHARS) {
      message = `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}… (${message.length} characters in all)`;
    }
    // A peer that does not read its answers gets no more error frames until it does (they are
    // counted, and the acks still cover the lines): otherwise a stream of bad lines it never
    // reads the answers to would pile frames up in memory without bound.
    if (!conn.socket.writableNeedDrain) {
      this.#send(conn, encodeError(seq === undefined ? { kind, code, message } : { kind, code, message, seq }));
    }
    this.emit('client-error', { kind, code, message });
  }

  /**
   * Records that the lines `conn` completed so far are dealt with once the gathering batch is
   * stored; `started`: when the chunk that completed the latest of them began being read.
   */
  #note(conn: Conn, started: number, now: number): void {
    if (this.#batchStartedAt === 0) this.#batchStartedAt = started;
    this.#pendingAcks.set(conn, conn.seq);
    if (this.#lines.length >= MAX_BATCH_ENTRIES || this.#pendingBytes >= MAX_BATCH_BYTES || now - this.#batchStartedAt >= MAX_BATCH_MS) {
      this.#flush();
    } else this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#routesHeld) {
      // Held entries count against the in-flight bound too: past it, stop reading until the switch.
      if (this.#pendingBytes > this.#maxInflightBytes && !this.#paused) {
        this.#paused = true;
        this.counters.socketPauses++;
        for (const conn of this.#conns) conn.socket.pause();
      }
      return;
    }
    this.#batchStartedAt = 0;
    if (this.#pendingAcks.size === 0 && this.#lines.length === 0) return;
    const batch = new EntryBatch(this.#lines, this.#levels);
    const bytes = this.#pendingBytes;
    const item: Inflight = { batch, bytes, acks: this.#pendingAcks, done: false };
    this.#lines = [];
    this.#levels = [];
    this.#pendingBytes = 0;
    this.#pendingAcks = new Map();
    this.#inflight.push(item);
    this.#inflightBytes += bytes;
    const stored = batch.length === 0 ? [] : this.routes.map((route) => route.enqueue(batch));
    void Promise.all(stored).then(() => {
      item.done = true;
      this.counters.messagesProcessed += batch.length;
      this.#release();
    });
    this.#checkPressure();
  }

  /** Sends the acks of completed batches, oldest first, never one ahead of an older batch. */
  #release(): void {
    while (this.#inflight.length > 0 && (this.#inflight[0] as Inflight).done) {
      const item = this.#inflight.shift() as Inflight;
      this.#inflightBytes -= item.bytes;
      for (const [conn, seq] of item.acks) {
        if (seq > conn.acked) {
          conn.acked = seq;
          this.#sendAck(conn);
        }
        if (conn.ended && conn.acked >= conn.seq && this.#state === 'listening') this.#finish(conn);
      }
    }
    this.#checkPressure();
  }

  /** Pauses `conn` until the other connections' data of this turn of the event loop is read. */
  #yieldTurn(conn: Conn): void {
    conn.turnPaused = true;
    conn.socket.pause();
    this.#turnPaused.push(conn);
    if (this.#turnPaused.length > 1) return;
    // setImmediate runs after this turn's reads.
    setImmediate(() => {
      const paused = this.#turnPaused;
      this.#turnPaused = [];
      for (const c of paused) {
        c.turnPaused = false;
        c.turnMs = 0;
        if (c.refused) continue;
        const held = c.held;
        if (held !== undefined) {
          // Read even under backpressure: its bytes are in memory already, and it keeps order.
          c.held = undefined;
          this.#feed(c, held);
        }
        if (c.turnPaused || c.held !== undefined) continue;
        if (c.endPending) {
          c.endPending = false;
          this.#onEnd(c);
        } else if (!this.#paused) {
          // Under backpressure the sockets stay paused; #resume wakes them all.
          c.socket.resume();
        }
      }
    });
  }

  #checkPressure(): void {
    const over = this.#inflightBytes > this.#maxInflightBytes || this.routes.some((r) => r.full);
    if (over && !this.#paused) {
      this.#paused = true;
      this.counters.socketPauses++;
      for (const conn of this.#conns) conn.socket.pause();
    } else if (!over && this.#paused && this.#inflightBytes <= this.#maxInflightBytes / 2) {
      this.#resume();
    }
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#resumedAt = Date.now();
    // A connection waiting for its turn is resumed when the turn comes.
    for (const conn of this.#conns) if (!conn.turnPaused && conn.held === undefined && !conn.refused) conn.socket.resume();
  }

  /** Ends the server's side of `conn`; destroys it if the peer has not closed within lingerMs. */
  #finish(conn: Conn): void {
    if (conn.finished) return;
    conn.finished = true;
    const socket = conn.socket;
    socket.end();
    // A connection the server refused has its answers in the peer's queue once they are flushed
    // (a Unix socket keeps them readable after we close): no need to keep it, and what it holds
    // (a paused socket keeps one more read buffered), for the whole linger.
    if (conn.refused) socket.once('finish', () => socket.destroy());
    conn.lingerTimer = setTimeout(() => socket.destroy(), this.#lingerMs).unref();
  }

  #send(conn: Conn, frame: string): void {
    if (!conn.socket.writable) return;
    conn.socket.write(frame);
  }

  /**
   * Sends the cumulative ack of `conn`. While the peer is not reading (the socket's buffer is
   * over its high-water mark) the ack is owed instead, and the latest one goes out on 'drain':
   * acks are cumulative, so skipping some loses nothing, and a client that only writes cannot
   * grow the server's memory. The last ack of an ended connection is always written.
   */
  #sendAck(conn: Conn): void {
    const socket = conn.socket;
    if (!socket.writable) return;
    if (socket.writableNeedDrain && !conn.ended) {
      if (!conn.ackOwed) {
        conn.ackOwed = true;
        socket.once('drain', () => {
          conn.ackOwed = false;
          this.#sendAck(conn);
        });
      }
      return;
    }
    socket.write(encodeAck(conn.acked));
  }
}

/** Descriptors kept free for backends (rotation, compression) and for refusing a connection. */
const FD_RESERVE = 32;

/**
 * How many more descriptors this process may open, less {@link FD_RESERVE}: the soft
 * `Max open files` of /proc/self/limits minus those open now. Undefined where /proc is missing.
 */
async function fileDescriptorRoom(): Promise<number | undefined> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    if (soft === undefined || soft === 'unlimited') return undefined;
    const open = (await readdir('/proc/self/fd')).length;
    return Math.max(0, Number(soft) - open - FD_RESERVE);
  } catch {
    return undefined;
  }
}

/** The errno name (`ENOSPC`…) of an error or of the first of its causes that has one. */
function errnoOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

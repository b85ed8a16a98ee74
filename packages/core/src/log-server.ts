import { isUtf8 } from 'node:buffer';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { EventEmitter } from 'node:events';
import { chmod, lstat, unlink } from 'node:fs/promises';
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
import { BackendRoute, type BackendRouteOptions } from './backend-route';
import { DedupeWindow } from './dedupe-window';
import { completeEntry } from './enrich';
import { scanCanonicalEntry, type ScannedEntry } from './fast-scan';

/** Default maximum line length, in bytes. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

/** Options of {@link LogServer}. */
export interface LogServerOptions {
  /** Unix socket path. Default `/tmp/logstream.sock`. */
  socketPath?: string;
  /** Backends, each with its own level filter and bounded queue. */
  backends: readonly (BackendRouteOptions | BackendRoute)[];
  /** Connections served at once; one more gets an error line and is closed. Default 1000. */
  maxConnections?: number;
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
}

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
}

interface Conn {
  socket: Socket;
  splitter: LineSplitter;
  /** Handshake state: undefined until the first line. */
  daemon: string | undefined;
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
/** Longest message in an error frame, in characters. */
const MAX_ERROR_MESSAGE_CHARS = 1024;

/**
 * The LogStream server: accepts connections on a Unix socket, validates and completes entries,
 * routes them in batches to backends, and acknowledges them once every backend stored them.
 *
 * Events: `'listening'`, `'connection'` (count), `'error'` (Error: a backend write failed; the
 * write is retried), `'client-error'` ({ kind, code, message }: a bad line or handshake),
 * `'close'`.
 */
export class LogServer extends EventEmitter {
  readonly socketPath: string;
  readonly maxConnections: number;
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
  };
  readonly #hostname: string;
  readonly #defaultDaemon: string;
  readonly #socketMode: number;
  readonly #shutdownTimeoutMs: number;
  readonly #maxInflightBytes: number;
  readonly #readBufferBytes: number;
  readonly #lingerMs: number;
  readonly #dedupe: DedupeWindow | undefined;
  readonly #scan: ScannedEntry = { level: 0, idStart: 0, idEnd: 0 };
  #server: Server | undefined;
  #conns = new Set<Conn>();
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
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#hostname = options.hostname ?? osHostname();
    this.#defaultDaemon = options.defaultDaemon ?? 'unknown';
    this.#socketMode = options.socketMode ?? 0o660;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
    this.#maxInflightBytes = options.maxInflightBytes ?? 16 * 1024 * 1024;
    this.#readBufferBytes = options.readBufferBytes ?? 65536;
    this.#lingerMs = options.lingerMs ?? 5000;
    const window = options.dedupeWindow ?? 65536;
    this.#dedupe = window > 0 ? new DedupeWindow(window) : undefined;
    this.routes = options.backends.map((r) => (r instanceof BackendRoute ? r : new BackendRoute(r)));
    for (const route of this.routes) {
      route.on('error', (error: Error) => {
        this.counters.errors.io++;
        this.emit('error', new LogStreamError('io', `backend ${route.backend.name}: ${error.message}`, { cause: error, code: 'BACKEND' }));
      });
    }
  }

  /** Connections open now. */
  get activeConnections(): number {
    return this.#conns.size;
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
    for (const route of this.routes) {
      try {
        await route.backend.open();
      } catch (error) {
        throw new LogStreamError('io', `backend ${route.backend.name} failed to open: ${(error as Error).message}`, {
          cause: error,
          code: 'BACKEND',
        });
      }
    }
    for (const route of this.routes) {
      const ids = await route.backend.recentIds?.();
      if (ids !== undefined) this.rememberIds(ids);
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
    server.on('error', (error) => this.emit('error', error));
    await chmod(this.socketPath, this.#socketMode);
    this.#state = 'listening';
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
    const next = backends.map((r) => (r instanceof BackendRoute ? r : new BackendRoute(r)));
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
          await route.backend.open();
          opened.push(route);
        }
      } catch (error) {
        for (const route of opened) await route.backend.close().catch(() => undefined);
        throw new LogStreamError('io', `backend ${next[opened.length]?.backend.name} failed to open: ${(error as Error).message}`, {
          cause: error,
          code: 'BACKEND',
        });
      }
      for (const route of next) {
        route.on('error', (error: Error) => {
          this.counters.errors.io++;
          this.emit(
            'error',
            new LogStreamError('io', `backend ${route.backend.name}: ${error.message}`, { cause: error, code: 'BACKEND' }),
          );
        });
      }
      // `routes` is readonly to users; this method is the one place that replaces it.
      (this as { routes: readonly BackendRoute[] }).routes = next;
      this.#routesHeld = false;
      this.#flush();
      const closeOld = async () => {
        for (const route of old) {
          await route.idle();
          await route.backend.close().catch((error: unknown) => this.emit('error', error));
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
    // Drain: a connection is done when its client closes its side or has been quiet a while.
    while (Date.now() < deadline) {
      const now = Date.now();
      let busy = false;
      for (const conn of this.#conns) if (!conn.ended && now - conn.lastDataAt < 200) busy = true;
      if (!busy) break;
      await sleep(25);
    }
    this.#flush();
    const stored = Promise.all(this.routes.map((r) => r.idle()));
    const timer = setTimeout(() => this.routes.forEach((r) => r.abandon()), Math.max(0, deadline - Date.now()));
    await stored;
    clearTimeout(timer);
    for (const conn of this.#conns) conn.socket.end();
    await sleep(0);
    for (const conn of this.#conns) conn.socket.destroy();
    for (const socket of this.#refused) socket.destroy();
    await closed;
    for (const route of this.routes) {
      try {
        await route.backend.close();
      } catch (error) {
        this.emit('error', error);
      }
    }
    await unlink(this.socketPath).catch(() => undefined);
    this.#state = 'closed';
    this.emit('close');
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
    if (this.#state !== 'listening' || this.#conns.size >= this.maxConnections) {
      this.counters.connectionsRejected++;
      this.counters.errors.server++;
      const message =
        this.#state === 'listening' ? `too many connections (max_connections ${this.maxConnections})` : 'server is shutting down';
      socket.on('error', () => undefined);
      this.#refused.add(socket);
      socket.once('close', () => this.#refused.delete(socket));
      // The peer may never close its side (allowHalfOpen): do not let it hold the server.
      setTimeout(() => socket.destroy(), 1000).unref();
      socket.end(encodeError({ kind: 'server', code: this.#state === 'listening' ? 'TOO_MANY_CONNECTIONS' : 'SHUTTING_DOWN', message }));
      return;
    }
    const conn: Conn = {
      socket,
      splitter: new LineSplitter(this.maxLineBytes),
      daemon: undefined,
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
      if (conn.finished) return;
      // Data after the pause that held the rest of a chunk: kept behind it, in order.
      if (conn.held !== undefined) conn.held = Buffer.concat([conn.held, chunk]);
      else this.#feed(conn, chunk);
    });
    socket.on('end', () => {
      if (conn.held !== undefined) conn.endPending = true;
      else this.#onEnd(conn);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.ended = true;
      this.#conns.delete(conn);
    });
    if (this.#paused) socket.pause();
    this.emit('connection', this.#conns.size);
  }

  /** Splits and handles a chunk of `conn` within its turn; what does not fit is held for the next. */
  #feed(conn: Conn, chunk: Buffer): void {
    const started = performance.now();
    this.#turnDeadline = started + TURN_MS - conn.turnMs;
    const seqBefore = conn.seq;
    const taken = conn.splitter.push(chunk, conn.sink);
    const now = performance.now();
    conn.turnMs += now - started;
    // One ack record per chunk, not per line: it covers every line the chunk completed.
    if (conn.seq > seqBefore) this.#note(conn, started, now);
    if (taken < chunk.length) conn.held = chunk.subarray(taken);
    if ((conn.held !== undefined || conn.turnMs >= TURN_MS) && !conn.turnPaused) this.#yieldTurn(conn);
  }

  #onEnd(conn: Conn): void {
    conn.ended = true;
    conn.splitter.end(conn.sink);
    // Keep our side open until the last acks are out; #flush sends them.
    this.#scheduleFlush();
    this.#pendingAcks.set(conn, conn.seq);
  }

  #onLine(conn: Conn, line: Buffer): void {
    if (conn.finished) return;
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

  /** Lines that are not complete canonical entries: JSON.parse, check, complete, encode. */
  #slowLine(conn: Conn, line: Buffer, seq: number): void {
    const decoded = decodeEntryLine(line);
    if (!decoded.ok) {
      this.#reject(conn, 'serde', decoded.code, decoded.message, seq);
      return;
    }
    const { entry, canonical } = completeEntry(
      decoded.entry,
      { daemon: conn.daemon || this.#defaultDaemon, hostname: this.#hostname },
      !decoded.levelWasName,
    );
    if (this.#dedupe !== undefined && !this.#dedupe.add(entry.id)) {
      this.counters.duplicatesDropped++;
      return;
    }
    // Original bytes only when they are valid UTF-8 (JSON.parse replaced invalid sequences).
    const bytes = canonical && isUtf8(line) ? Buffer.from(line) : Buffer.from(encodeEntry(entry));
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
    // A connection waiting for its turn is resumed when the turn comes.
    for (const conn of this.#conns) if (!conn.turnPaused && conn.held === undefined) conn.socket.resume();
  }

  /** Ends the server's side of `conn`; destroys it if the peer has not closed within lingerMs. */
  #finish(conn: Conn): void {
    if (conn.finished) return;
    conn.finished = true;
    const socket = conn.socket;
    socket.end();
    setTimeout(() => socket.destroy(), this.#lingerMs).unref();
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

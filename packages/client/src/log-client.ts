import { EventEmitter } from 'node:events';
import { readFileSync, statSync, writeSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { isMainThread } from 'node:worker_threads';
import { EntryEncoder, type EntryOrigin } from './entry-encoder';
import { EntryPages } from './entry-pages';
import { compileRedact, flattenFields, isFlat, messageText, type FlatFields, type RedactOptions, type Redactor } from './field-flattener';
import {
  Backoff,
  DEFAULT_SOCKET_PATH,
  LogStreamError,
  closedError,
  checkDaemonName,
  encodeHandshake,
  parseLogLevel,
  parseServerFrame,
  type ErrorFrame,
  type LogLevel,
  type LogLevelName,
} from '@logstream/protocol';

/** Client configuration (the spec's ClientConfig). */
export interface ClientConfig {
  /** Server socket. Default `$LOGSTREAM_SOCKET`, else `/tmp/logstream.sock`. */
  socketPath?: string;
  /** This daemon's name, sent in the handshake and in every entry. */
  daemonName: string;
  /** Entries less severe than this (level > minLevel) are dropped in the client. Default debug (7). */
  minLevel?: LogLevel | LogLevelName;
  /** Milliseconds for a connection attempt, and for `flush()`. Default 5000. */
  timeout?: number;
  /** Reconnect after the server goes away (backoff 100 ms, ×2, at most 5 s, with jitter). Default true. */
  autoReconnect?: boolean;
  /** Entries kept until the server acknowledges them (sent or not yet sent). Default 10000. */
  bufferSize?: number;
  /**
   * When the buffer is full: `block` (default) makes `log()` return a promise that resolves once
   * there is room (at most `bufferSize` more entries wait this way; past that they are dropped
   * and counted); `drop_newest` drops the new entry at once and counts it.
   */
  whenFull?: 'block' | 'drop_newest';
  /**
   * One-line warnings on stderr: a permission error on the socket (at once), the server's rate
   * limit dropping entries (once per interval), and entries lost at `close()` or at process exit
   * (how many, and why). Default true.
   */
  warnings?: boolean;
  /**
   * Field paths to censor (or remove), in pino's `redact` syntax: `['req.headers.authorization',
   * 'users[*].password']` or `{ paths, censor, remove }`. Matched against the flattened keys.
   */
  redact?: RedactOptions;
  /**
   * Users whose server this client talks to, besides root, this process's own user and the
   * `logstream` user: the owner of the socket file must be one of them, so that a process that
   * bound the socket path first (a squatter) never receives an entry. Default: none more;
   * `$LOGSTREAM_TRUSTED_UIDS` (comma-separated uids) adds to it.
   */
  trustedServerUids?: readonly number[];
}

/** An entry for {@link LogClient.logEntry}: made elsewhere or earlier, with its own time, pid and hostname. */
export interface ForeignEntry {
  level: LogLevel | LogLevelName;
  message?: string;
  /** Flattened like the fields of `log()`. */
  fields?: Record<string, unknown>;
  /** A Date, milliseconds since the epoch, or ISO text; default now. */
  timestamp?: Date | number | string;
  /** Default this process's. */
  pid?: number;
  /** Default this host's. */
  hostname?: string;
}

/** What a 'dropped' event gives as its reason. */
export type DropReason = 'buffer_full' | 'closed';

/** The events of a {@link LogClient}, with their arguments. */
export interface LogClientEvents {
  /** Connected and past the handshake. */
  connect: [];
  /** The connection was lost (the error when it was not a clean close). */
  disconnect: [error: LogStreamError | undefined];
  /** The oldest `count` unacknowledged entries are now stored. */
  acked: [count: number];
  /** The server (or the client, for a bad level) refused an entry. */
  rejected: [frame: ErrorFrame];
  /** Entries dropped: the buffer was full (`drop_newest`, or too many waiting), or the client closed. */
  dropped: [count: number, reason: DropReason];
  /** After `log()` returned false: the caller may log again (as `drain()` resolves). */
  drain: [];
}

/** The arguments of a level method: `(message, fields?)`, `(fields, message?)` or `(error, message?)`. */
export type LogArgs =
  | [message: string, fields?: Record<string, unknown> | Error | string | number | boolean | bigint | null]
  | [fields: Record<string, unknown> | Error, message?: string];

/** Counters of a client. */
export interface ClientStats {
  /** Entries accepted by `log()` and buffered. */
  logged: number;
  /** Entries the server acknowledged. */
  acked: number;
  /** Entries the server refused (answered with an error line). */
  rejected: number;
  /** Entries dropped because the buffer was full. */
  droppedFull: number;
  /** Entries dropped by `minLevel`. */
  filtered: number;
  /** Entries resent after a reconnect. */
  resent: number;
  /** Successful reconnects. */
  reconnects: number;
}

const RESOLVED = Promise.resolve();

/** Unsent entries at which `log()` writes at once instead of at the end of the tick. */
const EAGER_WRITE_ENTRIES = 256;

type State = 'connecting' | 'ready' | 'waiting' | 'closed';

// Live clients, for the one process 'exit' listener (not one per client: a process may hold many).
const liveClients = new Set<LogClient>();
let exitHook: ((client: LogClient) => void) | undefined;
function onProcessExit(): void {
  for (const client of liveClients) exitHook?.(client);
}

/** The file descriptor under a connected Unix socket (libuv's pipe handle has one on POSIX). */
function socketFd(socket: Socket | undefined): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } } | undefined)?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Bytes Node and libuv still hold for `socket` (not yet in the kernel). */
function queuedBytes(socket: Socket): number {
  const q = (socket as unknown as { _handle?: { writeQueueSize?: unknown } })._handle?.writeQueueSize;
  return socket.writableLength + (typeof q === 'number' ? q : 0);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `buf` to a non-blocking fd, waiting out EAGAIN until `deadline` (ms since epoch). */
function writeAllSync(fd: number, buf: Uint8Array, deadline: number): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) throw error;
      // The server reads on: give it a millisecond (this runs in the 'exit' handler, where nothing else can).
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
}

const NEWLINE = new Uint8Array([0x0a]);

// LogChild reaches its client's private write through these (set in LogClient's static block).
let writeBound: (client: LogClient, bindings: FlatFields, level: LogLevel | LogLevelName, a: unknown, b: unknown) => boolean;
let childOf: (client: LogClient, bindings: FlatFields, more: Record<string, unknown>) => LogChild;

/**
 * Logs to a LogStream server. Every entry is kept until the server acknowledges it and resent
 * after a reconnect; the server drops repeats by id. Nothing it does throws into the application
 * while the server is away: `log()` never throws, `flush()` rejects only on timeout or close.
 *
 * Events: see {@link LogClientEvents}. There is no `'error'` event.
 */
export class LogClient extends EventEmitter<LogClientEvents> {
  readonly socketPath: string;
  readonly daemonName: string;
  readonly minLevel: LogLevel;
  readonly timeout: number;
  readonly autoReconnect: boolean;
  readonly bufferSize: number;
  readonly whenFull: 'block' | 'drop_newest';
  readonly stats: ClientStats = { logged: 0, acked: 0, rejected: 0, droppedFull: 0, filtered: 0, resent: 0, reconnects: 0 };
  readonly #encoder: EntryEncoder;
  #socket: Socket | undefined;
  #state: State = 'waiting';
  // Unacknowledged entries, oldest first, encoded into byte pages (see EntryPages).
  readonly #pages = new EntryPages();
  // Entries acknowledged on the current connection (the server's cumulative seq).
  #connAcked = 0;
  // Total ever logged/acked, to resolve flush() waiters.
  #loggedTotal = 0;
  #ackedTotal = 0;
  #flushWaiters: { upTo: number; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  // Entries encoded while the buffer was full (whenFull 'block'), admitted as acks make room.
  #roomWaiters: string[] = [];
  #writeScheduled = false;
  #waitingDrain = false;
  readonly #highWater: number;
  readonly #backoff = new Backoff();
  #retryTimer: NodeJS.Timeout | undefined;
  #recv = '';
  #everConnected = false;
  // The current socket got past the handshake (it stays true while a shutting-down server drains).
  #socketReady = false;
  #closing: Promise<void> | undefined;
  #connectWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  readonly #warnings: boolean;
  readonly #redact: Redactor | undefined;
  #needDrain = false;
  #drainPromise: Promise<void> | undefined;
  #resolveDrain: (() => void) | undefined;
  // While entries are pending this (ref'd) timer keeps the process alive, re-armed by every ack:
  // a script that ends with entries unacknowledged waits for them, at most `timeout` ms of silence.
  #holdTimer: NodeJS.Timeout | undefined;
  #gaveUp = false;
  // Why the last connection attempt failed: the errno error of the socket.
  #lastError: NodeJS.ErrnoException | undefined;
  #reportedPermission = false;
  #reportedUntrusted = false;
  readonly #trustedServerUids: readonly number[];

  /** Use {@link LogClient.connect} or {@link LogClient.withConfig}. */
  constructor(config: ClientConfig) {
    super();
    const problem = checkDaemonName(config.daemonName);
    if (problem !== undefined) throw new LogStreamError('client', problem, { code: 'INVALID_HANDSHAKE' });
    const minLevel = config.minLevel === undefined ? 7 : parseLogLevel(config.minLevel);
    if (minLevel === undefined) throw new LogStreamError('client', `minLevel: not a level: ${String(config.minLevel)}`);
    this.socketPath = config.socketPath ?? (process.env.LOGSTREAM_SOCKET || DEFAULT_SOCKET_PATH);
    this.#trustedServerUids = config.trustedServerUids ?? [];
    this.#redact = compileRedact(config.redact);
    this.daemonName = config.daemonName;
    this.#encoder = new EntryEncoder(config.daemonName);
    this.minLevel = minLevel;
    this.timeout = config.timeout ?? 5000;
    this.autoReconnect = config.autoReconnect ?? true;
    this.bufferSize = config.bufferSize ?? 10_000;
    this.whenFull = config.whenFull ?? 'block';
    this.#highWater = Math.max(1, Math.floor(this.bufferSize / 2));
    this.#warnings = config.warnings ?? true;
    if (liveClients.size === 0) process.on('exit', onProcessExit);
    liveClients.add(this);
  }

  static {
    exitHook = (client) => client.#onProcessExit();
    writeBound = (client, bindings, level, a, b) => client.#write(level, a, b, bindings);
    childOf = (client, bindings, more) => new LogChild(client, flattenFields(more, bindings, client.#redact));
  }

  /**
   * Connects with default settings. Resolves once the server is ready; when the server cannot
   * be reached and autoReconnect is on (the default), it resolves anyway and keeps trying, so a
   * daemon may start before the server.
   * @throws LogStreamError (kind `connection`) when autoReconnect is off and the server is unreachable
   */
  static connect(socketPath: string | undefined, daemonName: string): Promise<LogClient> {
    return LogClient.withConfig(socketPath === undefined ? { daemonName } : { socketPath, daemonName });
  }

  /**
   * Creates a client at once and connects in the background (no `await`, for CommonJS and for
   * transports): entries logged before the connection is up are buffered and sent when it is.
   * @throws LogStreamError (kind `client` or `config`) for a bad configuration
   */
  static create(config: ClientConfig): LogClient {
    const client = new LogClient(config);
    client.#firstConnect().catch(() => {
      if (!client.autoReconnect) {
        client.#state = 'closed';
        client.#forget();
      }
    });
    return client;
  }

  /** Like {@link LogClient.connect}, with a full configuration. */
  static async withConfig(config: ClientConfig): Promise<LogClient> {
    const client = new LogClient(config);
    try {
      await client.#firstConnect();
    } catch (error) {
      if (!client.autoReconnect) {
        client.#state = 'closed';
        client.#forget();
        throw error;
      }
    }
    return client;
  }

  /** True while connected and past the handshake. */
  get connected(): boolean {
    return this.#state === 'ready';
  }

  /** Entries held until acknowledged (sent or not). */
  get buffered(): number {
    return this.#pages.length;
  }

  /**
   * Logs one entry; never throws. Arguments as in pino or as in the spec: `(message, fields?)`,
   * `(fields, message?)`, or `(error, message?)` (the error goes under `err`, its message is the
   * entry's message when none is given). Fields are flattened to strings (see the README).
   * Returns, like a stream's `write()`, whether the caller may go on: false once the buffer is
   * half full while connected (or the entry had to wait for room, or was dropped); then
   * `await log.drain()` (or `once(log, 'drain')`) before logging more.
   */
  log(level: LogLevel | LogLevelName, messageOrFields?: unknown, fieldsOrMessage?: unknown): boolean {
    return this.#write(level, messageOrFields, fieldsOrMessage, undefined);
  }

  /** Level 0. */
  emergency(...args: LogArgs): boolean {
    return this.#write(0, args[0], args[1], undefined);
  }
  /** Level 1. */
  alert(...args: LogArgs): boolean {
    return this.#write(1, args[0], args[1], undefined);
  }
  /** Level 2. */
  critical(...args: LogArgs): boolean {
    return this.#write(2, args[0], args[1], undefined);
  }
  /** Level 2 (critical), as pino's `fatal`. */
  fatal(...args: LogArgs): boolean {
    return this.#write(2, args[0], args[1], undefined);
  }
  /** Level 3. */
  error(...args: LogArgs): boolean {
    return this.#write(3, args[0], args[1], undefined);
  }
  /** Level 4. */
  warning(...args: LogArgs): boolean {
    return this.#write(4, args[0], args[1], undefined);
  }
  /** Level 4 (warning), as pino's and winston's `warn`. */
  warn(...args: LogArgs): boolean {
    return this.#write(4, args[0], args[1], undefined);
  }
  /** Level 5. */
  notice(...args: LogArgs): boolean {
    return this.#write(5, args[0], args[1], undefined);
  }
  /** Level 6. */
  info(...args: LogArgs): boolean {
    return this.#write(6, args[0], args[1], undefined);
  }
  /** Level 7. */
  debug(...args: LogArgs): boolean {
    return this.#write(7, args[0], args[1], undefined);
  }
  /** Level 7 (debug), as pino's `trace`. */
  trace(...args: LogArgs): boolean {
    return this.#write(7, args[0], args[1], undefined);
  }

  /**
   * A logger whose entries all carry `bindings` (flattened and redacted like fields; an entry's
   * own fields win on the same key). It shares this client's connection and buffer.
   */
  child(bindings: Record<string, unknown>): LogChild {
    return new LogChild(this, flattenFields(bindings, undefined, this.#redact));
  }

  /**
   * Resolves when the caller may log again after `log()` returned false: once less than half
   * the buffer is in use and no entry waits for room, or while not connected once no entry
   * waits for room (entries are buffered for later), or once the client is closed. Never rejects.
   */
  drain(): Promise<void> {
    if (this.#roomy() || this.#state === 'closed') return RESOLVED;
    this.#drainPromise ??= new Promise<void>((resolve) => (this.#resolveDrain = resolve));
    return this.#drainPromise;
  }

  #roomy(): boolean {
    return this.#roomWaiters.length === 0 && (this.#state !== 'ready' || this.#pages.length < this.#highWater);
  }

  /** Resolves drain() waiters and emits 'drain' when the caller may go on (after a false). */
  #checkDrain(): void {
    if (!this.#needDrain || !(this.#roomy() || this.#state === 'closed')) return;
    this.#needDrain = false;
    const resolve = this.#resolveDrain;
    this.#drainPromise = undefined;
    this.#resolveDrain = undefined;
    resolve?.();
    this.emit('drain');
  }

  /**
   * Logs one entry made elsewhere or earlier, keeping its own time, pid and hostname (as the pino
   * and winston transports do). Same return value and flattening as {@link LogClient.log}.
   */
  logEntry(entry: ForeignEntry): boolean {
    let origin: EntryOrigin | undefined;
    const t = entry.timestamp;
    const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : typeof t === 'string' ? Date.parse(t) : Number.NaN;
    if (Number.isFinite(ms)) origin = { timestamp: new Date(ms).toISOString() };
    if (typeof entry.pid === 'number' && Number.isSafeInteger(entry.pid) && entry.pid >= 0) (origin ??= {}).pid = entry.pid;
    if (typeof entry.hostname === 'string' && entry.hostname !== '') (origin ??= {}).hostname = entry.hostname;
    return this.#write(entry.level, entry.message ?? '', entry.fields, undefined, origin);
  }

  #write(level: LogLevel | LogLevelName, a: unknown, b: unknown, bindings: FlatFields | undefined, origin?: EntryOrigin): boolean {
    const lvl = typeof level === 'number' && level >= 0 && level <= 7 && Number.isInteger(level) ? level : parseLogLevel(level);
    if (lvl === undefined) {
      this.stats.rejected++;
      this.emit('rejected', { type: 'error', kind: 'client', code: 'INVALID_ENTRY', message: `not a level: ${messageText(level)}` });
      return true;
    }
    if (lvl > this.minLevel) {
      this.stats.filtered++;
      return true;
    }
    if (this.#state === 'closed' || this.#closing !== undefined) {
      this.#drop(1, 'closed');
      return false;
    }
    let message: string;
    let fields: Record<string, unknown> | undefined;
    try {
      [message, fields] = this.#parseArgs(a, b, bindings);
    } catch (error) {
      // Only a bizarre value gets here (the flattening catches its own): the entry still goes.
      [message, fields] = [messageText(a), { _unprintable: messageText(error) }];
    }
    const held = this.#pages.length;
    if (held < this.bufferSize) {
      if (origin === undefined) this.#pages.appendEntry(this.#encoder, lvl, message, fields);
      else this.#pages.append(this.#encoder.encodeLine(lvl, message, fields, origin));
      this.#appended();
      if (held + 1 < this.#highWater || this.#state !== 'ready') return true;
      this.#needDrain = true;
      return false;
    }
    this.#needDrain = true;
    if (this.whenFull === 'block' && this.#roomWaiters.length < this.bufferSize) {
      // Encoded now: its id and timestamp are those of the log() call.
      this.#roomWaiters.push(this.#encoder.encodeLine(lvl, message, fields, origin));
      return false;
    }
    this.#drop(1, 'buffer_full');
    return false;
  }

  /** The message and the flat fields of a call's two arguments, in either order. */
  #parseArgs(a: unknown, b: unknown, bindings: FlatFields | undefined): [string, Record<string, unknown> | undefined] {
    let message: string;
    let fields: unknown;
    if (typeof a === 'string') {
      message = a;
      if (b !== undefined && b !== null && typeof b !== 'object') {
        // `log.info('a', 'b')`: joined as console.log does, not split into one field per character.
        message = `${message} ${messageText(b)}`;
      } else if (b !== null && typeof b === 'object' && (b instanceof Error || Object.prototype.toString.call(b) === '[object Error]')) {
        fields = { err: b };
      } else {
        fields = b;
      }
    } else if (typeof a === 'object' && a !== null) {
      fields = a instanceof Error || Object.prototype.toString.call(a) === '[object Error]' ? { err: a } : a;
      message = typeof b === 'string' ? b : b === undefined ? (fields === a ? '' : messageText(a)) : messageText(b);
    } else {
      message = messageText(a);
      fields = b;
    }
    if (fields === undefined || fields === null) {
      return [message, bindings];
    }
    if (bindings === undefined && this.#redact === undefined && typeof fields === 'object' && isFlat(fields)) {
      return [message, fields as Record<string, unknown>];
    }
    return [message, flattenFields(fields, bindings, this.#redact)];
  }
  /**
   * Resolves when every entry logged before the call is acknowledged by the server.
   * @throws LogStreamError (kind `connection`, code `TIMEOUT`) after `timeout` ms; (kind `io`,
   *   code `CLOSED`) when the client is closed with entries unacknowledged
   */
  flush(): Promise<void> {
    const upTo = this.#loggedTotal + this.#roomWaiters.length;
    if (this.#ackedTotal >= upTo) return RESOLVED;
    // Closed: nothing more will be acknowledged.
    if (this.#state === 'closed') return Promise.reject(closedError('client'));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#flushWaiters = this.#flushWaiters.filter((w) => w.timer !== timer);
        reject(
          new LogStreamError(
            'connection',
            `flush timed out after ${this.timeout} ms with ${upTo - this.#ackedTotal} entries unacknowledged (server ${this.#state === 'ready' ? 'connected' : 'unreachable'})`,
            { code: 'TIMEOUT' },
          ),
        );
      }, this.timeout);
      // Ref'd: `await log.flush()` settles (the process does not just end under it, exit code 13 in ESM).
      this.#flushWaiters.push({ upTo, resolve, reject, timer });
    });
  }

  /** Flushes (within `timeout`), then closes the connection. Idempotent; never rejects. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.flush();
      } catch {
        // Entries still unacknowledged are counted as dropped below.
      }
      const left = this.buffered + this.#roomWaiters.length;
      if (left > 0) {
        this.#drop(left, 'closed');
        this.#warnLost(left, 'at close', this.#lossCause());
      }
      this.#roomWaiters = [];
      this.#state = 'closed';
      this.#forget();
      if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
      const socket = this.#socket;
      this.#socket = undefined;
      if (socket !== undefined && !socket.destroyed) {
        await new Promise<void>((resolve) => {
          // Ref'd, so that close() settles even if the server never closes its side.
          const timer = setTimeout(() => socket.destroy(), 1000);
          socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          socket.end();
        });
      }
      for (const w of this.#flushWaiters) {
        clearTimeout(w.timer);
        w.reject(closedError('client'));
      }
      this.#flushWaiters = [];
      this.#checkDrain();
    })();
    return this.#closing;
  }

  /** Not held open any more, and nothing to do at process exit. */
  #forget(): void {
    if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    liveClients.delete(this);
    if (liveClients.size === 0) process.off('exit', onProcessExit);
  }

  /**
   * Keeps the process alive while entries are pending (with a ref'd timer, re-armed by acks, so
   * at most `timeout` ms without progress), and lets it end when nothing is: the socket itself
   * never holds the process, except while `connect()` is awaited.
   */
  #updateHold(): void {
    const pending = this.#state !== 'closed' && this.#pages.length + this.#roomWaiters.length > 0;
    if (!pending) {
      this.#gaveUp = false;
      if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer);
      this.#holdTimer = undefined;
    } else if (this.#holdTimer === undefined && !this.#gaveUp) {
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = undefined;
        this.#gaveUp = true;
      }, this.timeout);
    }
    const socket = this.#socket;
    if (socket !== undefined) {
      if (this.#connectWaiters.length > 0) socket.ref();
      else socket.unref();
    }
  }

  /** Why pending entries are not stored, for the loss line. */
  #lossCause(): string {
    if (this.#state === 'ready') return `no acknowledgement from the server within ${this.timeout} ms`;
    const e = this.#lastError;
    if (e?.code === 'EACCES' || e?.code === 'EPERM') return `${e.code} on ${this.socketPath}`;
    return e?.code !== undefined ? `server unreachable: ${e.code} on ${this.socketPath}` : `server unreachable at ${this.socketPath}`;
  }

  #warn(text: string): void {
    if (!this.#warnings) return;
    const line = `logstream client "${this.daemonName}": ${text}\n`;
    // A worker's process.stderr goes through its parent's loop, which is blocked while pino
    // ends its transport's worker at exit: write to the fd itself.
    if (isMainThread) process.stderr.write(line);
    else {
      try {
        writeSync(2, line);
      } catch {
        // stderr closed or full: nothing else to tell.
      }
    }
  }

  #warnLost(count: number, when: string, cause: string): void {
    this.#warn(`${count} entr${count === 1 ? 'y' : 'ies'} not stored ${when} (${cause})`);
  }

  /**
   * At process exit (process.exit(), an uncaught exception, or the loop running dry while the
   * server stays away): what is not yet sent goes to the socket synchronously when connected (as
   * pino's flushSync does); else the loss is reported.
   */
  #onProcessExit(): void {
    const pending = this.#pages.length + this.#roomWaiters.length;
    if (this.#state === 'closed' || pending === 0) return;
    const socket = this.#socket;
    const fd = socketFd(socket);
    if (this.#state === 'ready' && socket !== undefined && fd !== undefined) {
      const deadline = Date.now() + this.timeout;
      try {
        if (queuedBytes(socket) > 0) {
          // Part of a line may be in the kernel already: end it (the server refuses that line)
          // and send every unacknowledged entry again; the server drops repeats by id.
          writeAllSync(fd, NEWLINE, deadline);
          this.#pages.rewind();
        }
        let chunk: Buffer | undefined;
        while ((chunk = this.#pages.nextChunk()) !== undefined) writeAllSync(fd, chunk, deadline);
        for (const line of this.#roomWaiters) writeAllSync(fd, Buffer.from(line), deadline);
        return;
      } catch (error) {
        this.#warnLost(pending, 'at exit', `${(error as NodeJS.ErrnoException).code ?? String(error)} writing to ${this.socketPath}`);
        return;
      }
    }
    this.#warnLost(pending, 'at exit', this.#lossCause());
  }

  /** An entry was appended to the pages. */
  #appended(): void {
    this.#loggedTotal++;
    this.stats.logged++;
    if (this.#holdTimer === undefined && !this.#gaveUp) this.#updateHold();
    // A burst logged without yielding goes out as it grows, so the server works in parallel.
    if (this.#pages.unsent >= EAGER_WRITE_ENTRIES) this.#writeOut();
    else this.#scheduleWrite();
  }

  #drop(count: number, reason: 'buffer_full' | 'closed'): void {
    this.stats.droppedFull += count;
    this.emit('dropped', count, reason);
  }

  #scheduleWrite(): void {
    if (this.#writeScheduled || this.#state !== 'ready') return;
    this.#writeScheduled = true;
    setImmediate(() => {
      this.#writeScheduled = false;
      this.#writeOut();
    });
  }

  /** Writes buffered, unsent entries (views of the pages) until the socket pushes back. */
  #writeOut(): void {
    const socket = this.#socket;
    if (socket === undefined || this.#state !== 'ready' || this.#waitingDrain) return;
    let chunk: Buffer | undefined;
    while ((chunk = this.#pages.nextChunk()) !== undefined) {
      if (!socket.write(chunk)) {
        this.#waitingDrain = true;
        socket.once('drain', () => {
          this.#waitingDrain = false;
          this.#writeOut();
        });
        return;
      }
    }
  }

  #firstConnect(): Promise<void> {
    const attempt = new Promise<void>((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    this.#open();
    return attempt;
  }

  #open(): void {
    if (this.#state === 'closed') return;
    this.#state = 'connecting';
    this.#socketReady = false;
    this.#recv = '';
    this.#waitingDrain = false;
    const socket = createConnection(this.socketPath);
    this.#socket = socket;
    this.#updateHold();
    socket.setEncoding('utf8');
    const timer = setTimeout(
      () =>
        socket.destroy(
          new LogStreamError('connection', `no answer from ${this.socketPath} within ${this.timeout} ms`, { code: 'TIMEOUT' }),
        ),
      this.timeout,
    );
    timer.unref();
    socket.once('connect', () => {
      // Nothing is written before the server is known to run as a trusted user.
      const untrusted = this.#untrustedServer();
      if (untrusted !== undefined) {
        if (!this.#reportedUntrusted) {
          this.#reportedUntrusted = true;
          this.#warn(untrusted.message);
        }
        socket.destroy(untrusted);
        return;
      }
      socket.write(encodeHandshake(this.daemonName));
    });
    socket.on('data', (data: string) => this.#onData(data, timer));
    // Kept as the cause of the close's error (e.g. `connect ENOENT <path>`).
    let lastError: Error | undefined;
    socket.on('error', (e: NodeJS.ErrnoException) => {
      lastError = e;
      this.#lastError = e;
      if ((e.code === 'EACCES' || e.code === 'EPERM') && !this.#reportedPermission) {
        // Not "not up yet": nobody fixes this by waiting, so say it now.
        this.#reportedPermission = true;
        this.#warn(`${e.code} on ${this.socketPath}: no permission to connect to the LogStream server (entries are kept, and it retries)`);
      }
    });
    socket.on('close', (hadError) => {
      clearTimeout(timer);
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      const wasReady = this.#socketReady;
      this.#socketReady = false;
      if (this.#state !== 'closed') this.#state = 'waiting';
      const error = new LogStreamError(
        'connection',
        `cannot reach LogStream server at ${this.socketPath}`,
        lastError === undefined ? { code: 'NOT_CONNECTED' } : { code: 'NOT_CONNECTED', cause: lastError },
      );
      for (const w of this.#connectWaiters) w.reject(error);
      this.#connectWaiters = [];
      this.#updateHold();
      if (wasReady) this.emit('disconnect', hadError ? error : undefined);
      // Callers waiting for room go on while the server is away: their entries are buffered.
      this.#checkDrain();
      if (this.#state === 'waiting' && this.autoReconnect) this.#scheduleReconnect();
    });
  }

  /**
   * Why the server behind the socket is not to be trusted, or undefined: the socket file's owner
   * must be root, this process's user, the `logstream` user or one of `trustedServerUids`. (The
   * file is looked at once connected: a squatter's socket is its own file, owned by it.)
   */
  #untrustedServer(): LogStreamError | undefined {
    if (process.platform === 'win32' || process.getuid === undefined) return undefined;
    let owner: number;
    try {
      owner = statSync(this.socketPath).uid;
    } catch {
      return undefined; // gone already: the connection fails on its own
    }
    const trusted = trustedUids(this.#trustedServerUids);
    if (trusted.has(owner)) return undefined;
    return new LogStreamError(
      'connection',
      `refusing the LogStream server at ${this.socketPath}: its socket belongs to uid ${owner}, not to root, this user (uid ${process.getuid()}) or logstream; set trustedServerUids or LOGSTREAM_TRUSTED_UIDS to trust it`,
      { code: 'UNTRUSTED_SERVER' },
    );
  }

  #scheduleReconnect(): void {
    // Jittered: clients restarted together do not come back together.
    const delay = this.#backoff.next();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#open();
    }, delay);
    this.#retryTimer.unref();
  }

  #onData(data: string, timer: NodeJS.Timeout): void {
    this.#recv += data;
    let nl: number;
    while ((nl = this.#recv.indexOf('\n')) !== -1) {
      const line = this.#recv.slice(0, nl);
      this.#recv = this.#recv.slice(nl + 1);
      const frame = parseServerFrame(line);
      if (frame === undefined) continue;
      if (frame.type === 'ready') {
        clearTimeout(timer);
        this.#onReady();
      } else if (frame.type === 'ack') {
        this.#onAck(frame.seq);
      } else {
        this.#onError(frame);
      }
    }
  }

  #onReady(): void {
    this.#state = 'ready';
    this.#socketReady = true;
    this.#backoff.reset();
    this.#connAcked = 0;
    // Everything unacknowledged goes again, in order; the server drops repeats by id.
    const unacked = this.#pages.inFlight;
    if (this.#everConnected) {
      this.stats.reconnects++;
      this.stats.resent += unacked;
    }
    this.#everConnected = true;
    this.#pages.rewind();
    this.#lastError = undefined;
    for (const w of this.#connectWaiters) w.resolve();
    this.#connectWaiters = [];
    this.#updateHold();
    this.emit('connect');
    this.#writeOut();
  }

  #onAck(seq: number): void {
    const n = seq - this.#connAcked;
    if (n <= 0) return;
    this.#connAcked = seq;
    this.#pages.ack(n);
    this.#ackedTotal += n;
    this.stats.acked += n;
    if (this.#pages.length === 0) this.#updateHold();
    else this.#holdTimer?.refresh();
    this.emit('acked', n);
    // Room freed: admit waiting entries.
    while (this.#roomWaiters.length > 0 && this.buffered < this.bufferSize) {
      this.#pages.append(this.#roomWaiters.shift() as string);
      this.#appended();
    }
    this.#checkDrain();
    if (this.#flushWaiters.length > 0) {
      this.#flushWaiters = this.#flushWaiters.filter((w) => {
        if (this.#ackedTotal < w.upTo) return true;
        clearTimeout(w.timer);
        w.resolve();
        return false;
      });
    }
  }

  #onError(frame: ErrorFrame): void {
    if (frame.seq !== undefined) {
      // The server counts a refused line in its acks; it is dealt with, not lost silently.
      this.stats.rejected++;
      this.emit('rejected', frame);
    } else if (frame.code === 'RATE_LIMITED') {
      // Told once per rate-limit interval; the dropped entries are acknowledged, so nothing
      // waits for them and nothing is resent: the stream goes on.
      this.#warn(`the server drops entries over its rate limit (${frame.message})`);
      this.emit('rejected', frame);
    } else if (frame.code === 'SHUTTING_DOWN') {
      // Stop sending; what was sent is read, stored and acked before the server closes.
      this.#state = 'waiting';
      this.#socket?.end();
    } else {
      this.emit('rejected', frame);
    }
  }
}

/**
 * A logger made by {@link LogClient.child}: the same level methods, whose entries all carry its
 * bindings. It shares its client's connection, buffer, `flush()` and `drain()`.
 */
export class LogChild {
  readonly #client: LogClient;
  readonly #bindings: FlatFields;

  /** Use {@link LogClient.child}. */
  constructor(client: LogClient, bindings: FlatFields) {
    this.#client = client;
    this.#bindings = bindings;
  }

  /** The flattened bindings every entry of this child carries. */
  get bindings(): Readonly<FlatFields> {
    return this.#bindings;
  }

  /** A child of this child: both sets of bindings, the new ones winning on the same key. */
  child(bindings: Record<string, unknown>): LogChild {
    return childOf(this.#client, this.#bindings, bindings);
  }

  /** As {@link LogClient.log}, with this child's bindings. */
  log(level: LogLevel | LogLevelName, messageOrFields?: unknown, fieldsOrMessage?: unknown): boolean {
    return writeBound(this.#client, this.#bindings, level, messageOrFields, fieldsOrMessage);
  }
  /** Level 0. */
  emergency(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 0, args[0], args[1]);
  }
  /** Level 1. */
  alert(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 1, args[0], args[1]);
  }
  /** Level 2. */
  critical(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 2, args[0], args[1]);
  }
  /** Level 2 (critical). */
  fatal(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 2, args[0], args[1]);
  }
  /** Level 3. */
  error(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 3, args[0], args[1]);
  }
  /** Level 4. */
  warning(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 4, args[0], args[1]);
  }
  /** Level 4 (warning). */
  warn(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 4, args[0], args[1]);
  }
  /** Level 5. */
  notice(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 5, args[0], args[1]);
  }
  /** Level 6. */
  info(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 6, args[0], args[1]);
  }
  /** Level 7. */
  debug(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 7, args[0], args[1]);
  }
  /** Level 7 (debug). */
  trace(...args: LogArgs): boolean {
    return writeBound(this.#client, this.#bindings, 7, args[0], args[1]);
  }

  /** The client's {@link LogClient.flush}. */
  flush(): Promise<void> {
    return this.#client.flush();
  }

  /** The client's {@link LogClient.drain}. */
  drain(): Promise<void> {
    return this.#client.drain();
  }
}

/** The `logstream` user's uid, read once from /etc/passwd (undefined when there is none). */
let logstreamUid: number | undefined | null = null;

/** The uids whose socket a client trusts: root, its own user, `logstream`, and those it was told. */
function trustedUids(extra: readonly number[]): Set<number> {
  if (logstreamUid === null) {
    logstreamUid = undefined;
    try {
      const line = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('logstream:'));
      const uid = Number(line?.split(':')[2]);
      if (line !== undefined && Number.isInteger(uid)) logstreamUid = uid;
    } catch {
      // No /etc/passwd: no logstream user to trust.
    }
  }
  const uids = new Set<number>([0, process.getuid?.() ?? 0, ...extra]);
  if (logstreamUid !== undefined) uids.add(logstreamUid);
  for (const part of (process.env.LOGSTREAM_TRUSTED_UIDS ?? '').split(',')) {
    if (/^\d+$/.test(part.trim())) uids.add(Number(part.trim()));
  }
  return uids;
}

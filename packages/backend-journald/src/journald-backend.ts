// Owns the journald Backend: the connection to journald's socket (over @logstream/unix-dgram),
// sending one datagram per entry, congestion waits, reconnects, resuming a retried batch.
import { readFile, stat } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  Backoff,
  ByteSink,
  LogStreamError,
  backendEventSamples,
  closedError,
  type Backend,
  type BackendContext,
  type BackendMetric,
  type BackendWriteOptions,
  type EntryBatch,
  type LogEntry,
} from '@logstream/protocol';
import {
  loadUnixDgram as loadAddon,
  unixDgramSystemError,
  type UnixDgramError,
  type UnixDgramModule,
  type UnixDgramSocket,
} from '@logstream/unix-dgram';
import { DEFAULT_MAX_ENTRY_BYTES, MIN_MAX_ENTRY_BYTES, type EncodedJournalEntry } from './encode-journal-entry';
import { JournalEntryWriter } from './journal-entry-writer';

/** journald's native-protocol socket (SOCK_DGRAM) of the main instance. */
export const DEFAULT_JOURNALD_SOCKET = '/run/systemd/journal/socket';

/** Options of {@link JournaldBackend}. TOML: `[backends.journald]`. */
export interface JournaldBackendOptions {
  /**
   * journald's native socket. Default {@link DEFAULT_JOURNALD_SOCKET}; a journald namespace
   * `NAME` listens on `/run/systemd/journal.NAME/socket`. TOML: `socket_path`.
   */
  socketPath?: string | undefined;
  /**
   * `SYSLOG_IDENTIFIER` of every entry, so that `journalctl -t IDENTIFIER` shows all of them.
   * Default: unset, and each entry's daemon name is its identifier (`journalctl -t web-server`).
   * `LOGSTREAM_DAEMON` carries the daemon name either way. TOML: `syslog_identifier`.
   */
  syslogIdentifier?: string | undefined;
  /**
   * Largest datagram, in bytes (at least 4096). Default: `net.core.wmem_default` − 32 (the
   * kernel's limit for one AF_UNIX datagram; 212960 with Linux's defaults). Larger entries are
   * truncated with a visible marker and counted in `truncated`.
   */
  maxEntryBytes?: number | undefined;
  /** Name for logs and metric labels. Default `"journald"`. */
  name?: string | undefined;
}

/** Counters of {@link JournaldBackend.stats}; they only grow. */
export type JournaldBackendStats = {
  /** Entries journald's socket accepted. */
  entries_sent: number;
  /** Bytes of those datagrams. */
  bytes_sent: number;
  /** Entries cut to fit the datagram limit. */
  truncated: number;
  /** Bytes cut from those entries. */
  truncated_bytes: number;
  /** Fields moved into `LOGSTREAM_FIELDS_OVERFLOW` because an entry had more than 1000. */
  overflow_fields: number;
  /** Sends that failed (the socket gone, journald stopped, EMSGSIZE). Congestion is not an error. */
  send_errors: number;
  /** Connection attempts after `open()` that failed. */
  connect_errors: number;
  /** Connections made again after a failure. */
  reconnects: number;
  /** Times a full socket queue made a write wait for journald (back-pressure, not loss). */
  congestion_waits: number;
};

// unix-dgram reports 'writable' once the queue has room; this is only a safety net, in case the
// event never comes (the peer gone while we wait): the send is tried again and fails or succeeds.
const CONGESTION_RECHECK_MS = 1000;
// A long batch is sent in slices so that other sockets get served between them.
const YIELD_EVERY_ENTRIES = 512;

/** One entry on its way: what a send carries over a congestion wait. */
interface Delivery {
  /** The entry's stored line. */
  line: Buffer;
  /** Where datagrams of this write are encoded. */
  sink: ByteSink;
  /** Encoded again, smaller, when the socket's datagram limit turns out lower (EMSGSIZE). */
  encoded: EncodedJournalEntry;
  /** Failed sends so far (journald gone): one reconnect and resend, then give up. */
  failures: number;
}

// The native addon is optional (see @logstream/unix-dgram): loaded when the backend opens.
const loadUnixDgram = () => loadAddon('the journald backend');

async function readDefaultMaxEntryBytes(): Promise<number> {
  try {
    const wmem = Number.parseInt(await readFile('/proc/sys/net/core/wmem_default', 'utf8'), 10);
    if (Number.isInteger(wmem) && wmem - 32 >= MIN_MAX_ENTRY_BYTES) return wmem - 32;
  } catch {
    // Not Linux, or /proc not mounted: the Linux default is the best guess.
  }
  return DEFAULT_MAX_ENTRY_BYTES;
}

function hint(code: string | undefined): string {
  switch (code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return 'is systemd-journald running? Start it, set socketPath to its native socket, or disable the journald backend';
    case 'EACCES':
    case 'EPERM':
      return 'run the server as a user that may write to the journal socket (root, as systemd services do)';
    case 'EPROTOTYPE':
      return "socketPath must name journald's native datagram socket (…/socket), not its stdout stream socket";
    default:
      return 'check socketPath';
  }
}

/**
 * Stores entries in the systemd journal through journald's native protocol: one datagram per
 * entry on journald's socket, every field kept (see `encodeJournalEntry` for the mapping).
 *
 * - `write()` resolves once journald's socket has accepted every entry of the batch (journald
 *   itself acknowledges nothing; what it has received it writes to the journal). A full socket
 *   queue (congestion) makes it wait for room, never drop.
 * - When journald is gone or restarted, `write()` reconnects at once and sends again; if that
 *   fails it rejects, so the server keeps the entries and retries (it buffers, not this backend).
 *   A retry of the same batch object goes on from the first entry not yet sent, so no entry is
 *   sent twice. In the background the backend reconnects with backoff (100 ms, ×2, at most 5 s).
 * - An entry larger than a datagram may be (`maxEntryBytes`) is truncated with a visible
 *   marker and counted; it is never dropped.
 * - A background reconnect that fails is reported to the `reportError` of the context `open()`
 *   got (opened without one, it is only counted: this backend has no `'error'` event).
 */
export class JournaldBackend implements Backend {
  readonly name: string;
  /** The socket entries are sent to. */
  readonly socketPath: string;
  readonly #writer: JournalEntryWriter;
  #maxEntryBytes: number;
  readonly #fixedMaxEntryBytes: boolean;
  #unix: UnixDgramModule | undefined;
  #socket: UnixDgramSocket | undefined;
  #state: 'new' | 'open' | 'closed' = 'new';
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  readonly #backoff = new Backoff();
  #reportError: ((error: Error) => void) | undefined;
  #wake: (() => void) | undefined;
  // Where a rejected write stopped, so that the server's retry of that batch sends no entry twice.
  #resume: { batch: EntryBatch; next: number } | undefined;
  readonly #stats: JournaldBackendStats = {
    entries_sent: 0,
    bytes_sent: 0,
    truncated: 0,
    truncated_bytes: 0,
    overflow_fields: 0,
    send_errors: 0,
    connect_errors: 0,
    reconnects: 0,
    congestion_waits: 0,
  };

  /** @throws LogStreamError (`config`) for an empty or too long socket path, or a bad `maxEntryBytes` */
  constructor(options: JournaldBackendOptions = {}) {
    this.name = options.name ?? 'journald';
    this.socketPath = options.socketPath ?? DEFAULT_JOURNALD_SOCKET;
    const pathBytes = Buffer.byteLength(this.socketPath);
    if (pathBytes === 0 || pathBytes > 107) {
      throw new LogStreamError('config', `journald: socketPath: expected a path of 1 to 107 bytes (sun_path), got ${pathBytes} bytes`, {
        code: 'CONFIG',
      });
    }
    if (options.syslogIdentifier !== undefined && options.syslogIdentifier.length === 0) {
      throw new LogStreamError('config', 'journald: syslogIdentifier: expected a non-empty string', {
        code: 'CONFIG',
      });
    }
    this.#writer = new JournalEntryWriter(options.syslogIdentifier);
    const max = options.maxEntryBytes;
    if (max !== undefined && !(Number.isInteger(max) && max >= MIN_MAX_ENTRY_BYTES)) {
      throw new LogStreamError('config', `journald: maxEntryBytes: expected an integer >= ${MIN_MAX_ENTRY_BYTES}, got ${max}`, {
        code: 'CONFIG',
      });
    }
    this.#fixedMaxEntryBytes = max !== undefined;
    this.#maxEntryBytes = max ?? DEFAULT_MAX_ENTRY_BYTES;
  }

  /** Largest datagram this backend sends now, in bytes (it shrinks if the kernel says EMSGSIZE). */
  get maxEntryBytes(): number {
    return this.#maxEntryBytes;
  }

  /** True while a socket to journald is connected. */
  get connected(): boolean {
    return this.#socket !== undefined;
  }

  /**
   * Loads the unix-dgram addon and connects to journald's socket.
   * @throws LogStreamError (`io`, code `BACKEND`) naming the path, the errno and what to do:
   *   the socket is missing (ENOENT), nobody listens on it (ECONNREFUSED), no permission, or the
   *   addon is not built. A failed `open()` may be called again.
   */
  open(context: BackendContext = {}): Promise<void> {
    if (context.reportError !== undefined) this.#reportError ??= context.reportError.bind(context);
    if (this.#state === 'closed') return Promise.reject(this.#closedError());
    this.#opening ??= this.#open().catch((error: unknown) => {
      this.#opening = undefined;
      throw error;
    });
    return this.#opening;
  }

  // Called only by open(), which has checked that the backend is not closed.
  async #open(): Promise<void> {
    this.#unix = await loadUnixDgram();
    if (!this.#fixedMaxEntryBytes) this.#maxEntryBytes = await readDefaultMaxEntryBytes();
    // close() may have come while the addon loaded.
    if (this.#state === 'closed') throw this.#closedError();
    const error = this.#connect();
    if (error !== undefined) {
      let what = `cannot connect to journald socket ${this.socketPath} (${error.code})`;
      if (error.code === 'ENOENT') what = `journald socket ${this.socketPath} does not exist (ENOENT)`;
      else if (error.code === 'ECONNREFUSED') {
        const isSocket = await stat(this.socketPath).then(
          (s) => s.isSocket(),
          () => true,
        );
        what = isSocket
          ? `nothing listens on journald socket ${this.socketPath} (ECONNREFUSED)`
          : `${this.socketPath} is not a socket (ECONNREFUSED)`;
      }
      throw new LogStreamError('io', `${what}: ${hint(error.code)}`, { code: 'BACKEND', cause: error });
    }
    this.#state = 'open';
  }

  /**
   * Sends every entry of the batch, one datagram each, in order. Resolves when journald's socket
   * has accepted all of them.
   * @throws LogStreamError (`io`, code `BACKEND`) when journald cannot be reached after one
   *   immediate reconnect; its `cause` is the system error (`ECONNREFUSED`, `ENOENT`, …). The
   *   entries before the failing one were delivered; a retry of the same batch skips them.
   *   When `options.signal` aborts while journald's queue is full, it rejects with the signal's
   *   reason at once (the entries before were delivered; a retry skips them as well).
   */
  async write(batch: EntryBatch, options?: BackendWriteOptions): Promise<void> {
    const signal = options?.signal;
    if (this.#state !== 'open') {
      throw this.#state === 'closed'
        ? this.#closedError()
        : new LogStreamError('io', 'journald backend: write() before open()', { code: 'BACKEND' });
    }
    const lines = batch.lines;
    let i = this.#resume !== undefined && this.#resume.batch === batch ? this.#resume.next : 0;
    this.#resume = undefined;
    // The datagrams are views of one buffer per write, encoded from each line's bytes.
    const sink = new ByteSink(Math.min(batch.byteLength, 4 * 1024 * 1024) + 160 * (lines.length - i));
    for (let sent = 0; i < lines.length; i++, sent++) {
      if (sent > 0 && sent % YIELD_EVERY_ENTRIES === 0) await yieldToLoop();
      const line = lines[i] as Buffer;
      const delivery: Delivery = { line, sink, encoded: this.#encode(line, sink), failures: 0 };
      // Sending is synchronous: only a full socket queue makes this wait.
      let result = this.#send(delivery);
      while (result === 'congestion') {
        if (signal?.aborted) {
          this.#resume = { batch, next: i };
          throw signal.reason;
        }
        await this.#waitWritable(this.#socket as UnixDgramSocket, signal);
        result = this.#send(delivery);
      }
      if (result !== 'sent') {
        this.#resume = { batch, next: i };
        throw result;
      }
    }
  }

  /** Nothing is buffered here: a resolved `write()` has handed every entry to journald. */
  async flush(): Promise<void> {}

  /**
   * Drops the connection and connects again at once (the server calls it on SIGHUP): useful after
   * journald was restarted. A failure is not thrown: it is counted and retried with backoff.
   */
  async reopen(): Promise<void> {
    if (this.#state !== 'open') return;
    // #connect() drops the current socket first.
    const error = this.#reconnect();
    if (error !== undefined) {
      this.#reportReconnect(error);
      this.#scheduleReconnect();
    }
  }

  /** Closes the socket and stops reconnecting; a write in progress rejects. Idempotent. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#state = 'closed';
      if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      this.#dropSocket();
      this.#closing = Promise.resolve();
    }
    return this.#closing;
  }

  /** Counters for metrics (snake_case, only growing); see {@link JournaldBackendStats}. */
  stats(): Readonly<JournaldBackendStats> {
    return { ...this.#stats };
  }

  /** The counters as typed samples: every one a backend event (`logstream_backend_events_total`). */
  metrics(): readonly BackendMetric[] {
    return backendEventSamples(this.#stats);
  }

  /**
   * Tries to send one entry, synchronously: reconnects once if journald is gone, learns a lower
   * datagram limit on EMSGSIZE. 'congestion' (the socket queue is full, nothing sent) means: wait
   * for 'writable' on the current socket, then call again with the same delivery.
   */
  #send(delivery: Delivery): 'sent' | 'congestion' | LogStreamError {
    for (;;) {
      if (this.#state === 'closed') return this.#closedError();
      if (this.#socket === undefined) {
        const error = this.#reconnect();
        if (error !== undefined) {
          this.#scheduleReconnect();
          return this.#deliveryError(delivery.line, error);
        }
      }
      const encoded = delivery.encoded;
      const result = trySend(this.#socket as UnixDgramSocket, encoded.data);
      if (result === 'sent') {
        this.#stats.entries_sent++;
        this.#stats.bytes_sent += encoded.data.length;
        this.#stats.overflow_fields += encoded.overflowFields;
        if (encoded.truncatedBytes > 0) {
          this.#stats.truncated++;
          this.#stats.truncated_bytes += encoded.truncatedBytes;
        }
        return 'sent';
      }
      if (result === 'congestion') {
        // Not sent: the receive queue is full. Resending after 'writable' cannot duplicate it.
        this.#stats.congestion_waits++;
        return 'congestion';
      }
      this.#stats.send_errors++;
      const error = unixDgramSystemError(result, 'send', this.socketPath);
      if (error.code === 'EMSGSIZE' && encoded.data.length > MIN_MAX_ENTRY_BYTES) {
        // This socket's limit is lower than we computed (another kernel, a tuned sysctl): learn it.
        this.#maxEntryBytes = Math.max(MIN_MAX_ENTRY_BYTES, Math.min(this.#maxEntryBytes, Math.floor(encoded.data.length * 0.9)));
        delivery.encoded = this.#encode(delivery.line, delivery.sink);
        continue;
      }
      if (error.code === 'EMSGSIZE') return this.#deliveryError(delivery.line, error);
      // The peer is gone (journald stopped or restarted: ECONNREFUSED). A datagram that failed
      // was not delivered, so reconnecting and sending it again is safe; once, then give up.
      this.#dropSocket();
      if (++delivery.failures > 1) {
        this.#scheduleReconnect();
        return this.#deliveryError(delivery.line, error);
      }
    }
  }

  #encode(line: Buffer, sink: ByteSink): EncodedJournalEntry {
    return this.#writer.write(line, sink, this.#maxEntryBytes);
  }

  /** Opens a socket and connects it; returns the error instead of throwing. */
  #connect(): NodeJS.ErrnoException | undefined {
    // One socket at a time: an open one would leak its fd and keep the event loop alive.
    this.#dropSocket();
    const unix = this.#unix as UnixDgramModule;
    let socket: UnixDgramSocket;
    try {
      socket = unix.createSocket('unix_dgram');
    } catch (error) {
      return unixDgramSystemError(error as UnixDgramError, 'socket', this.socketPath);
    }
    let failure: UnixDgramError | undefined;
    // unix-dgram reports connect errors (and errors of sends without a callback, which this
    // class never makes) as 'error' events; without a listener they would crash the process.
    socket.on('error', (error: UnixDgramError) => {
      failure = error;
    });
    socket.connect(this.socketPath);
    if (failure !== undefined || socket.connected !== true) {
      closeQuietly(socket);
      return unixDgramSystemError(failure, 'connect', this.socketPath);
    }
    this.#socket = socket;
    return undefined;
  }

  /** Connects again; counts the outcome. */
  #reconnect(): NodeJS.ErrnoException | undefined {
    const error = this.#connect();
    if (error !== undefined) {
      this.#stats.connect_errors++;
      return error;
    }
    this.#stats.reconnects++;
    this.#backoff.reset();
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    return undefined;
  }

  #scheduleReconnect(): void {
    if (this.#state !== 'open' || this.#socket !== undefined || this.#reconnectTimer !== undefined) return;
    const delay = this.#backoff.next();
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state !== 'open' || this.#socket !== undefined) return;
      const error = this.#reconnect();
      if (error === undefined) return;
      this.#reportReconnect(error);
      this.#scheduleReconnect();
    }, delay);
    this.#reconnectTimer.unref();
  }

  #reportReconnect(cause: NodeJS.ErrnoException): void {
    this.#reportError?.(
      new LogStreamError('io', `journald backend: cannot reconnect to ${this.socketPath} (${cause.code}): ${hint(cause.code)}`, {
        code: 'BACKEND',
        cause,
      }),
    );
  }

  #dropSocket(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#wake?.();
    if (socket !== undefined) closeQuietly(socket);
  }

  #waitWritable(socket: UnixDgramSocket, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        socket.off('writable', done);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, CONGESTION_RECHECK_MS);
      timer.unref();
      socket.on('writable', done);
      signal?.addEventListener('abort', done);
      this.#wake = done;
    });
  }

  #deliveryError(line: Buffer, cause: NodeJS.ErrnoException): LogStreamError {
    const { id } = JSON.parse(line.toString('utf8')) as LogEntry;
    return new LogStreamError(
      'io',
      `journald backend: cannot deliver entry ${id} to ${this.socketPath}: ${cause.syscall ?? 'send'} ${cause.code}; ` +
        `${hint(cause.code)}`,
      { code: 'BACKEND', cause },
    );
  }

  #closedError(): LogStreamError {
    return closedError(`${this.name} backend`);
  }
}

/** Sends one datagram; unix-dgram calls back synchronously, so this returns the outcome. */
function trySend(socket: UnixDgramSocket, data: Buffer): 'sent' | 'congestion' | UnixDgramError {
  let outcome: 'sent' | 'congestion' | UnixDgramError = 'sent';
  socket.send(data, (error) => {
    if (error === undefined || error === null) outcome = 'sent';
    else if (error.message === 'congestion') outcome = 'congestion';
    else outcome = error;
  });
  return outcome;
}

function closeQuietly(socket: UnixDgramSocket): void {
  try {
    socket.close();
  } catch {
    // close() failing (EBADF) leaves nothing to release: unix-dgram has stopped its watcher.
  }
}

// Owns the Backend contract: turning batches into frames, the bounded buffer and the waits of
// write() (room, confirmation, abort), flush and close, the counters, and the stall report.
// Options, transports and the reconnect loop live in their own modules.
import { EventEmitter } from 'node:events';
import {
  ByteSink,
  closedError,
  backendEventSamples,
  droppedEntriesSample,
  type Backend,
  type BackendContext,
  type BackendEvents,
  type BackendMetric,
  type EntryBatch,
  type SyslogFormat,
  type SyslogFormatOptions,
} from '@logstream/protocol';
import { FrameQueue, type Frame } from './frame-queue';
import { FrameWriter } from './frame-writer';
import { resolveSyslogOptions, type SyslogBackendOptions } from './options';
import { RecentCounter } from './recent-counter';
import { ReconnectLoop } from './reconnect-loop';
import type { SyslogServer } from './server-url';
import { createTransport } from './transport-factory';
import { systemError, type Transport, type TransportHooks } from './transport';

/** How long writes wait on a connected peer that takes nothing before it is reported, in ms. */
export const STALL_REPORT_MS = 10_000;

/** Options of {@link SyslogBackend.write}. */
export interface SyslogWriteOptions {
  /**
   * Gives up waiting: the write rejects with `signal.reason`, and the batch's messages not yet
   * handed to the transport are dropped (counted as `dropped_aborted`).
   */
  signal?: AbortSignal;
}

/**
 * Counters of a {@link SyslogBackend}; every one only grows.
 *
 * - `sent`: messages handed to the kernel (a stream's socket buffer, or a datagram sent).
 * - `send_errors`: messages the kernel refused for good (a refused or oversized datagram); lost.
 * - `dropped_aborted`: messages of writes given up through their `signal`, never handed over.
 * - `dropped_on_close`: messages of writes still waiting when `close()` gave up (those writes reject).
 * - `requeued`: messages whose stream write had not reached the kernel when the connection
 *   broke, sent again on the next connection (the peer may get some of them twice).
 * - `possibly_lost`: messages handed to the kernel within `unconfirmedWindowMs` before a
 *   connection broke.
 * - `truncated`: messages cut to `maxMessageBytes`.
 * - `stalls`: times writes waited {@link STALL_REPORT_MS} on a connected peer that took nothing.
 * - `connect_errors`: failed connection attempts.
 * - `disconnects`: established connections that broke.
 * - `reconnects`: connections established after the first.
 */
export interface SyslogBackendStats {
  sent: number;
  send_errors: number;
  dropped_aborted: number;
  dropped_on_close: number;
  requeued: number;
  possibly_lost: number;
  truncated: number;
  stalls: number;
  connect_errors: number;
  disconnects: number;
  reconnects: number;
}

/** A write waiting for room in the buffer or for its last frame to be confirmed. */
interface Waiter {
  ready: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** How far an aborted write got, so that a retry of the same batch does not send it twice. */
interface PartialWrite {
  /** Leading entries of the batch already with the transport. */
  taken: number;
  /** Sequence number of the last of them. */
  lastSeq: number;
}

/**
 * Sends entries to a syslog daemon: RFC 5424 (default) or RFC 3164, to the local socket
 * (`/dev/log`), or to a remote server over UDP, TCP or TLS.
 *
 * `write()` resolves once every message of the batch was handed to the kernel (written to the
 * stream's socket, or sent as a datagram). While the peer is slow or away it waits (the
 * server's route then holds its acks back), with at most `maxBufferedEntries` /
 * `maxBufferedBytes` held in this process; nothing is ever evicted. The backend reconnects with
 * backoff (100 ms, ×2, at most 5 s, with jitter). Reports each failed connection attempt, each
 * broken connection, each refused datagram and each stall to the `reportError` of the context
 * `open()` got, or, opened without one, as an `'error'` event (only when a listener is
 * attached); `stats()` and `metrics()` count them either way.
 */
export class SyslogBackend extends EventEmitter<BackendEvents> implements Backend {
  readonly name: string;
  /** The parsed `server` option; `undefined` for the local socket. */
  readonly server: SyslogServer | undefined;
  /** The local socket path, when no `server` is set. */
  readonly socketPath: string | undefined;
  readonly format: SyslogFormat;
  readonly facility: number;
  readonly #formatOptions: SyslogFormatOptions;
  readonly #frames: FrameWriter;
  readonly #queue: FrameQueue;
  readonly #recent: RecentCounter;
  readonly #flushTimeoutMs: number;
  readonly #counters: SyslogBackendStats = {
    sent: 0,
    send_errors: 0,
    dropped_aborted: 0,
    dropped_on_close: 0,
    requeued: 0,
    possibly_lost: 0,
    truncated: 0,
    stalls: 0,
    connect_errors: 0,
    disconnects: 0,
    reconnects: 0,
  };
  readonly #transport: Transport;
  readonly #link: ReconnectLoop;
  #pumping = false;
  #stallTimer: NodeJS.Timeout | undefined;
  /** When the transport last confirmed a frame, or a write started waiting on a quiet peer. */
  #lastProgressMs = 0;
  #stallReported = false;
  #progress: (() => void)[] = [];
  #waiters = new Set<Waiter>();
  /** Sequence number of the last frame queued. */
  #lastSeq = 0;
  /** Every frame up to this sequence number is done with (sent, refused or dropped). */
  #doneSeq = 0;
  /** Frames queued or with the transport, not yet done with. */
  #outstanding = 0;
  readonly #partial = new WeakMap<EntryBatch, PartialWrite>();
  #reportError: ((error: Error) => void) | undefined;
  #opening: Promise<void> | undefined;
  #flushing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Checks the options; opens nothing (see {@link open}).
   *
   * @throws LogStreamError (kind `config`) for a bad facility, format, framing, server URL or bound.
   */
  constructor(options: SyslogBackendOptions = {}) {
    super();
    const resolved = resolveSyslogOptions(options);
    this.name = resolved.name;
    this.format = resolved.format;
    this.facility = resolved.facility;
    const { target } = resolved;
    this.server = target.kind === 'remote' ? target.server : undefined;
    this.socketPath = target.kind === 'local' ? target.socketPath : undefined;
    this.#formatOptions = resolved.formatOptions;
    this.#flushTimeoutMs = resolved.flushTimeoutMs;
    this.#recent = new RecentCounter(resolved.unconfirmedWindowMs);
    this.#queue = new FrameQueue(resolved.maxBufferedEntries, resolved.maxBufferedBytes);
    const hooks: TransportHooks = {
      onSent: (n, lastSeq) => {
        this.#counters.sent += n;
        this.#recent.add(n);
        this.#done(n, lastSeq);
      },
      onSendError: (error, dropped, lastSeq) => {
        this.#counters.send_errors += dropped;
        this.#report(error);
        this.#done(dropped, lastSeq);
      },
    };
    this.#transport = createTransport(resolved, hooks);
    this.#frames = new FrameWriter(this.format, this.#formatOptions, this.#transport.framing, this.#transport.maxMessageBytes);
    this.#link = new ReconnectLoop(this.#transport, {
      onUp: (reconnect) => this.#onUp(reconnect),
      onDown: (error, unsent) => this.#onDown(error, unsent),
      onConnectError: (error) => {
        this.#counters.connect_errors++;
        this.#report(error);
        this.#notify();
      },
    });
  }

  /**
   * Prepares the transport. For the local socket, the path must be a socket that accepts a
   * connection now. For a remote server, TLS files are read here and the connection is
   * started in the background: a server that is down at start-up is retried like one that
   * went away later, and messages wait in the buffer.
   *
   * @throws Error with `code` ENOENT, ENOTSOCK or ECONNREFUSED naming the socket path, or a
   *   LogStreamError (kind `config`) naming an unreadable TLS file.
   */
  open(context: BackendContext = {}): Promise<void> {
    if (context.reportError !== undefined) this.#reportError ??= context.reportError.bind(context);
    this.#opening ??= this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    if (this.#link.state === 'closed') throw closedError(`${this.name} backend`);
    await this.#transport.prepare();
    if (this.#transport.connectAtOpen) await this.#link.connectNow();
    // Not awaited: open() does not wait for a remote peer. A failed attempt is counted,
    // reported as 'error' and retried with backoff, so nothing is lost here.
    else this.#link.start();
  }

  /**
   * Formats and frames the batch's entries, queues them (waiting for room when the buffer is
   * full) and resolves once the transport handed every one of them to the kernel (a stream:
   * written to the socket; a datagram: sent; a datagram the kernel refuses for good counts in
   * `send_errors`). While the peer is away it waits; nothing is evicted to make room.
   *
   * A write may be retried with the same batch after it rejected: the messages an aborted
   * write had already handed to the transport are not queued again.
   *
   * @throws the `signal`'s reason once it aborts (the batch's messages not yet with the
   *   transport are dropped and counted as `dropped_aborted`)
   * @throws LogStreamError (kind `server`, code `CLOSED`) after {@link close}, or when `close()`
   *   gave up on this write's messages
   */
  async write(batch: EntryBatch, options: SyslogWriteOptions = {}): Promise<void> {
    if (this.#link.state === 'closed' || this.#closing !== undefined) throw closedError(`${this.name} backend`);
    const { signal } = options;
    const previous = this.#partial.get(batch);
    this.#partial.delete(batch);
    const skip = previous?.taken ?? 0;
    const left = batch.length - skip;
    if (signal?.aborted) {
      this.#counters.dropped_aborted += left;
      if (previous !== undefined) this.#partial.set(batch, previous);
      throw signal.reason;
    }
    const queue = this.#queue;
    const owner = {};
    let lastSeq = previous?.lastSeq ?? 0;
    let pushed = 0;
    try {
      // Frames are formatted from each line's bytes into one buffer per write (views of it).
      const lines = batch.lines;
      const sink = new ByteSink(left > 0 ? batch.byteLength + 96 * left : 64);
      for (let i = skip; i < lines.length; i++) {
        const { frame, truncated } = this.#frames.write(lines[i] as Buffer, sink);
        if (!queue.hasRoom(frame.length)) {
          this.#pump();
          await this.#until(() => queue.hasRoom(frame.length), signal);
          if (this.#isClosed()) throw closedError(`${this.name} backend`);
        }
        if (truncated) this.#counters.truncated++;
        lastSeq = ++this.#lastSeq;
        queue.push({ data: frame, seq: lastSeq, owner });
        this.#outstanding++;
        pushed++;
      }
      this.#pump();
      const last = lastSeq;
      if (this.#doneSeq < last) await this.#until(() => this.#doneSeq >= last, signal);
    } catch (error) {
      // Frames still queued are taken back; those with the transport go out anyway.
      const removed = queue.removeOwned(owner);
      this.#outstanding -= removed;
      const lost = removed + (left - pushed);
      if (signal?.aborted && error === signal.reason) {
        this.#counters.dropped_aborted += lost;
        // When some were taken back, a retry queues them again after this seq, so its wait
        // covers the frames still with the transport.
        const taken = skip + pushed - removed;
        if (taken > 0) this.#partial.set(batch, { taken, lastSeq });
      } else {
        this.#counters.dropped_on_close += lost;
      }
      this.#notify();
      throw error;
    }
  }

  /**
   * Waits until every buffered message has left the process, or the connection is down with
   * nothing left to send, or `flushTimeoutMs` passed (what is left stays buffered). Never
   * rejects. Concurrent calls share one wait.
   */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush(this.#flushTimeoutMs).finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flush(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const state = this.#link.state;
      if (state === 'closed' || state === 'new') return;
      if (this.#queue.length === 0) {
        if (state !== 'up') return;
        const left = deadline - performance.now();
        if (left <= 0) return;
        await withTimeout(this.#transport.drained(), left);
        if (this.#queue.length === 0) return;
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0) return;
      this.#pump();
      await withTimeout(new Promise<void>((resolve) => this.#progress.push(resolve)), left);
    }
  }

  /**
   * Flushes (at most `flushTimeoutMs`) and ends the connection. Writes still waiting then
   * reject (`CLOSED`), and their messages that never reached the kernel are counted as
   * `dropped_on_close`. Idempotent: later calls return the first call's promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#opening !== undefined) await this.#opening.catch(() => undefined);
    await this.flush();
    const wasUp = this.#link.stop();
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    this.#queue.clear();
    if (wasUp) await this.#transport.close(1000);
    else this.#transport.destroy();
    // What is still queued or unconfirmed now never reached the kernel: the writes waiting
    // for it reject, so none of it was acknowledged.
    this.#counters.dropped_on_close += this.#outstanding;
    this.#outstanding = 0;
    const closed = closedError(`${this.name} backend`);
    for (const waiter of this.#waiters) waiter.reject(closed);
    this.#waiters.clear();
    this.#notify();
  }

  /** Counters for metrics (see {@link SyslogBackendStats}). */
  stats(): Readonly<Record<string, number>> {
    return { ...this.#counters };
  }

  /**
   * The counters as typed samples: drops as `logstream_dropped_entries_total` by reason
   * (`aborted`, `closed`), the buffer's fill as the gauges `logstream_backend_buffered_entries`
   * and `logstream_backend_buffered_bytes`, every other counter as a backend event.
   */
  metrics(): readonly BackendMetric[] {
    const { dropped_aborted, dropped_on_close, ...events } = this.#counters;
    return [
      droppedEntriesSample('aborted', dropped_aborted),
      droppedEntriesSample('closed', dropped_on_close),
      {
        name: 'logstream_backend_buffered_entries',
        help: 'Entries a backend holds in memory now, not yet handed on.',
        type: 'gauge',
        value: this.#queue.length,
      },
      {
        name: 'logstream_backend_buffered_bytes',
        help: 'Bytes of the entries a backend holds in memory now.',
        type: 'gauge',
        value: this.#queue.bytes,
      },
      ...backendEventSamples(events),
    ];
  }

  /** Messages waiting in the buffer now (a gauge, not part of {@link stats}). */
  get bufferedEntries(): number {
    return this.#queue.length;
  }

  /** Bytes waiting in the buffer now. */
  get bufferedBytes(): number {
    return this.#queue.bytes;
  }

  /** True while a connection to the peer is established. */
  get connected(): boolean {
    return this.#link.state === 'up';
  }

  // A method, not an inline comparison: TypeScript would keep the narrowing across an await.
  #isClosed(): boolean {
    return this.#link.state === 'closed';
  }

  #onUp(reconnect: boolean): void {
    if (reconnect) this.#counters.reconnects++;
    this.#recent.reset();
    this.#notify();
    this.#pump();
  }

  #onDown(error: Error, unsent: readonly Frame[]): void {
    this.#counters.disconnects++;
    // Frames whose write never reached the kernel are sent again on the next connection.
    this.#queue.unshift(unsent);
    this.#counters.requeued += unsent.length;
    // Whatever reached the kernel lately may have died in its buffers with the connection: no
    // syslog transport acknowledges, so count it rather than pretend it arrived.
    this.#counters.possibly_lost += this.#recent.total();
    this.#recent.reset();
    this.#report(error);
    this.#notify();
  }

  #pump(): void {
    if (this.#pumping || this.#link.state !== 'up' || this.#queue.length === 0) return;
    this.#pumping = true;
    // #runPump() never rejects: a transport failure is handled there as a broken connection.
    void this.#runPump();
  }

  async #runPump(): Promise<void> {
    try {
      while (this.#link.state === 'up' && this.#queue.length > 0) {
        await this.#transport.send(this.#queue);
        this.#notify();
      }
    } catch (error) {
      // A transport bug must not leave the backend wedged: treat it as a broken connection.
      this.#link.fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#pumping = false;
      this.#notify();
    }
  }

  #done(n: number, lastSeq: number): void {
    this.#lastProgressMs = performance.now();
    this.#stallReported = false;
    this.#outstanding -= n;
    if (lastSeq > this.#doneSeq) this.#doneSeq = lastSeq;
    this.#notify();
  }

  // A connected peer that takes nothing raises no socket error: say so once per stall, or a
  // route waiting on it would hold every ack back in silence.
  #watchStall(): void {
    if (this.#stallTimer !== undefined) return;
    const check = (): void => {
      this.#stallTimer = undefined;
      if (this.#waiters.size === 0 || this.#isClosed()) return;
      const quietMs = performance.now() - this.#lastProgressMs;
      if (quietMs >= STALL_REPORT_MS && !this.#stallReported && this.#link.state === 'up') {
        this.#stallReported = true;
        this.#counters.stalls++;
        this.#report(
          systemError(
            'send',
            'ETIMEDOUT',
            `${this.#transport.peer} (took nothing for ${Math.round(quietMs)} ms; ${this.#outstanding} messages and their writes are waiting)`,
          ),
        );
      }
      this.#stallTimer = setTimeout(check, Math.max(100, STALL_REPORT_MS - quietMs));
      this.#stallTimer.unref();
    };
    this.#stallTimer = setTimeout(check, STALL_REPORT_MS);
    this.#stallTimer.unref();
  }

  #notify(): void {
    for (const waiter of this.#waiters) {
      if (waiter.ready()) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
    const progress = this.#progress;
    if (progress.length === 0) return;
    this.#progress = [];
    for (const wake of progress) wake();
  }

  /** Resolves once `ready()` holds (checked at each progress); rejects when `signal` aborts. */
  #until(ready: () => boolean, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        // The caller's own reason, whatever it is (a DOMException by default): it recognises it.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        ready,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      if (this.#waiters.size === 0) this.#lastProgressMs = performance.now();
      this.#waiters.add(waiter);
      this.#watchStall();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #report(error: Error): void {
    if (this.#reportError !== undefined) this.#reportError(error);
    else if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

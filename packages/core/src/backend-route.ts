import { EventEmitter } from 'node:events';
import { Backoff, type Backend, type EntryBatch, type LogLevel } from '@logstream/protocol';

/** What a backend's queue does with a batch that does not fit. */
export type WhenFull = 'block' | 'drop_newest';

/** How the server feeds one backend. */
export interface BackendRouteOptions {
  backend: Backend;
  /** Only entries at least this severe (level <= minLevel) reach the backend. Default 7 (all). */
  minLevel?: LogLevel;
  /** Bound of the backend's queue, in NDJSON bytes. Default 8 MiB. */
  maxQueuedBytes?: number;
  /**
   * `block` (default): a full queue holds the batch back and the server stops reading sockets
   * until it drains, so nothing is lost. `drop_newest`: a batch that does not fit is dropped
   * and counted, so a dead backend never slows the others.
   */
  whenFull?: WhenFull;
}

interface Job {
  batch: EntryBatch;
  bytes: number;
  resolve: () => void;
}

/**
 * One backend's bounded FIFO queue. Writes go to the backend one at a time; a failed write is
 * retried with LogStream's {@link Backoff} (100 ms, ×2, at most 5 s, jittered) until it succeeds or the route is abandoned
 * at shutdown. Emits 'error' (Error) for each failed attempt.
 */
export class BackendRoute extends EventEmitter {
  readonly backend: Backend;
  readonly minLevel: LogLevel;
  readonly maxQueuedBytes: number;
  readonly whenFull: WhenFull;
  #queue: Job[] = [];
  #queuedBytes = 0;
  #running = false;
  #abandoned = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #wakeRetry: (() => void) | undefined;
  /** Counters, read by metrics at scrape time. */
  readonly counters = {
    entriesWritten: 0,
    bytesWritten: 0,
    batchesWritten: 0,
    writeErrors: 0,
    droppedFull: 0,
    droppedShutdown: 0,
    writeMsTotal: 0,
  };
  /** Write latency of each batch, in ms; replaced by the metrics layer if it wants a histogram. */
  onWriteLatency: ((ms: number) => void) | undefined;

  constructor(options: BackendRouteOptions) {
    super();
    this.backend = options.backend;
    this.minLevel = options.minLevel ?? 7;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.whenFull = options.whenFull ?? 'block';
  }

  /** Bytes waiting in the queue (the batch being written included). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Entries the backend has not yet taken. */
  get queuedBatches(): number {
    return this.#queue.length;
  }

  /**
   * Queues the entries of `batch` that pass this route's level. Resolves when they are stored,
   * or dropped by the `drop_newest` policy (counted). A batch given up by {@link abandon} was
   * not stored: its promise never settles, so nobody acknowledges it (the client still holds
   * those entries and sends them to the next server).
   */
  enqueue(batch: EntryBatch): Promise<void> {
    const mine = batch.filter(this.minLevel);
    if (mine.length === 0) return Promise.resolve();
    const bytes = mine.byteLength;
    if (this.whenFull === 'drop_newest' && this.#queuedBytes > 0 && this.#queuedBytes + bytes > this.maxQueuedBytes) {
      this.counters.droppedFull += mine.length;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.#queue.push({ batch: mine, bytes, resolve });
      this.#queuedBytes += bytes;
      if (!this.#running) void this.#run();
    });
  }

  /** True when a `block` route holds more than its bound (the server then stops reading). */
  get full(): boolean {
    return this.whenFull === 'block' && this.#queuedBytes > this.maxQueuedBytes;
  }

  /** Resolves when the queue is empty. */
  async idle(): Promise<void> {
    while (this.#queue.length > 0 || this.#running) {
      await new Promise<void>((resolve) => this.once('idle', resolve));
    }
  }

  /**
   * Gives up on what is queued (counted as dropped at shutdown; their {@link enqueue} promises
   * never settle); a retry in progress stops.
   */
  abandon(): void {
    this.#abandoned = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#wakeRetry?.();
  }

  /** Retries a failing write now instead of at the end of its backoff (e.g. after SIGHUP). */
  retryNow(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#wakeRetry?.();
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (this.#queue.length > 0) {
      const job = this.#queue[0] as Job;
      const backoff = new Backoff();
      let stored = false;
      for (;;) {
        if (this.#abandoned) {
          this.counters.droppedShutdown += job.batch.length;
          break;
        }
        const started = performance.now();
        try {
          await this.backend.write(job.batch);
          const ms = performance.now() - started;
          this.counters.entriesWritten += job.batch.length;
          this.counters.bytesWritten += job.bytes;
          this.counters.batchesWritten++;
          this.counters.writeMsTotal += ms;
          this.onWriteLatency?.(ms);
          stored = true;
          break;
        } catch (error) {
          this.counters.writeErrors++;
          const err = error instanceof Error ? error : new Error(String(error));
          this.emit('error', err);
          await new Promise<void>((resolve) => {
            this.#wakeRetry = resolve;
            this.#retryTimer = setTimeout(resolve, backoff.next());
          });
          this.#wakeRetry = undefined;
          this.#retryTimer = undefined;
        }
      }
      this.#queue.shift();
      this.#queuedBytes -= job.bytes;
      // Resolving means "stored": the server acknowledges on it. An abandoned batch was not.
      if (stored) job.resolve();
    }
    this.#running = false;
    this.emit('idle');
  }
}

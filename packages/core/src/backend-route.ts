import { EventEmitter } from 'node:events';
import { Backoff, type Backend, type EntryBatch, type LogLevel } from '@logstream/protocol';

/** What a backend's queue does with a batch that does not fit. */
export type WhenFull = 'block' | 'drop_newest';

/** Why a route dropped entries (the `reason` label of the drop metric). */
export type DropReason = 'queue_full' | 'stalled' | 'shutdown';

/** Default of {@link BackendRouteOptions.maxWaitMs}. */
export const DEFAULT_MAX_WAIT_MS = 1000;
/** Default of {@link BackendRouteOptions.minLevel}: 7 (debug), every entry. */
export const DEFAULT_MIN_LEVEL: LogLevel = 7;
/** Default of {@link BackendRouteOptions.maxQueuedBytes}. */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** Default of {@link BackendRouteOptions.whenFull}: nothing is lost. */
export const DEFAULT_WHEN_FULL: WhenFull = 'block';

/** How the server feeds one backend. */
export interface BackendRouteOptions {
  backend: Backend;
  /** Only entries at least this severe (level <= minLevel) reach the backend. Default 7 (all). */
  minLevel?: LogLevel;
  /** Bound of the backend's queue, in NDJSON bytes. Default 8 MiB. */
  maxQueuedBytes?: number;
  /**
   * `block` (default): a full queue holds the batch back and the server stops reading sockets
   * until it drains, so nothing is lost; a failing write is retried until it succeeds (or the
   * server closes). `drop_newest`: the backend never holds the other backends' acks for long:
   * a batch that does not fit in the queue is dropped at once, and one the backend has not stored
   * within {@link maxWaitMs} (a stalled or failing backend) is given up (its write is aborted);
   * while the backend is stalled, new batches are dropped at once. Every drop is counted.
   */
  whenFull?: WhenFull;
  /**
   * `drop_newest` only: how long a batch may wait for this backend (queued, written, retried)
   * before it is dropped, in ms. Default {@link DEFAULT_MAX_WAIT_MS}.
   */
  maxWaitMs?: number;
}

/** Payload of a route's `'drop'` event. */
export interface RouteDrop {
  entries: number;
  reason: DropReason;
}

/** Events of a {@link BackendRoute}. */
export interface BackendRouteEvents {
  /** A write attempt failed; it is retried (or, under `drop_newest`, given up when it is late). */
  error: [error: Error];
  /** Entries were dropped; see {@link DropReason}. */
  drop: [drop: RouteDrop];
  /** The queue is empty and no write is in progress. */
  idle: [];
}

interface Job {
  batch: EntryBatch;
  bytes: number;
  enqueuedAt: number;
  /** Stored, or dropped: nothing more happens to it. */
  done: boolean;
  resolve: () => void;
}

/**
 * One backend's bounded FIFO queue, and the only caller of its `write`. Writes go to the backend
 * one at a time, each with an AbortSignal; a failed write is retried with LogStream's
 * {@link Backoff} (100 ms, ×2, at most 5 s, jittered). Emits `'error'` for each failed attempt
 * and `'drop'` for entries it gives up.
 */
export class BackendRoute extends EventEmitter<BackendRouteEvents> {
  readonly backend: Backend;
  readonly minLevel: LogLevel;
  readonly maxQueuedBytes: number;
  readonly whenFull: WhenFull;
  readonly maxWaitMs: number;
  #queue: Job[] = [];
  #queuedBytes = 0;
  #running = false;
  #abandoned = false;
  /** The job being written and the controller of its write. */
  #current: { job: Job; controller: AbortController } | undefined;
  /** A write given up while still pending: the next one waits for it to settle. */
  #orphan: Promise<unknown> | undefined;
  /** `drop_newest`: a batch was given up for being late and nothing was stored since. */
  #stalled = false;
  #expiryTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #wakeRetry: (() => void) | undefined;
  /** Counters, read by metrics at scrape time. */
  readonly counters = {
    entriesWritten: 0,
    bytesWritten: 0,
    batchesWritten: 0,
    writeErrors: 0,
    droppedFull: 0,
    droppedStalled: 0,
    droppedShutdown: 0,
    writeMsTotal: 0,
  };
  /** Write latency of each batch, in ms; replaced by the metrics layer if it wants a histogram. */
  onWriteLatency: ((ms: number) => void) | undefined;

  constructor(options: BackendRouteOptions) {
    super();
    this.backend = options.backend;
    this.minLevel = options.minLevel ?? DEFAULT_MIN_LEVEL;
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.whenFull = options.whenFull ?? DEFAULT_WHEN_FULL;
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  }

  /** Bytes waiting in the queue (the batch being written included). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Batches the backend has not yet taken. */
  get queuedBatches(): number {
    return this.#queue.length;
  }

  /**
   * Queues the entries of `batch` that pass this route's level. Resolves when they are stored,
   * or dropped under `drop_newest` (counted). A batch given up by {@link abandon} was not
   * stored: its promise never settles, so nobody acknowledges it (the client still holds those
   * entries and sends them to the next server).
   */
  enqueue(batch: EntryBatch): Promise<void> {
    const mine = batch.filter(this.minLevel);
    if (mine.length === 0) return Promise.resolve();
    const bytes = mine.byteLength;
    if (this.whenFull === 'drop_newest' && this.#queuedBytes > 0) {
      // A stalled backend keeps one batch to find out when it works again; the rest go at once.
      if (this.#stalled || this.#queuedBytes + bytes > this.maxQueuedBytes) {
        this.#dropped(mine.length, this.#stalled ? 'stalled' : 'queue_full');
        return Promise.resolve();
      }
    }
    return new Promise<void>((resolve) => {
      this.#queue.push({ batch: mine, bytes, enqueuedAt: performance.now(), done: false, resolve });
      this.#queuedBytes += bytes;
      if (this.whenFull === 'drop_newest') this.#armExpiry();
      if (!this.#running) void this.#run();
    });
  }

  /** True when a `block` route holds more than its bound (the server then stops reading). */
  get full(): boolean {
    return this.whenFull === 'block' && this.#queuedBytes > this.maxQueuedBytes;
  }

  /** Resolves when the queue is empty and no write is in progress (or the route was abandoned). */
  async idle(): Promise<void> {
    while ((this.#queue.length > 0 || this.#running) && !this.#abandoned) {
      await new Promise<void>((resolve) => this.once('idle', resolve));
    }
  }

  /**
   * Gives up on everything queued (counted as dropped at shutdown; their {@link enqueue}
   * promises never settle) and aborts the write in progress. {@link idle} resolves at once.
   */
  abandon(): void {
    if (this.#abandoned) return;
    this.#abandoned = true;
    clearTimeout(this.#expiryTimer);
    for (const job of this.#queue) this.#drop(job, 'shutdown');
    this.#queue = [];
    this.#current?.controller.abort(new Error(`backend ${this.backend.name}: abandoned at shutdown`));
    this.#wakeRetry?.();
    this.emit('idle');
  }

  /** Retries a failing write now instead of at the end of its backoff (e.g. after SIGHUP). */
  retryNow(): void {
    this.#wakeRetry?.();
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (this.#queue.length > 0 && !this.#abandoned) {
      const job = this.#queue[0] as Job;
      if (!job.done) {
        // The contract: no write before the last one settled, even one given up on.
        if (this.#orphan !== undefined) await this.#orphan;
        this.#orphan = undefined;
        // Checked after the write too: a late batch may have been dropped meanwhile.
        if (!job.done && (await this.#store(job)) && !job.done) {
          job.done = true;
          this.#stalled = false;
          this.#queuedBytes -= job.bytes;
          job.resolve();
        }
      }
      if (this.#queue[0] === job) this.#queue.shift();
    }
    this.#running = false;
    this.emit('idle');
  }

  /** Writes `job` until it is stored (true) or given up (false: dropped or abandoned). */
  async #store(job: Job): Promise<boolean> {
    const controller = new AbortController();
    const { signal } = controller;
    this.#current = { job, controller };
    const backoff = new Backoff();
    try {
      for (let attempt = 1; ; attempt++) {
        const started = performance.now();
        const write = this.backend.write(job.batch, { signal, attempt });
        const outcome = await settleOrAbort(write, signal);
        if (outcome === 'aborted') {
          this.#orphan = write.catch(() => undefined);
          return false;
        }
        if (outcome.ok) {
          const ms = performance.now() - started;
          this.counters.entriesWritten += job.batch.length;
          this.counters.bytesWritten += job.bytes;
          this.counters.batchesWritten++;
          this.counters.writeMsTotal += ms;
          this.onWriteLatency?.(ms);
          return true;
        }
        if (signal.aborted) return false;
        this.counters.writeErrors++;
        const { error } = outcome;
        this.emit('error', error instanceof Error ? error : new Error(String(error)));
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(this.#retryTimer);
            signal.removeEventListener('abort', wake);
            this.#wakeRetry = undefined;
            resolve();
          };
          this.#wakeRetry = wake;
          this.#retryTimer = setTimeout(wake, backoff.next());
          signal.addEventListener('abort', wake);
        });
        if (signal.aborted) return false;
      }
    } finally {
      this.#current = undefined;
    }
  }

  /** `drop_newest`: gives up the batches that waited longer than maxWaitMs. */
  #expire(): void {
    this.#expiryTimer = undefined;
    const now = performance.now();
    let late = 0;
    for (const job of this.#queue) {
      if (job.enqueuedAt + this.maxWaitMs > now) break;
      if (job.done) continue;
      this.#drop(job, 'stalled');
      late++;
      if (this.#current?.job === job)
        this.#current.controller.abort(new Error(`backend ${this.backend.name}: no write within ${this.maxWaitMs} ms`));
    }
    if (late > 0) {
      this.#stalled = true;
      // The job being written stays at the head until its write settles; the rest go now.
      this.#queue = this.#queue.filter((job, i) => !job.done || (i === 0 && this.#running));
    }
    this.#armExpiry();
  }

  #armExpiry(): void {
    if (this.#expiryTimer !== undefined || this.#abandoned) return;
    const oldest = this.#queue.find((job) => !job.done);
    if (oldest === undefined) return;
    const delay = Math.max(0, oldest.enqueuedAt + this.maxWaitMs - performance.now());
    this.#expiryTimer = setTimeout(() => this.#expire(), delay);
    this.#expiryTimer.unref();
  }

  /** Marks `job` dropped; only a shutdown drop leaves its promise unsettled (not acknowledged). */
  #drop(job: Job, reason: DropReason): void {
    if (job.done) return;
    job.done = true;
    this.#queuedBytes -= job.bytes;
    this.#dropped(job.batch.length, reason);
    if (reason !== 'shutdown') job.resolve();
  }

  #dropped(entries: number, reason: DropReason): void {
    if (reason === 'queue_full') this.counters.droppedFull += entries;
    else if (reason === 'stalled') this.counters.droppedStalled += entries;
    else this.counters.droppedShutdown += entries;
    this.emit('drop', { entries, reason });
  }
}

/** The write's outcome, or 'aborted' as soon as `signal` aborts (whatever the write does). */
function settleOrAbort(write: Promise<void>, signal: AbortSignal): Promise<{ ok: true } | { ok: false; error: unknown } | 'aborted'> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const onAbort = () => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    write.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve({ ok: true });
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        resolve({ ok: false, error });
      },
    );
  });
}

import type { EntryBatch } from './batch';

/**
 * What a backend gets when it opens: the server's way to hear about its trouble, and the end of
 * its life. Everything here is optional for the server to give (a test may call `open()` bare).
 */
export interface BackendContext {
  /**
   * Reports trouble that is not the failure of one write (a lost peer, a failed rotation or
   * compression, entries it had to drop). The server names it in its log, rate-limited per
   * backend and error code; a backend never needs its own `'error'` listener wiring.
   */
  reportError?(error: Error): void;
  /** Aborted when the server closes for good: background work (reconnects, timers) stops. */
  signal?: AbortSignal;
}

/** What the server passes with each {@link Backend.write}. */
export interface BackendWriteOptions {
  /**
   * Aborted when the server gives up on this write: at the shutdown deadline, or when a
   * `drop_newest` route stops waiting for a stalled backend. The backend then stops waiting
   * (for socket room, a peer, a retry) and rejects with `signal.reason`. Entries it had already
   * handed over stay stored; the others are not, and the server does not acknowledge them. A
   * backend that ignores the signal is abandoned all the same: its promise is no longer awaited
   * for acknowledgements or shutdown, but the server makes no other write to it before it settles.
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt at this batch, 2 for its first retry, and so on. */
  readonly attempt: number;
}

/**
 * What every LogStream backend implements. The contract, which the server keeps:
 *
 * - `open` is called once before any write. `write` is called with one batch at a time: never
 *   two writes of one backend at once, and never another before the last one settled.
 * - A write that rejects is retried with the SAME `EntryBatch` object (same identity), after a
 *   backoff (100 ms, ×2, at most 5 s), until it resolves, the server closes, or (under
 *   `drop_newest`) the route gives up on it. A backend must make a retried write leave no
 *   partial or doubled entries behind (remember how far a batch got, keyed on the object).
 * - Resolving means "stored" as this backend's README defines it; the server acknowledges
 *   entries to clients only once every backend's write of them resolved. After that, the backend
 *   never throws those entries away: it may drop only what it was never told was stored.
 * - A batch's `lines` are views into socket buffers: copy what you keep after `write` settles.
 * - `close` is called once at shutdown, after the last write settled or was abandoned; the
 *   server does not wait for it beyond its own shutdown deadline.
 */
export interface Backend {
  /** A short name for logs and metric labels, e.g. `"file"`. */
  readonly name: string;
  /**
   * Prepares the sink (creates directories, opens files, checks sockets). A rejection is a
   * start-up error that names what failed.
   */
  open(context?: BackendContext): Promise<void>;
  /**
   * Stores a batch. Resolves once every entry is stored as durably as this backend's policy
   * says; the server acknowledges entries to clients only then. A rejection means the batch was
   * not (wholly) stored; see the retry rule above. Honour `options.signal`.
   */
  write(batch: EntryBatch, options: BackendWriteOptions): Promise<void>;
  /** Pushes anything buffered to the sink; the server calls it before `close` at shutdown. */
  flush(): Promise<void>;
  /** Flushes and releases everything; idempotent. */
  close(): Promise<void>;
  /** Reopens output files (after an external rotation); optional. */
  reopen?(): Promise<void>;
  /**
   * Ids of the entries stored last (newest last); optional. The server seeds its dedupe window
   * with them at start, so an entry resent after a crash is not stored twice.
   */
  recentIds?(): Promise<Iterable<string>>;
  /**
   * This backend's own metrics, read at scrape time (never per entry); optional. Each sample is
   * typed (counter or gauge) and named as Prometheus shows it; the server adds the `backend`
   * label (this backend's {@link name}). Report every metric from construction on (zero until
   * it happens), with the same name, type, help and label names on every call. Entries the
   * backend itself dropped go in the server's `logstream_dropped_entries_total` (a counter with
   * exactly one label, `reason`). When present, {@link stats} is not read for metrics.
   */
  metrics?(): readonly BackendMetric[];
  /**
   * Untyped counters (e.g. `{ dropped_disconnected: 3 }`); optional. Names are snake_case; values
   * only grow. `@logstream/metrics` exports each key as a sample of `logstream_backend_events_total`
   * (its `event` label) when {@link metrics} is absent; a new backend implements {@link metrics}.
   */
  stats?(): Readonly<Record<string, number>>;
}

/** One sample of {@link Backend.metrics}. */
export interface BackendMetric {
  /** The Prometheus name, e.g. `logstream_nats_publish_retries_total` (a counter ends in `_total`). */
  readonly name: string;
  /** What it measures, one line (Prometheus HELP); the same for every sample of a name. */
  readonly help: string;
  /** `counter`: a total that only grows while the backend lives; `gauge`: a level now. */
  readonly type: 'counter' | 'gauge';
  /** Labels besides `backend`, which the server adds (and which a backend may not set). */
  readonly labels?: Readonly<Record<string, string>>;
  /** A finite number; a counter's is never negative. */
  readonly value: number;
}

/** Reports a backend's trouble that is not the failure of one write (a lost peer, a retry). */
export interface BackendEvents {
  error: [error: Error];
}

/** The server's family of dropped entries; a backend's own drops join it with a `reason` label. */
export const DROPPED_ENTRIES_METRIC = 'logstream_dropped_entries_total';

/** The family of a backend's plain event counters that need no family of their own (`event` label). */
export const BACKEND_EVENTS_METRIC = 'logstream_backend_events_total';

const BACKEND_EVENTS_HELP =
  "Each backend's other counters, by name (journald: entries_sent, truncated, reconnects…; syslog: sent, send_errors, reconnects…; file: writes, write_errors…).";

/**
 * Counters as samples of {@link BACKEND_EVENTS_METRIC}, one per key (the key is the `event`
 * label): for a backend's counters that need no family of their own.
 */
export function backendEventSamples(counters: Readonly<Record<string, number>>): BackendMetric[] {
  return Object.entries(counters).map(([event, value]) => ({
    name: BACKEND_EVENTS_METRIC,
    help: BACKEND_EVENTS_HELP,
    type: 'counter',
    labels: { event },
    value,
  }));
}

/** `count` entries a backend dropped for `reason`, as a sample of {@link DROPPED_ENTRIES_METRIC}. */
export function droppedEntriesSample(reason: string, count: number): BackendMetric {
  return { name: DROPPED_ENTRIES_METRIC, help: 'Entries dropped, by reason.', type: 'counter', labels: { reason }, value: count };
}

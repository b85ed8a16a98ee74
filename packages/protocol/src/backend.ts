import type { EntryBatch } from './batch';

/**
 * What every LogStream backend implements. The server calls `open` once before any write,
 * then `write` with one batch at a time (it never overlaps two writes of one backend), and
 * `flush`/`close` on shutdown. `reopen` is called on SIGHUP when present.
 */
export interface Backend {
  /** A short name for logs and metric labels, e.g. `"file"`. */
  readonly name: string;
  /**
   * Prepares the sink (creates directories, opens files, checks sockets). A rejection is a
   * start-up error that names what failed.
   */
  open(): Promise<void>;
  /**
   * Stores a batch. Resolves once every entry is stored as durably as this backend's policy
   * says; the server acknowledges entries to clients only then. A rejection means the batch was
   * not (wholly) stored: the server counts it and retries the same batch with backoff, so a
   * backend must make a retried write leave no partial or doubled lines behind.
   */
  write(batch: EntryBatch): Promise<void>;
  /** Pushes anything buffered to the sink. */
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
   * Counters for metrics, read at scrape time (e.g. `{ dropped_disconnected: 3 }`); optional.
   * Names are snake_case; values only grow.
   */
  stats?(): Readonly<Record<string, number>>;
}

/** Reports a backend's trouble that is not the failure of one write (a lost peer, a retry). */
export interface BackendEvents {
  error: [error: Error];
}

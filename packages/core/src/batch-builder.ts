// Owns the batch being gathered: its lines, levels and bytes, the acks it will carry per
// connection, and when it must be written (MAX_BATCH_ENTRIES, MAX_BATCH_BYTES, MAX_BATCH_MS).
import { EntryBatch, type LogLevel } from '@logstream/protocol';

/** Entries past which the gathering batch is written at once. */
export const MAX_BATCH_ENTRIES = 8192;
/** Bytes (lines and newlines) past which the gathering batch is written at once. */
export const MAX_BATCH_BYTES = 1024 * 1024;
/**
 * Milliseconds after its first chunk began being read (checked after each chunk) at which a
 * batch is written and acked, even in the middle of a turn of the event loop. When every
 * connection has a backlog (the server fell behind for a moment) one turn reads all of them, up
 * to TURN_MS each, twice; without this bound the first entries of that turn would wait for all
 * of it to be read before their ack.
 */
export const MAX_BATCH_MS = 2;

/** A batch taken from the builder, with what it acknowledges. */
export interface GatheredBatch<K> {
  batch: EntryBatch;
  /** Bytes of its lines and newlines. */
  bytes: number;
  /** Per key (a connection), the cumulative seq acknowledged once the batch is stored. */
  acks: Map<K, number>;
}

/**
 * Gathers entries (canonical lines and their levels) into one batch until it is taken. Lines are
 * kept as they come (views of socket chunks on the fast path); acks are recorded once per chunk,
 * not per line.
 */
export class BatchBuilder<K> {
  #lines: Buffer[] = [];
  #levels: LogLevel[] = [];
  #bytes = 0;
  #acks = new Map<K, number>();
  // When the first chunk of the gathering batch began being read (0: nothing gathered).
  #startedAt = 0;

  /** Entries gathered. */
  get length(): number {
    return this.#lines.length;
  }

  /** Bytes gathered (lines and newlines). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds one entry: its canonical line (without newline) and level. */
  add(line: Buffer, level: LogLevel): void {
    this.#lines.push(line);
    this.#levels.push(level);
    this.#bytes += line.length + 1;
  }

  /**
   * Records that `key`'s lines up to `seq` are dealt with once this batch is stored;
   * `startedMs`: when the chunk that completed them began being read, `nowMs`: now (both
   * `performance.now()`). Returns true when the batch must be written now: it holds
   * MAX_BATCH_ENTRIES or MAX_BATCH_BYTES, or its first chunk began MAX_BATCH_MS ago.
   */
  note(key: K, seq: number, startedMs: number, nowMs: number): boolean {
    if (this.#startedAt === 0) this.#startedAt = startedMs;
    this.#acks.set(key, seq);
    return this.#lines.length >= MAX_BATCH_ENTRIES || this.#bytes >= MAX_BATCH_BYTES || nowMs - this.#startedAt >= MAX_BATCH_MS;
  }

  /** Records an ack for `key` up to `seq` with no entry (its last lines were refused or dropped). */
  noteAck(key: K, seq: number): void {
    this.#acks.set(key, seq);
  }

  /** The gathered batch, or undefined when there is nothing to write nor acknowledge; starts a new one. */
  take(): GatheredBatch<K> | undefined {
    this.#startedAt = 0;
    if (this.#acks.size === 0 && this.#lines.length === 0) return undefined;
    const gathered: GatheredBatch<K> = { batch: new EntryBatch(this.#lines, this.#levels), bytes: this.#bytes, acks: this.#acks };
    this.#lines = [];
    this.#levels = [];
    this.#bytes = 0;
    this.#acks = new Map();
    return gathered;
  }
}

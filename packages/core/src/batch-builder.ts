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
 * Gathers entries (canonical lines and their levels) into one batch until it is taken. Lines
 * copied back to back into one buffer, each followed by its newline (the intake's arena), are
 * kept as one NDJSON run: no object per line. Acks are recorded once per chunk, not per line.
 */
export class BatchBuilder<K> {
  #runs: Buffer[] = [];
  // Per line, the index of its newline over the runs end to end (= bytes gathered before it).
  #ends: number[] = [];
  #levels: LogLevel[] = [];
  #bytes = 0;
  // The run being extended: its buffer, where it starts and where the next line must start.
  #runBuffer: Buffer | undefined;
  #runStart = 0;
  #runEnd = 0;
  #acks = new Map<K, number>();
  // When the first chunk of the gathering batch began being read (0: nothing gathered).
  #startedAt = 0;

  /** Entries gathered. */
  get length(): number {
    return this.#levels.length;
  }

  /** Bytes gathered (lines and newlines). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Adds one entry whose canonical line is `buffer[start, end)`, followed by a newline at
   * `buffer[end]`; the bytes must not change until the batch is written. A line right after the
   * previous one in the same buffer extends its run.
   */
  addFrom(buffer: Buffer, start: number, end: number, level: LogLevel): void {
    if (buffer !== this.#runBuffer || start !== this.#runEnd) {
      this.#closeRun();
      this.#runBuffer = buffer;
      this.#runStart = start;
    }
    this.#runEnd = end + 1;
    this.#bytes += end + 1 - start;
    this.#ends.push(this.#bytes - 1);
    this.#levels.push(level);
  }

  /** Adds one entry: its canonical line (without newline, copied) and level. */
  add(line: Buffer, level: LogLevel): void {
    const copy = Buffer.allocUnsafe(line.length + 1);
    line.copy(copy);
    copy[line.length] = 0x0a;
    this.addFrom(copy, 0, line.length, level);
  }

  /** Adds one entry given as its canonical JSON text (the slow path's, the server's own). */
  addEncoded(text: string, level: LogLevel): void {
    const line = Buffer.from(`${text}\n`);
    this.addFrom(line, 0, line.length - 1, level);
  }

  #closeRun(): void {
    if (this.#runBuffer === undefined) return;
    this.#runs.push(this.#runBuffer.subarray(this.#runStart, this.#runEnd));
    this.#runBuffer = undefined;
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
    return this.#levels.length >= MAX_BATCH_ENTRIES || this.#bytes >= MAX_BATCH_BYTES || nowMs - this.#startedAt >= MAX_BATCH_MS;
  }

  /** Records an ack for `key` up to `seq` with no entry (its last lines were refused or dropped). */
  noteAck(key: K, seq: number): void {
    this.#acks.set(key, seq);
  }

  /** The gathered batch, or undefined when there is nothing to write nor acknowledge; starts a new one. */
  take(): GatheredBatch<K> | undefined {
    this.#startedAt = 0;
    if (this.#acks.size === 0 && this.#levels.length === 0) return undefined;
    this.#closeRun();
    const batch = EntryBatch.fromNdjson(this.#runs, this.#ends, this.#levels);
    const gathered: GatheredBatch<K> = { batch, bytes: this.#bytes, acks: this.#acks };
    this.#runs = [];
    this.#ends = [];
    this.#levels = [];
    this.#bytes = 0;
    this.#acks = new Map();
    return gathered;
  }
}

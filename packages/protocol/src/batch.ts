import { encodeEntry } from './canonical-line';
import type { LogEntry } from './entry';
import type { LogLevel } from './level';

/**
 * A batch of complete entries on its way to a backend. Each entry is held as its canonical JSON
 * line (the bytes the json file format writes, usually the very bytes the client sent), so a
 * backend that writes JSON never re-encodes; objects are decoded only when a backend asks.
 *
 * The server builds a batch from NDJSON runs ({@link EntryBatch.fromNdjson}): the lines are then
 * cut only when a backend asks for `lines`, and `ndjson()` hands over the run itself.
 */
export class EntryBatch {
  /** Each entry's level, same index as `lines`. */
  readonly levels: readonly LogLevel[];
  #lines: readonly Buffer[] | undefined;
  // NDJSON runs (each ending in '\n') and, per line, the index of its newline counted over the
  // runs laid end to end; or undefined when the batch was made from lines.
  #runs: readonly Buffer[] | undefined;
  #ends: readonly number[] | undefined;
  #entries: LogEntry[] | undefined;
  #ndjson: Buffer | undefined;

  /**
   * @param lines canonical JSON lines (see {@link encodeEntry}), without newlines
   * @param levels the level of each line
   * @param entries the decoded entries, when the caller has them already
   */
  constructor(lines: readonly Buffer[], levels: readonly LogLevel[], entries?: LogEntry[]) {
    this.#lines = lines;
    this.levels = levels;
    this.#entries = entries;
  }

  /**
   * A batch made from NDJSON runs: canonical lines, each followed by `\n`. `ends[i]` is the
   * index of line i's newline over the runs laid end to end; `levels[i]` its level. The runs are
   * kept as they are (no copy).
   */
  static fromNdjson(runs: readonly Buffer[], ends: readonly number[], levels: readonly LogLevel[]): EntryBatch {
    const batch = new EntryBatch([], levels);
    batch.#lines = undefined;
    batch.#runs = runs;
    batch.#ends = ends;
    return batch;
  }

  /** A batch made from entry objects (encodes each once). */
  static fromEntries(entries: readonly LogEntry[]): EntryBatch {
    return new EntryBatch(
      entries.map((e) => Buffer.from(encodeEntry(e))),
      entries.map((e) => e.level),
      [...entries],
    );
  }

  /** Each entry's canonical JSON, without a newline (views of the batch's bytes). */
  get lines(): readonly Buffer[] {
    return (this.#lines ??= this.#cutLines());
  }

  /** Number of entries. */
  get length(): number {
    return this.levels.length;
  }

  /** Bytes of the NDJSON encoding (lines plus newlines). */
  get byteLength(): number {
    if (this.#runs !== undefined) {
      let n = 0;
      for (const run of this.#runs) n += run.length;
      return n;
    }
    const lines = this.lines;
    let n = lines.length;
    for (const line of lines) n += line.length;
    return n;
  }

  #cutLines(): Buffer[] {
    const runs = this.#runs as readonly Buffer[];
    const ends = this.#ends as readonly number[];
    const lines = new Array<Buffer>(ends.length);
    let r = 0;
    let base = 0; // where run r begins, over the runs end to end
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i] as number;
      while (end >= base + (runs[r] as Buffer).length) {
        base += (runs[r] as Buffer).length;
        r++;
        start = base;
      }
      lines[i] = (runs[r] as Buffer).subarray(start - base, end - base);
      start = end + 1;
    }
    return lines;
  }

  /** The whole batch as NDJSON, each line ending in `\n`; built once. */
  ndjson(): Buffer {
    if (this.#ndjson === undefined && this.#runs !== undefined) {
      this.#ndjson = this.#runs.length === 1 ? this.#runs[0] : Buffer.concat(this.#runs);
    }
    if (this.#ndjson === undefined) {
      const lines = this.lines;
      const out = Buffer.allocUnsafe(this.byteLength);
      let at = 0;
      let i = 0;
      while (i < lines.length) {
        // Lines cut from one socket chunk or the server's arena lie back to back, each followed by
        // its '\n' there: copy such a run in one call (the bytes between them are those newlines).
        const first = lines[i] as Buffer;
        const whole = Buffer.from(first.buffer, first.byteOffset, first.buffer.byteLength - first.byteOffset);
        let end = first.length;
        let j = i + 1;
        while (j < lines.length) {
          const next = lines[j] as Buffer;
          if (next.buffer !== first.buffer || next.byteOffset - first.byteOffset !== end + 1 || whole[end] !== 0x0a) break;
          end += 1 + next.length;
          j++;
        }
        // One run holding the whole batch, its last newline included (the server's arena): the
        // bytes are already NDJSON, a view does.
        if (i === 0 && j === lines.length && whole[end] === 0x0a) {
          this.#ndjson = whole.subarray(0, end + 1);
          return this.#ndjson;
        }
        at += whole.copy(out, at, 0, end);
        out[at++] = 0x0a;
        i = j;
      }
      this.#ndjson = out;
    }
    return this.#ndjson;
  }

  /** The entries as objects, decoded on first use. */
  entries(): readonly LogEntry[] {
    if (this.#entries === undefined) {
      this.#entries = this.lines.map((line) => JSON.parse(line.toString('utf8')) as LogEntry);
    }
    return this.#entries;
  }

  /** The entries at least as severe as `minLevel` (level <= minLevel); this batch if all are. */
  filter(minLevel: LogLevel): EntryBatch {
    const levels = this.levels;
    let all = true;
    for (const level of levels) {
      if (level > minLevel) {
        all = false;
        break;
      }
    }
    if (all) return this;
    const lines: Buffer[] = [];
    const kept: LogLevel[] = [];
    const decoded = this.#entries;
    const entries: LogEntry[] | undefined = decoded === undefined ? undefined : [];
    const every = this.lines;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i] as LogLevel;
      if (level > minLevel) continue;
      lines.push(every[i] as Buffer);
      kept.push(level);
      if (entries !== undefined) entries.push((decoded as LogEntry[])[i] as LogEntry);
    }
    return new EntryBatch(lines, kept, entries);
  }
}

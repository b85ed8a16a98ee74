import { StoredEntry } from './stored-entry';
import { ACCEPT, CORRUPT, REJECT, type LineMatcher } from './entry-filter';

const NEWLINE = 0x0a;

/**
 * Cuts one file's decompressed bytes into lines and decides each one: a line cut across two
 * chunks is carried over; a gap in the data (a lost lz4 frame) drops the line it cut.
 * Damage (unparsable lines, gaps, a torn last line of an archive) is counted for one warning.
 */
export class FileScan {
  readonly file: string;
  readonly #matcher: LineMatcher;
  #carry: Buffer | undefined;
  /** Set while skipping to the entry after a cursor: lines are compared to it, not matched. */
  cursor: Buffer | undefined;
  /** In reverse reading: called when the cursor's line is met (what came before it is not wanted). */
  onCursor: ((out: StoredEntry[]) => void) | undefined;
  damagedLines = 0;
  readonly reasons: string[] = [];

  constructor(file: string, matcher: LineMatcher) {
    this.file = file;
    this.#matcher = matcher;
  }

  /** Records a problem of the file (a decompression error). */
  damage(reason: string): void {
    if (this.reasons.length < 3) this.reasons.push(reason);
  }

  /** A gap in the data: the line in progress is incomplete. */
  gap(): void {
    if (this.#carry !== undefined) {
      this.#carry = undefined;
      this.damagedLines++;
    }
  }

  /** Bytes of the unfinished line held back. */
  get carryBytes(): number {
    return this.#carry?.length ?? 0;
  }

  /** Drops the line in progress (the file was truncated in place). */
  reset(): void {
    this.#carry = undefined;
  }

  /**
   * The end of the data. For an archive, an unterminated last line is damage; for the live file
   * it is a write in progress and is left out without a word.
   */
  finish(live: boolean): void {
    if (this.#carry !== undefined && this.#carry.length > 0 && !live) {
      this.damagedLines++;
      this.damage(`last line has no newline (${this.#carry.length} bytes)`);
    }
    this.#carry = undefined;
  }

  /** Feeds one chunk; matching entries are pushed to `out`. */
  feed(chunk: Buffer, out: StoredEntry[]): void {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE);
    if (nl === -1) {
      this.#carry = this.#carry === undefined ? Buffer.from(chunk) : Buffer.concat([this.#carry, chunk]);
      return;
    }
    if (this.#carry !== undefined) {
      const line = Buffer.concat([this.#carry, chunk.subarray(0, nl)]);
      this.#carry = undefined;
      this.#line(line, out);
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    while (nl !== -1) {
      if (nl > start) this.#line(chunk.subarray(start, nl), out);
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) this.#carry = Buffer.from(chunk.subarray(start));
  }

  #line(line: Buffer, out: StoredEntry[]): void {
    if (this.cursor !== undefined) {
      const found = this.#matcher.isEntry(line, this.cursor);
      if (found === undefined) {
        this.damagedLines++;
        return;
      }
      if (this.onCursor === undefined) {
        // Forward: skip up to and including the cursor's entry.
        if (found) this.cursor = undefined;
        return;
      }
      if (found) {
        this.onCursor(out);
        return;
      }
    }
    const verdict = this.#matcher.match(line);
    if (verdict === REJECT) return;
    if (verdict === CORRUPT) {
      this.damagedLines++;
      return;
    }
    out.push(new StoredEntry(line, this.file, verdict === ACCEPT ? undefined : verdict));
  }
}

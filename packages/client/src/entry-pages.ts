import type { LogLevel } from '@logstream/protocol';
import { writeUtf8, type EntryEncoder } from './entry-encoder';

/** Bytes per page; an entry larger than this gets a page of its own. */
const PAGE_BYTES = 1024 * 1024;
/** Entry slots to start with; doubled as needed, given back when everything is acknowledged. */
const INITIAL_ENTRIES = 1024;

/**
 * The client's unacknowledged entries, encoded once into large byte pages. Per entry only its
 * page and offsets are kept (small integers), so entries cost the garbage collector nothing
 * while they wait for their ack, and sending is a view of a page (no copy, no re-encoding).
 * A page is released once every entry on it is acknowledged.
 */
export class EntryPages {
  #pages: Buffer[] = [];
  #pageUsed: number[] = [];
  // Absolute number of #pages[0]: pages are dropped from the front as they are acknowledged.
  #pageBase = 0;
  // Per entry in [#head, #total): absolute page number, start and end offsets. Typed arrays:
  // nothing for the garbage collector to trace or copy, however many entries wait.
  #entPage = new Int32Array(INITIAL_ENTRIES);
  #entStart = new Int32Array(INITIAL_ENTRIES);
  #entEnd = new Int32Array(INITIAL_ENTRIES);
  #total = 0;
  #head = 0;
  #send = 0;
  #spare: Buffer | undefined;

  /** Entries held (sent or not), until acknowledged. */
  get length(): number {
    return this.#total - this.#head;
  }

  /** Entries held and not yet sent on the current connection. */
  get unsent(): number {
    return this.#total - this.#send;
  }

  /** Entries sent on the current connection and not yet acknowledged. */
  get inFlight(): number {
    return this.#send - this.#head;
  }

  /** Bytes of page memory held now. */
  get bytes(): number {
    let n = 0;
    for (const page of this.#pages) n += page.length;
    return n;
  }

  /**
   * Encodes one entry straight into the current page (or a fresh one) and appends it; an entry
   * too large for a page is encoded as a string and gets a page of its own.
   */
  appendEntry(encoder: EntryEncoder, level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void {
    const last = this.#pages.length - 1;
    const page = this.#pages[last];
    if (page !== undefined) {
      const used = this.#pageUsed[last] as number;
      const end = encoder.encodeInto(page, used, level, message, fields);
      if (end >= 0) {
        this.#record(last, used, end);
        return;
      }
    }
    const fresh = this.#takeSpare();
    const end = encoder.encodeInto(fresh, 0, level, message, fields);
    if (end >= 0) {
      this.#pages.push(fresh);
      this.#pageUsed.push(0);
      this.#record(last + 1, 0, end);
      return;
    }
    this.#spare = fresh;
    this.append(encoder.encodeLine(level, message, fields));
  }

  /** Appends one encoded entry (a JSON line with its newline). */
  append(line: string): void {
    let last = this.#pages.length - 1;
    let page = this.#pages[last];
    let used = this.#pageUsed[last] ?? 0;
    // Worst case 3 bytes per UTF-16 unit; only near a page's end is the exact size needed.
    if (page === undefined || page.length - used < line.length * 3) {
      const need = Buffer.byteLength(line);
      if (page === undefined || page.length - used < need) {
        page = need <= PAGE_BYTES ? this.#takeSpare() : Buffer.allocUnsafe(need);
        this.#pages.push(page);
        this.#pageUsed.push(0);
        last++;
        used = 0;
      }
    }
    const written = writeUtf8(page, line, used);
    this.#record(last, used, used + written);
  }

  /** The entry at `start`–`end` of page `last` (an index into #pages) is appended. */
  #record(last: number, start: number, end: number): void {
    const at = this.#total;
    if (at === this.#entEnd.length) this.#resize(at * 2);
    this.#entPage[at] = this.#pageBase + last;
    this.#entStart[at] = start;
    this.#entEnd[at] = end;
    this.#total = at + 1;
    this.#pageUsed[last] = end;
  }

  /**
   * The next run of unsent entries that lie together on one page, as a view of that page, and
   * marks them sent; undefined when everything is sent.
   */
  nextChunk(): Buffer | undefined {
    const total = this.#total;
    if (this.#send >= total) return undefined;
    const first = this.#send;
    const page = this.#entPage[first] as number;
    let i = first + 1;
    while (i < total && this.#entPage[i] === page) i++;
    this.#send = i;
    const buf = this.#pages[page - this.#pageBase] as Buffer;
    return buf.subarray(this.#entStart[first], this.#entEnd[i - 1]);
  }

  /** The oldest `n` entries are acknowledged: forget them and release their pages. */
  ack(n: number): void {
    this.#head = Math.min(this.#head + n, this.#total);
    if (this.#send < this.#head) this.#send = this.#head;
    const total = this.#total;
    if (this.#head === total) {
      // Everything acknowledged: keep the newest page for reuse, drop the rest.
      while (this.#pages.length > 1) this.#releaseFirst();
      if (this.#pages.length === 1) this.#pageUsed[0] = 0;
      if (this.#entEnd.length > 64 * INITIAL_ENTRIES) this.#resize(INITIAL_ENTRIES);
      this.#total = 0;
      this.#head = 0;
      this.#send = 0;
      return;
    }
    const oldestPage = this.#entPage[this.#head] as number;
    while (this.#pageBase < oldestPage) this.#releaseFirst();
    if (this.#head > 4096 && this.#head * 2 > total) {
      // Move the waiting entries to the front (in place: no allocation).
      this.#entPage.copyWithin(0, this.#head, total);
      this.#entStart.copyWithin(0, this.#head, total);
      this.#entEnd.copyWithin(0, this.#head, total);
      this.#total = total - this.#head;
      this.#send -= this.#head;
      this.#head = 0;
    }
  }

  /** After a reconnect: send every unacknowledged entry again, oldest first. */
  rewind(): void {
    this.#send = this.#head;
  }

  /** New slot arrays of `capacity` (at least what is held), keeping entries [0, #total). */
  #resize(capacity: number): void {
    const grown = (old: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const next = new Int32Array(Math.max(capacity, this.#total));
      next.set(old.subarray(0, this.#total));
      return next;
    };
    this.#entPage = grown(this.#entPage);
    this.#entStart = grown(this.#entStart);
    this.#entEnd = grown(this.#entEnd);
  }

  #releaseFirst(): void {
    const page = this.#pages.shift() as Buffer;
    this.#pageUsed.shift();
    this.#pageBase++;
    if (page.length === PAGE_BYTES) this.#spare = page;
  }

  #takeSpare(): Buffer {
    const spare = this.#spare;
    this.#spare = undefined;
    return spare ?? Buffer.allocUnsafe(PAGE_BYTES);
  }
}

const LF = 0x0a;
const CR = 0x0d;

/** Receives the events of a {@link LineSplitter}. */
export interface LineSink {
  /**
   * One complete line, without its `\n` (and without a `\r` before it). The buffer may be a view
   * of the pushed chunk: copy it to keep it beyond the chunk's life. Returning `false` stops the
   * push right after this line (see {@link LineSplitter.push}).
   */
  line(line: Buffer): boolean | void;
  /** A line longer than the limit was discarded; `bytes` is its whole length. */
  oversize(bytes: number): void;
}

/** A piece of an unfinished line this long or longer may be kept as a view of its chunk. */
const MIN_VIEW_BYTES = 4096;
/** Largest buffer the splitter allocates to gather small pieces of an unfinished line. */
const MAX_GATHER_BYTES = 64 * 1024;

/**
 * Splits a byte stream into `\n`-terminated lines, enforcing a maximum line length. A line over
 * the limit is never held whole: once it passes the limit its bytes are dropped as they arrive,
 * and it is reported (with its full length) when its newline comes. So a connection never holds
 * more than `maxLineBytes` of a partial line, whatever it sends.
 *
 * The memory an unfinished line takes stays within about three times its bytes however it is
 * fed: a large piece is kept as a view of its chunk (no copy) when it is at least half of that
 * chunk's memory; small pieces are copied together into buffers that double (up to 64 KiB), so a
 * peer sending one byte at a time does not make one `Buffer` per byte. The line is copied once
 * when it completes. {@link LineSplitter.heldBytes} says how much memory that is, for a caller
 * that bounds the total over many streams.
 */
export class LineSplitter {
  readonly maxLineBytes: number;
  // The unfinished line: #parts, then #gather[0, #gatherLen). Dropped once the line completes.
  #parts: Buffer[] = [];
  #gather: Buffer | undefined;
  #gatherLen = 0;
  #len = 0;
  #held = 0;
  #discarding = false;
  #discarded = 0;

  /** @param maxLineBytes the longest accepted line, in bytes, newline not counted */
  constructor(maxLineBytes: number) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${maxLineBytes}`);
    }
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes of an unfinished line held now (at most `maxLineBytes` + 1). */
  get bufferedBytes(): number {
    return this.#len;
  }

  /**
   * Memory the unfinished line keeps alive, in bytes: the chunks it has views of, whole, and the
   * buffers its small pieces were copied into. 0 when no line is unfinished.
   */
  get heldBytes(): number {
    return this.#held;
  }

  /** True while a line has begun and its newline has not come (also while an oversized one is discarded). */
  get inLine(): boolean {
    return this.#len > 0 || this.#discarding;
  }

  /**
   * Feeds one chunk; calls the sink for each line it completes. Returns the bytes of the chunk
   * it took: all of them, unless the sink's `line()` returned `false`, in which case it stops
   * after that line's newline and the caller pushes the rest (`chunk.subarray(taken)`) later.
   */
  push(chunk: Buffer, sink: LineSink): number {
    let start = 0;
    const end = chunk.length;
    while (start < end) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        this.#hold(chunk, start, end);
        return end;
      }
      const more = this.#finish(chunk, start, nl, sink);
      start = nl + 1;
      if (!more) return start;
    }
    return end;
  }

  /** Ends the stream: a last line without a newline counts as a line. */
  end(sink: LineSink): void {
    if (this.#discarding) {
      const bytes = this.#discarded;
      this.#discarding = false;
      this.#discarded = 0;
      sink.oversize(bytes);
    } else if (this.#len > 0) {
      const line = this.#take(undefined, 0, 0);
      this.#emit(line, sink);
    }
  }

  /** Drops the unfinished line, if any, and the memory it held; nothing is reported. */
  reset(): void {
    this.#release();
    this.#discarding = false;
    this.#discarded = 0;
  }

  #release(): void {
    this.#parts = [];
    this.#gather = undefined;
    this.#gatherLen = 0;
    this.#len = 0;
    this.#held = 0;
  }

  #hold(chunk: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.#discarding) {
      this.#discarded += n;
      return;
    }
    if (this.#len + n > this.maxLineBytes + 1) {
      // +1: a `\r` of a CRLF may still be stripped from a line of exactly maxLineBytes.
      this.#discarding = true;
      this.#discarded = this.#len + n;
      this.#release();
      return;
    }
    let gather = this.#gather;
    if (gather === undefined || gather.length - this.#gatherLen < n) {
      // What does not fit in the gathering buffer closes it (wasting less than n).
      if (gather !== undefined) this.#parts.push(gather.subarray(0, this.#gatherLen));
      const backing = chunk.buffer.byteLength;
      if (n >= MIN_VIEW_BYTES && 2 * n >= backing) {
        this.#gather = undefined;
        this.#parts.push(chunk.subarray(start, end));
        this.#held += backing;
        this.#len += n;
        return;
      }
      // The first piece at its size (the next chunk usually completes the line), then doubling.
      const size = Math.min(this.maxLineBytes + 1 - this.#len, Math.max(n, Math.min(this.#len, MAX_GATHER_BYTES)));
      // Not from the shared pool: a small piece held for long must not pin a pool slab.
      this.#gather = gather = Buffer.allocUnsafeSlow(size);
      this.#gatherLen = 0;
      this.#held += size;
    }
    chunk.copy(gather, this.#gatherLen, start, end);
    this.#gatherLen += n;
    this.#len += n;
  }

  /** Completes the line ending at `nl`; false when the sink asked to stop. */
  #finish(chunk: Buffer, start: number, nl: number, sink: LineSink): boolean {
    if (this.#discarding) {
      const bytes = this.#discarded + (nl - start);
      this.#discarding = false;
      this.#discarded = 0;
      sink.oversize(bytes);
      return true;
    }
    const line = this.#len === 0 ? chunk.subarray(start, nl) : this.#take(chunk, start, nl);
    return this.#emit(line, sink);
  }

  /** The unfinished line followed by `chunk[start, end)`, in one buffer; forgets the line. */
  #take(chunk: Buffer | undefined, start: number, end: number): Buffer {
    const head = end - start;
    const gather = this.#gather;
    let line: Buffer;
    if (this.#parts.length === 0 && gather !== undefined && gather.length - this.#gatherLen >= head) {
      if (chunk !== undefined) chunk.copy(gather, this.#gatherLen, start, end);
      line = gather.subarray(0, this.#gatherLen + head);
    } else if (this.#parts.length === 1 && gather === undefined && head === 0) {
      line = this.#parts[0] as Buffer;
    } else {
      line = Buffer.allocUnsafe(this.#len + head);
      let at = 0;
      for (const part of this.#parts) at += part.copy(line, at);
      if (gather !== undefined) at += gather.copy(line, at, 0, this.#gatherLen);
      if (chunk !== undefined) chunk.copy(line, at, start, end);
    }
    this.#release();
    return line;
  }

  #emit(line: Buffer, sink: LineSink): boolean {
    const n = line.length;
    const body = n > 0 && line[n - 1] === CR ? line.subarray(0, n - 1) : line;
    if (body.length > this.maxLineBytes) {
      sink.oversize(body.length);
      return true;
    }
    return sink.line(body) !== false;
  }
}

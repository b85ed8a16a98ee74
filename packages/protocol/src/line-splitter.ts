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

/**
 * Splits a byte stream into `\n`-terminated lines, enforcing a maximum line length. A line over
 * the limit is never held whole: once it passes the limit its bytes are dropped as they arrive,
 * and it is reported (with its full length) when its newline comes. So a connection never holds
 * more than `maxLineBytes` of a partial line, whatever it sends.
 *
 * An unfinished line is held in one buffer that grows by doubling (never past `maxLineBytes` + 1),
 * so the memory it takes is at most twice its bytes however it is fed: a peer sending one byte at
 * a time does not make one `Buffer` per byte. {@link LineSplitter.heldBytes} says how much that is,
 * for a caller that bounds the total over many streams.
 */
export class LineSplitter {
  readonly maxLineBytes: number;
  // The unfinished line is #buf[0, #len); #buf is dropped once the line is complete.
  #buf: Buffer | undefined;
  #len = 0;
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

  /** Memory held for the unfinished line, in bytes (its buffer's size: at most twice `bufferedBytes`). */
  get heldBytes(): number {
    return this.#buf === undefined ? 0 : this.#buf.length;
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
      const line = (this.#buf as Buffer).subarray(0, this.#len);
      this.#release();
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
    this.#buf = undefined;
    this.#len = 0;
  }

  #hold(chunk: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.#discarding) {
      this.#discarded += n;
    } else if (this.#len + n > this.maxLineBytes + 1) {
      // +1: a `\r` of a CRLF may still be stripped from a line of exactly maxLineBytes.
      this.#discarding = true;
      this.#discarded = this.#len + n;
      this.#release();
    } else {
      const need = this.#len + n;
      let buf = this.#buf;
      if (buf === undefined || buf.length < need) {
        // The first piece is held at its size (the next chunk usually completes the line); then
        // doubling, so a line fed in many small pieces costs O(1) copies per byte.
        const size = buf === undefined ? n : Math.min(this.maxLineBytes + 1, Math.max(need, 2 * buf.length));
        // Not from the shared pool: a small tail held for long must not pin a pool slab.
        const grown = Buffer.allocUnsafeSlow(size);
        if (buf !== undefined) buf.copy(grown, 0, 0, this.#len);
        this.#buf = buf = grown;
      }
      chunk.copy(buf, this.#len, start, end);
      this.#len = need;
    }
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
    if (this.#len === 0) return this.#emit(chunk.subarray(start, nl), sink);
    const held = this.#buf as Buffer;
    const len = this.#len + (nl - start);
    let line: Buffer;
    if (held.length >= len) {
      chunk.copy(held, this.#len, start, nl);
      line = held.subarray(0, len);
    } else {
      line = Buffer.allocUnsafe(len);
      held.copy(line, 0, 0, this.#len);
      chunk.copy(line, this.#len, start, nl);
    }
    this.#release();
    return this.#emit(line, sink);
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

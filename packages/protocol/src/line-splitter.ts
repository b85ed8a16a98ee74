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
 */
export class LineSplitter {
  readonly maxLineBytes: number;
  #parts: Buffer[] = [];
  #partBytes = 0;
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
    return this.#partBytes;
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
    } else if (this.#partBytes > 0) {
      const line = this.#take(undefined, 0, 0);
      this.#emit(line, sink);
    }
  }

  #hold(chunk: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.#discarding) {
      this.#discarded += n;
    } else if (this.#partBytes + n > this.maxLineBytes + 1) {
      // +1: a `\r` of a CRLF may still be stripped from a line of exactly maxLineBytes.
      this.#discarding = true;
      this.#discarded = this.#partBytes + n;
      this.#parts = [];
      this.#partBytes = 0;
    } else {
      // Copy, so a small tail does not pin a large chunk in memory.
      this.#parts.push(Buffer.from(chunk.subarray(start, end)));
      this.#partBytes += n;
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
    const line = this.#partBytes === 0 ? chunk.subarray(start, nl) : this.#take(chunk, start, nl);
    return this.#emit(line, sink);
  }

  #take(chunk: Buffer | undefined, start: number, end: number): Buffer {
    if (chunk !== undefined && end > start) this.#parts.push(chunk.subarray(start, end));
    const line = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts);
    this.#parts = [];
    this.#partBytes = 0;
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

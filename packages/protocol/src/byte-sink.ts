// Owns the output buffer that formatters write a whole batch into: one growing Buffer, written
// byte by byte, by copies of line spans and by strings, and handed out once.

/**
 * A growing output buffer for one batch: formatters append bytes, copies of another buffer's
 * bytes and strings, then take {@link bytes}. Grows by doubling, so a batch costs a few
 * allocations, not one per entry.
 */
export class ByteSink {
  /** The buffer written so far; valid up to {@link at}. Replaced when it grows. */
  buf: Buffer;
  /** Bytes written. */
  at = 0;

  /** @param initialBytes first capacity (grows as needed) */
  constructor(initialBytes = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(64, initialBytes));
  }

  /** Makes room for `bytes` more bytes. */
  ensure(bytes: number): void {
    const need = this.at + bytes;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  /** Appends one byte. */
  byte(b: number): void {
    if (this.at >= this.buf.length) this.ensure(1);
    this.buf[this.at++] = b;
  }

  /** Appends `src[start, end)`. */
  copy(src: Buffer, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    if (n < 64) {
      const buf = this.buf;
      let at = this.at;
      for (let i = start; i < end; i++) buf[at++] = src[i] as number;
      this.at = at;
    } else {
      this.at += src.copy(this.buf, this.at, start, end);
    }
  }

  /** Appends a string of single-byte characters (ASCII or Latin-1) as those bytes. */
  latin1(s: string): void {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
    this.at = at;
  }

  /** Appends a string as UTF-8 (a lone surrogate becomes U+FFFD, as `Buffer.from` does). */
  utf8(s: string): void {
    this.ensure(s.length * 3);
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  /** Appends a non-negative integer in decimal. */
  decimal(n: number): void {
    if (n < 10) {
      this.byte(0x30 + n);
      return;
    }
    this.latin1(String(n));
  }

  /** The bytes written (a view of {@link buf}: make a new sink for the next batch). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/**
 * A FIFO of framed messages bounded by count and by bytes. Pushing past a bound drops the
 * OLDEST frames (the newest say most about the present) and reports how many were dropped.
 */
export class FrameQueue {
  readonly maxEntries: number;
  readonly maxBytes: number;
  #items: Buffer[] = [];
  #head = 0;
  #bytes = 0;

  /**
   * @param maxEntries most frames held
   * @param maxBytes most bytes held (a single frame larger than this is still held, alone)
   */
  constructor(maxEntries: number, maxBytes: number) {
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
  }

  /** Frames held. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends a frame; returns how many older frames were dropped to make room. */
  push(frame: Buffer): number {
    let dropped = 0;
    while (this.length > 0 && (this.length + 1 > this.maxEntries || this.#bytes + frame.length > this.maxBytes)) {
      this.shift();
      dropped++;
    }
    this.#items.push(frame);
    this.#bytes += frame.length;
    return dropped;
  }

  /** The oldest frame, left in place. */
  peek(): Buffer | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the oldest frame. */
  shift(): Buffer | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const frame = this.#items[this.#head] as Buffer;
    this.#items[this.#head] = EMPTY;
    this.#head++;
    this.#bytes -= frame.length;
    // Compact now and then so that shifting stays O(1) amortised without an ever-growing array.
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return frame;
  }

  /**
   * Removes oldest frames up to `maxBytes` in total (at least one frame when not empty) and
   * returns them, for one coalesced stream write.
   */
  take(maxBytes: number): Buffer[] {
    const out: Buffer[] = [];
    let bytes = 0;
    while (this.length > 0) {
      const next = this.#items[this.#head] as Buffer;
      if (out.length > 0 && bytes + next.length > maxBytes) break;
      out.push(this.shift() as Buffer);
      bytes += next.length;
    }
    return out;
  }

  /** Removes everything; returns how many frames were removed. */
  clear(): number {
    const n = this.length;
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    return n;
  }
}

const EMPTY = Buffer.alloc(0);

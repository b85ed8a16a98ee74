/** One framed message on its way to the peer. */
export interface Frame {
  /** The bytes to send (one datagram, or one framed message on a stream). */
  readonly data: Buffer;
  /** Position in the order of `write()` calls, from 1; a transport confirms frames in this order. */
  readonly seq: number;
  /** The write that queued it, so that an aborted write can take its frames back. */
  readonly owner: object;
}

/**
 * A FIFO of framed messages with soft bounds by count and by bytes. It never evicts: the writer
 * asks {@link hasRoom} and waits when the answer is no, so nothing it holds was dropped to make
 * room for something newer.
 */
export class FrameQueue {
  readonly maxEntries: number;
  readonly maxBytes: number;
  #items: Frame[] = [];
  #head = 0;
  #bytes = 0;

  /**
   * @param maxEntries most frames {@link hasRoom} admits
   * @param maxBytes most bytes {@link hasRoom} admits (a single larger frame is admitted alone)
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

  /** True when a frame of `bytes` fits within both bounds now (always true when empty). */
  hasRoom(bytes: number): boolean {
    const n = this.length;
    return n === 0 || (n < this.maxEntries && this.#bytes + bytes <= this.maxBytes);
  }

  /** Appends a frame (even past the bounds: checking {@link hasRoom} first is the writer's job). */
  push(frame: Frame): void {
    this.#items.push(frame);
    this.#bytes += frame.data.length;
  }

  /**
   * Puts frames a transport took but could not hand to the kernel back at the head, in their
   * order, ahead of everything queued since.
   */
  unshift(frames: readonly Frame[]): void {
    if (frames.length === 0) return;
    for (const frame of frames) this.#bytes += frame.data.length;
    if (this.#head >= frames.length) {
      this.#head -= frames.length;
      for (let i = 0; i < frames.length; i++) this.#items[this.#head + i] = frames[i] as Frame;
    } else {
      this.#items = [...frames, ...this.#items.slice(this.#head)];
      this.#head = 0;
    }
  }

  /** The oldest frame, left in place. */
  peek(): Frame | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the oldest frame. */
  shift(): Frame | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const frame = this.#items[this.#head] as Frame;
    this.#items[this.#head] = EMPTY;
    this.#head++;
    this.#bytes -= frame.data.length;
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
  take(maxBytes: number): Frame[] {
    const out: Frame[] = [];
    let bytes = 0;
    while (this.length > 0) {
      const next = this.#items[this.#head] as Frame;
      if (out.length > 0 && bytes + next.data.length > maxBytes) break;
      out.push(this.shift() as Frame);
      bytes += next.data.length;
    }
    return out;
  }

  /** Removes every frame queued by `owner`; returns how many were removed. */
  removeOwned(owner: object): number {
    const kept: Frame[] = [];
    let removed = 0;
    for (let i = this.#head; i < this.#items.length; i++) {
      const frame = this.#items[i] as Frame;
      if (frame.owner === owner) {
        removed++;
        this.#bytes -= frame.data.length;
      } else {
        kept.push(frame);
      }
    }
    if (removed > 0) {
      this.#items = kept;
      this.#head = 0;
    }
    return removed;
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

const EMPTY: Frame = { data: Buffer.alloc(0), seq: 0, owner: {} };

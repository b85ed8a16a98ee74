/**
 * Counts events over a sliding time window with fixed buckets, in constant memory: how many
 * frames were handed to a connection lately (and might die with it).
 */
export class RecentCounter {
  readonly #bucketMs: number;
  readonly #counts: number[];
  readonly #stamps: number[];
  readonly #now: () => number;

  /**
   * @param windowMs length of the window, in ms
   * @param buckets resolution (the window is rounded up to whole buckets)
   * @param now clock, in ms
   */
  constructor(windowMs: number, buckets = 20, now: () => number = () => performance.now()) {
    this.#bucketMs = Math.max(1, Math.ceil(windowMs / buckets));
    this.#counts = new Array<number>(buckets + 1).fill(0);
    this.#stamps = new Array<number>(buckets + 1).fill(-1);
    this.#now = now;
  }

  /** Records `n` events now. */
  add(n: number): void {
    const slot = Math.floor(this.#now() / this.#bucketMs);
    const i = slot % this.#counts.length;
    if (this.#stamps[i] !== slot) {
      this.#stamps[i] = slot;
      this.#counts[i] = 0;
    }
    this.#counts[i] = (this.#counts[i] as number) + n;
  }

  /** Events recorded within the window (rounded up to whole buckets, so never fewer). */
  total(): number {
    const slot = Math.floor(this.#now() / this.#bucketMs);
    const oldest = slot - (this.#counts.length - 1);
    let sum = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      const stamp = this.#stamps[i] as number;
      if (stamp >= oldest && stamp <= slot) sum += this.#counts[i] as number;
    }
    return sum;
  }

  /** Forgets everything. */
  reset(): void {
    this.#counts.fill(0);
    this.#stamps.fill(-1);
  }
}

/** First reconnect delay, in ms. */
export const BACKOFF_FIRST_MS = 100;
/** Longest reconnect delay, in ms. */
export const BACKOFF_MAX_MS = 5000;

/**
 * LogStream's one retry policy, for reconnects and failed writes alike: 100 ms, ×2 per failure,
 * at most 5 s, each delay spread by ±20 % jitter so that many senders that lost the same peer
 * do not come back in lock step.
 */
export class Backoff {
  #next = BACKOFF_FIRST_MS;
  readonly #random: () => number;

  /** @param random source of jitter in [0, 1) */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** The delay to wait now, in ms; doubles the next one. */
  next(): number {
    const base = this.#next;
    this.#next = Math.min(this.#next * 2, BACKOFF_MAX_MS);
    return Math.round(base * (0.8 + 0.4 * this.#random()));
  }

  /** Starts again from 100 ms (after a connection succeeded). */
  reset(): void {
    this.#next = BACKOFF_FIRST_MS;
  }
}

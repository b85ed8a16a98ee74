/** Default length of a rate-limit window, in ms (journald's `RateLimitIntervalSec=30s`). */
export const DEFAULT_RATE_LIMIT_INTERVAL_MS = 30_000;
/** Default burst of the rate limit: 0, off (a benchmark or a bulk import is never throttled by surprise). */
export const DEFAULT_RATE_LIMIT_BURST = 0;
/** Number of senders whose windows are remembered at once (see {@link RateLimiter}). */
const DEFAULT_RATE_LIMIT_MAX_SENDERS = 65_536;

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Length of a window, in ms; a sender's window opens at its first entry. */
  intervalMs: number;
  /** Entries a sender may have stored per window; more than 0. */
  burst: number;
  /**
   * Windows remembered at once. Past it (more distinct senders within one interval, e.g. pid
   * churn) the oldest windows end early. Default 65536.
   */
  maxSenders?: number;
  /**
   * Called once per window that dropped entries, when it ends: at the sender's next entry
   * after it, by a timer for a sender that went quiet, early when evicted, or at `flush()`.
   */
  onSuppressed: (sender: string, count: number) => void;
}

interface RateWindow {
  openedAtMs: number;
  /** Number of this window, the same for every drop in it (see {@link RateLimiter.take}). */
  serial: number;
  stored: number;
  suppressed: number;
}

/**
 * Per-sender rate limit, like journald's `RateLimitIntervalSec` / `RateLimitBurst`: each sender
 * may have `burst` entries stored per window of `intervalMs`; what it sends past the burst
 * within the window is dropped and counted, and when the window ends the count is told once
 * (`onSuppressed`).
 *
 * Memory is one small record per sender heard within the last interval. Windows are kept in
 * the order they opened, so the expired ones are at the head: a timer armed for the oldest
 * evicts them, and a map that reaches `maxSenders` ends its oldest windows early. A sender is a
 * string the caller chooses (the server: the kernel's word on the peer, see `senderKey`).
 */
export class RateLimiter {
  readonly intervalMs: number;
  readonly burst: number;
  readonly maxSenders: number;
  readonly #onSuppressed: (sender: string, count: number) => void;
  readonly #windows = new Map<string, RateWindow>();
  #serial = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastSender: string | undefined;
  #lastWindow: RateWindow | undefined;

  /** @throws RangeError for an interval or burst that is not a positive integer */
  constructor(options: RateLimiterOptions) {
    const { intervalMs, burst } = options;
    if (!Number.isInteger(intervalMs) || intervalMs <= 0) throw new RangeError(`intervalMs must be a positive integer, got ${intervalMs}`);
    if (!Number.isInteger(burst) || burst <= 0) throw new RangeError(`burst must be a positive integer, got ${burst}`);
    this.intervalMs = intervalMs;
    this.burst = burst;
    this.maxSenders = options.maxSenders ?? DEFAULT_RATE_LIMIT_MAX_SENDERS;
    this.#onSuppressed = options.onSuppressed;
  }

  /** Senders whose window is open now. */
  get size(): number {
    return this.#windows.size;
  }

  /**
   * Counts one entry of `sender` at `nowMs` (`Date.now()` or close to it).
   * @returns 0 when the entry may be stored; else the number (≥ 1) of the window that drops it,
   *   the same for every drop of one window, so that a caller can tell each sender once per window
   */
  take(sender: string, nowMs: number): number {
    // Lines come in runs from one connection: the last sender's window is kept at hand.
    let window = sender === this.#lastSender ? this.#lastWindow : this.#windows.get(sender);
    if (window === undefined || !this.#open(window, nowMs)) {
      if (window !== undefined) this.#end(sender, window);
      window = { openedAtMs: nowMs, serial: ++this.#serial, stored: 0, suppressed: 0 };
      if (this.#windows.size >= this.maxSenders) this.#evictOldest();
      this.#windows.set(sender, window);
      this.#timer ??= setTimeout(() => this.#sweep(), this.intervalMs).unref();
    }
    this.#lastSender = sender;
    this.#lastWindow = window;
    if (window.stored < this.burst) {
      window.stored++;
      return 0;
    }
    window.suppressed++;
    return window.serial;
  }

  /** Ends every window at once, telling what each dropped (at shutdown). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [sender, window] of this.#windows) this.#end(sender, window);
  }

  /** Whether `window` still runs at `nowMs` (a clock that went back ends it: it must not last). */
  #open(window: RateWindow, nowMs: number): boolean {
    const age = nowMs - window.openedAtMs;
    return age >= 0 && age < this.intervalMs;
  }

  #end(sender: string, window: RateWindow): void {
    this.#windows.delete(sender);
    if (window === this.#lastWindow) {
      this.#lastSender = undefined;
      this.#lastWindow = undefined;
    }
    if (window.suppressed > 0) this.#onSuppressed(sender, window.suppressed);
  }

  #evictOldest(): void {
    for (const [sender, window] of this.#windows) {
      this.#end(sender, window);
      return;
    }
  }

  /** Ends the expired windows (the oldest first: they are at the head) and re-arms for the next. */
  #sweep(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (const [sender, window] of this.#windows) {
      if (this.#open(window, now)) {
        this.#timer = setTimeout(() => this.#sweep(), window.openedAtMs + this.intervalMs - now).unref();
        return;
      }
      this.#end(sender, window);
    }
  }
}

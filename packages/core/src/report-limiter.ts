/**
 * Rate-limits what the server says about recurring trouble: one line per cause per interval. The
 * first occurrence of a cause is told at once; repeats within the interval are added up and told
 * in one line when it ends ("… 5230 entries in the last 10 s"), so a flood of failures costs one
 * line per interval, and no cause hides another.
 */
export class ReportLimiter {
  readonly intervalMs: number;
  readonly #tell: (text: string) => void;
  readonly #windows = new Map<string, { pending: number; describe: (count: number) => string; timer: NodeJS.Timeout }>();

  /**
   * @param intervalMs the interval, in ms
   * @param tell called with each line to say
   */
  constructor(intervalMs: number, tell: (text: string) => void) {
    this.intervalMs = intervalMs;
    this.#tell = tell;
  }

  /**
   * Notes `count` occurrences of `cause`; `describe(n)` words n of them as one line.
   */
  note(cause: string, count: number, describe: (count: number) => string): void {
    const window = this.#windows.get(cause);
    if (window !== undefined) {
      window.pending += count;
      window.describe = describe;
      return;
    }
    this.#tell(describe(count));
    this.#open(cause, describe);
  }

  /** Says what is pending now and forgets every window (at shutdown). */
  flush(): void {
    for (const [cause, window] of this.#windows) {
      clearTimeout(window.timer);
      this.#windows.delete(cause);
      if (window.pending > 0) this.#tell(`${window.describe(window.pending)} since the last report`);
    }
  }

  #open(cause: string, describe: (count: number) => string): void {
    const timer = setTimeout(() => {
      const window = this.#windows.get(cause);
      this.#windows.delete(cause);
      if (window === undefined || window.pending === 0) return;
      this.#tell(`${window.describe(window.pending)} in the last ${this.intervalMs / 1000} s`);
      this.#open(cause, window.describe);
    }, this.intervalMs);
    timer.unref();
    this.#windows.set(cause, { pending: 0, describe, timer });
  }
}

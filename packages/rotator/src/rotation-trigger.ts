// Owns when the live file rotates: before a write that would take it past its size limit, once
// it is older than its age limit (a timer), and never again before a failed rotation's backoff
// has passed.
import { Backoff } from '@logstream/protocol';

// setTimeout fires at once for delays above 2^31-1 ms; longer ages are re-checked when it fires.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The rotation policy of a {@link RotationTrigger}. */
export interface RotationPolicy {
  /** Rotate at all (by size and by age). */
  enabled: boolean;
  /** Largest live file a write may make. */
  maxFileBytes: number;
  /** Age of a live file that makes it rotate; 0 or Infinity: never by age. */
  maxAgeMs: number;
}

/** Decides when to rotate; calls `onAge` when the age timer fires. */
export class RotationTrigger {
  readonly #policy: RotationPolicy;
  readonly #onAge: () => void;
  readonly #backoff = new Backoff();
  #retryAtMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(policy: RotationPolicy, onAge: () => void) {
    this.#policy = policy;
    this.#onAge = onAge;
  }

  /** Whether a write of `bytes` onto a live file of `size` bytes must rotate first. */
  bySize(size: number, bytes: number): boolean {
    return this.#policy.enabled && size > 0 && size + bytes > this.#policy.maxFileBytes;
  }

  /** Whether a live file born at `bornMs` is old enough to rotate. */
  byAge(bornMs: number): boolean {
    return Date.now() - bornMs >= this.#policy.maxAgeMs;
  }

  /** Whether a rotation may be tried now: no failed one is waiting out its backoff. */
  mayTry(): boolean {
    return Date.now() >= this.#retryAtMs;
  }

  /** A rotation succeeded: the next failure waits the shortest delay again. */
  succeeded(): void {
    this.#backoff.reset();
    this.#retryAtMs = 0;
  }

  /** A rotation failed: none is tried before the backoff passed. */
  failed(): void {
    this.#retryAtMs = Date.now() + this.#backoff.next();
  }

  /** (Re)arms the age timer for a live file born at `bornMs` (or a retry due earlier). */
  arm(bornMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const { enabled, maxAgeMs } = this.#policy;
    if (this.#stopped || !enabled || !(maxAgeMs > 0) || maxAgeMs === Infinity) return;
    const due = Math.max(bornMs + maxAgeMs, this.#retryAtMs);
    const delay = Math.min(Math.max(0, due - Date.now()), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#onAge();
    }, delay);
    this.#timer.unref();
  }

  /** Stops the age timer for good. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

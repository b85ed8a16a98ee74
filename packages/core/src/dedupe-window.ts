import { IdWindow } from './id-window';

/** Default of {@link DedupeWindowOptions.seedHoldMs}. */
export const DEFAULT_SEED_HOLD_MS = 60_000;

/** Options of {@link DedupeWindow}. */
export interface DedupeWindowOptions {
  /**
   * How long ids given to {@link DedupeWindow.seed} are kept, in ms, whatever else arrives.
   * Default 60000: a client retries every 5 s at most (its backoff cap), so every client of a
   * restarted server is back and has resent well within it.
   */
  seedHoldMs?: number;
}

/**
 * The server's memory of entry ids, to drop an entry a client sends again after a reconnect.
 *
 * Two parts. The last `capacity` ids that arrived ({@link IdWindow}, first in first out). And
 * the ids read back from storage when the server starts ({@link seed}): those are the entries a
 * crash may have stored without acknowledging, and their clients resend them only once they are
 * back, each after its own backoff. Meanwhile the clients that came back first may send more
 * than `capacity` new entries, which would push the seed out of a first-in-first-out window and
 * let a late client's resend be stored twice. So the seed is kept apart, for `seedHoldMs`, and
 * never evicted by new entries.
 *
 * Memory: that of the {@link IdWindow} (~11 MiB for 65536), plus ~150 bytes per seeded id while
 * the seed is held.
 */
export class DedupeWindow {
  readonly capacity: number;
  readonly seedHoldMs: number;
  readonly #recent: IdWindow;
  #seed: IdWindow | undefined;
  #seedIds: string[] = [];
  #seedTimer: NodeJS.Timeout | undefined;

  /** @throws RangeError when `capacity` is not a positive integer */
  constructor(capacity: number, options: DedupeWindowOptions = {}) {
    this.capacity = capacity;
    this.seedHoldMs = options.seedHoldMs ?? DEFAULT_SEED_HOLD_MS;
    this.#recent = new IdWindow(capacity);
  }

  /** Number of ids remembered now (recent ones and the held seed). */
  get size(): number {
    return this.#recent.size + this.#seedIds.length;
  }

  /** Number of seeded ids held now. */
  get seeded(): number {
    return this.#seedIds.length;
  }

  /**
   * Remembers `ids` (read back from storage at start) apart from the recent ids, for
   * `seedHoldMs` from now; a later call adds to the seed and restarts the hold.
   */
  seed(ids: Iterable<string>): void {
    const added = [...ids];
    if (added.length === 0) return;
    this.#seedIds = this.#seedIds.concat(added);
    const seed = new IdWindow(this.#seedIds.length);
    for (const id of this.#seedIds) seed.add(id);
    this.#seed = seed;
    clearTimeout(this.#seedTimer);
    this.#seedTimer = setTimeout(() => this.releaseSeed(), this.seedHoldMs);
    this.#seedTimer.unref();
  }

  /** Forgets the seed now; the hold timer set by {@link seed} calls it after `seedHoldMs`. */
  releaseSeed(): void {
    clearTimeout(this.#seedTimer);
    this.#seedTimer = undefined;
    this.#seed = undefined;
    this.#seedIds = [];
  }

  /** Adds the id whose UTF-8 bytes are `buf[start, end)`; false when it is a repeat. */
  addBytes(buf: Buffer, start: number, end: number): boolean {
    if (this.#seed !== undefined && this.#seed.hasBytes(buf, start, end)) return false;
    return this.#recent.addBytes(buf, start, end);
  }

  /** Adds `id`; false when it is a repeat. */
  add(id: string): boolean {
    if (this.#seed !== undefined && this.#seed.has(id)) return false;
    return this.#recent.add(id);
  }

  /** True when `id` is remembered. */
  has(id: string): boolean {
    return (this.#seed !== undefined && this.#seed.has(id)) || this.#recent.has(id);
  }
}

// Owns how an append reaches the kernel: straight from the event loop (`writeSync`) while such
// writes stay within their time budget, through the thread pool for a while after one did not,
// and letting the event loop turn between back-to-back direct writes.
import { writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

/** How long appends go through the thread pool after a direct write was slow, in ms. */
export const POOL_WRITES_AFTER_SLOW_MS = 10_000;

/** A direct write that lets no event-loop turn happen for this long waits for one first, in ms. */
const STARVED_LOOP_MS = 5;

/**
 * Writes part of a buffer to a file, directly or through the thread pool. A page-cache write of
 * a batch takes microseconds, and skipping the thread pool's round trip shortens every
 * acknowledgement; a disk under writeback pressure or a network file system must not hold the
 * event loop, so after a direct write slower than the budget, writes use the pool for
 * {@link POOL_WRITES_AFTER_SLOW_MS}.
 */
export class DirectWritePolicy {
  readonly #budgetMs: number;
  #poolWritesUntil = 0;
  #slowWrites = 0;
  // When the event loop last turned after a direct write (see #letLoopTurn).
  #turnSeenAt = 0;
  #turnProbe = false;

  /** @param budgetMs longest a direct write may take before writes go to the pool; 0: always the pool */
  constructor(budgetMs: number) {
    this.#budgetMs = budgetMs;
  }

  /** Direct writes that took longer than the budget. */
  get slowWrites(): number {
    return this.#slowWrites;
  }

  /** Writes `data[offset..]` (some or all of it) to `handle`; returns the bytes written. */
  async write(handle: FileHandle, data: Buffer, offset: number): Promise<number> {
    if (this.#budgetMs > 0 && Date.now() >= this.#poolWritesUntil) {
      const turn = this.#letLoopTurn();
      if (turn !== undefined) await turn;
      const started = performance.now();
      const written = writeSync(handle.fd, data, offset, data.length - offset);
      if (performance.now() - started > this.#budgetMs) {
        this.#slowWrites += 1;
        this.#poolWritesUntil = Date.now() + POOL_WRITES_AFTER_SLOW_MS;
      }
      return written;
    }
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    return bytesWritten;
  }

  /**
   * A direct write never waits for the event loop, so a caller writing in a loop would starve
   * it (timers, background compression). Each direct write arms a probe for the next turn; when
   * none came for 5 ms, this returns a promise that resolves after one turn, to await before
   * writing; otherwise `undefined`, so the usual write pays for no promise. A server, whose
   * writes come from the event loop, never waits here.
   */
  #letLoopTurn(): Promise<void> | undefined {
    const now = performance.now();
    if (now - this.#turnSeenAt > STARVED_LOOP_MS && this.#turnSeenAt > 0) {
      return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.#turnSeenAt = performance.now();
        this.#armTurnProbe();
      });
    }
    if (this.#turnSeenAt === 0) this.#turnSeenAt = now;
    this.#armTurnProbe();
    return undefined;
  }

  #armTurnProbe(): void {
    if (this.#turnProbe) return;
    this.#turnProbe = true;
    setImmediate(() => {
      this.#turnProbe = false;
      this.#turnSeenAt = performance.now();
    });
  }
}

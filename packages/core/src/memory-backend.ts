import type { Backend, BackendWriteOptions, EntryBatch, LogEntry } from '@logstream/protocol';

/**
 * A backend that keeps entries in memory: the shared test double, and a sink for embedding.
 * `failNext(n)` makes the next n writes reject; `hold()` stalls writes until `release()` (or
 * until the server aborts them).
 */
export class MemoryBackend implements Backend {
  readonly name: string;
  readonly entries: LogEntry[] = [];
  #failures = 0;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  writes = 0;

  constructor(name = 'memory') {
    this.name = name;
  }

  async open(): Promise<void> {}

  async write(batch: EntryBatch, options?: BackendWriteOptions): Promise<void> {
    this.writes++;
    const signal = options?.signal;
    if (this.#gate !== undefined) {
      // A held write gives up when the server aborts it, as every backend should.
      await Promise.race([this.#gate, new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }))]);
      if (signal?.aborted) throw signal.reason;
    }
    if (this.#failures > 0) {
      this.#failures--;
      throw new Error('memory backend: injected failure');
    }
    for (const entry of batch.entries()) this.entries.push(entry);
  }

  /** Makes the next `n` writes reject. */
  failNext(n: number): void {
    this.#failures = n;
  }

  /** Stalls every write until {@link release}. */
  hold(): void {
    this.#gate ??= new Promise<void>((resolve) => (this.#open = resolve));
  }

  /** Lets stalled writes go on. */
  release(): void {
    this.#open?.();
    this.#gate = undefined;
    this.#open = undefined;
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

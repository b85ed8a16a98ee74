import { describe, expect, it } from 'vitest';
import { EntryBatch, type Backend, type BackendWriteOptions } from '@logstream/protocol';
import { BackendRoute, type RouteDrop } from './backend-route';
import { MemoryBackend } from './memory-backend';

const batch = (n: number, from = 0): EntryBatch =>
  new EntryBatch(
    Array.from({ length: n }, (_, i) => Buffer.from(`{"message":"m${from + i}"}`)),
    Array.from({ length: n }, () => 6 as const),
  );

/** Settles to 'pending' if `p` has not settled after `ms`. */
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'pending'> =>
  Promise.race([p, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms))]);

describe('BackendRoute', () => {
  it('drop_newest: a stalled backend holds a batch at most maxWaitMs, then drops new batches at once until it works again', async () => {
    const memory = new MemoryBackend();
    const route = new BackendRoute({ backend: memory, whenFull: 'drop_newest', maxWaitMs: 50 });
    const drops: RouteDrop[] = [];
    route.on('drop', (d) => drops.push(d));
    memory.hold();
    const first = route.enqueue(batch(3));
    expect(await within(first, 20)).toBe('pending');
    expect(await within(first, 500)).toBeUndefined();
    expect(drops).toEqual([{ entries: 3, reason: 'stalled' }]);
    // Stalled: the next batch waits for the backend to show it works; the one after goes at once.
    const probe = route.enqueue(batch(2, 3));
    expect(await within(route.enqueue(batch(4, 5)), 5)).toBeUndefined();
    expect(drops.at(-1)).toEqual({ entries: 4, reason: 'stalled' });
    memory.release();
    await probe;
    await route.enqueue(batch(1, 9));
    expect(memory.entries.map((e) => e.message)).toEqual(['m3', 'm4', 'm9']);
    expect(route.counters.droppedStalled).toBe(7);
  });

  it('drop_newest: a failing backend is retried with the same batch until maxWaitMs, then the batch is dropped', async () => {
    const seen: { batch: EntryBatch; attempt: number }[] = [];
    const failing: Backend = {
      name: 'failing',
      open: async () => undefined,
      write: async (b: EntryBatch, o: BackendWriteOptions) => {
        seen.push({ batch: b, attempt: o.attempt });
        throw new Error('down');
      },
      flush: async () => undefined,
      close: async () => undefined,
    };
    const route = new BackendRoute({ backend: failing, whenFull: 'drop_newest', maxWaitMs: 300 });
    route.on('error', () => undefined);
    await route.enqueue(batch(2));
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((s) => s.batch === seen[0]?.batch)).toBe(true);
    expect(seen.map((s) => s.attempt)).toEqual(seen.map((_, i) => i + 1));
    expect(route.counters.droppedStalled).toBe(2);
  });

  it('block: abandon() aborts a write that waits, idle() resolves, and the batch is never acknowledged', async () => {
    const memory = new MemoryBackend();
    const route = new BackendRoute({ backend: memory });
    memory.hold();
    const stored = route.enqueue(batch(3));
    const queued = route.enqueue(batch(2, 3));
    expect(await within(stored, 50)).toBe('pending');
    route.abandon();
    await route.idle();
    expect(await within(Promise.race([stored, queued]), 50)).toBe('pending');
    expect(route.counters.droppedShutdown).toBe(5);
    expect(memory.entries).toHaveLength(0);
  });

  it('never writes again before a write it gave up on has settled, even when the backend ignores the signal', async () => {
    let release: () => void = () => undefined;
    let inFlight = 0;
    let overlapped = false;
    const stubborn: Backend = {
      name: 'stubborn',
      open: async () => undefined,
      write: async () => {
        if (++inFlight > 1) overlapped = true;
        await new Promise<void>((resolve) => (release = resolve));
        inFlight--;
      },
      flush: async () => undefined,
      close: async () => undefined,
    };
    const route = new BackendRoute({ backend: stubborn, whenFull: 'drop_newest', maxWaitMs: 30 });
    await route.enqueue(batch(1));
    const next = route.enqueue(batch(1, 1));
    await new Promise((r) => setTimeout(r, 100));
    expect(overlapped).toBe(false);
    release();
    await next;
    expect(overlapped).toBe(false);
  });

  it('retryNow() retries a failing block write at once instead of after its backoff', async () => {
    const memory = new MemoryBackend();
    const route = new BackendRoute({ backend: memory });
    route.on('error', () => undefined);
    memory.failNext(2);
    const stored = route.enqueue(batch(1));
    await new Promise((r) => setTimeout(r, 20));
    route.retryNow();
    route.retryNow();
    await new Promise((r) => setTimeout(r, 20));
    route.retryNow();
    expect(await within(stored, 50)).toBeUndefined();
    expect(route.counters.writeErrors).toBe(2);
  });
});

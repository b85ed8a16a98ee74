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
    // maxWaitMs well above the 20 ms look: a loaded machine must not turn "held" into "dropped".
    const route = new BackendRoute({ backend: memory, whenFull: 'drop_newest', maxWaitMs: 400 });
    const drops: RouteDrop[] = [];
    route.on('drop', (d) => drops.push(d));
    memory.hold();
    const first = route.enqueue(batch(3));
    expect(await within(first, 20)).toBe('pending');
    expect(await within(first, 10_000)).toBeUndefined();
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

  it('drop_newest: a batch that does not fit the queue is dropped at once (queue_full); what fits is still stored, in order', async () => {
    const memory = new MemoryBackend();
    const first = batch(3);
    const small = batch(1, 9);
    const route = new BackendRoute({
      backend: memory,
      whenFull: 'drop_newest',
      maxQueuedBytes: first.byteLength + small.byteLength,
      maxWaitMs: 60_000,
    });
    const drops: RouteDrop[] = [];
    route.on('drop', (d) => drops.push(d));
    memory.hold();
    const stored = route.enqueue(first);
    // Resolved without waiting for the held backend: dropped, not queued.
    await route.enqueue(batch(3, 3));
    expect(drops).toEqual([{ entries: 3, reason: 'queue_full' }]);
    const fits = route.enqueue(small);
    expect(route.queuedBytes).toBe(first.byteLength + small.byteLength);
    memory.release();
    await Promise.all([stored, fits]);
    expect(memory.entries.map((e) => e.message)).toEqual(['m0', 'm1', 'm2', 'm9']);
    expect(route.counters).toMatchObject({ droppedFull: 3, droppedStalled: 0, entriesWritten: 4 });
    expect(route.queuedBytes).toBe(0);
  });

  it('block: is full past maxQueuedBytes and drops nothing; every batch is stored once the backend takes them', async () => {
    const memory = new MemoryBackend();
    const route = new BackendRoute({ backend: memory, maxQueuedBytes: 1 });
    const drops: RouteDrop[] = [];
    route.on('drop', (d) => drops.push(d));
    memory.hold();
    const all = [route.enqueue(batch(2)), route.enqueue(batch(2, 2)), route.enqueue(batch(2, 4))];
    expect(route.full).toBe(true);
    expect(route.queuedBatches).toBe(3);
    memory.release();
    await Promise.all(all);
    expect(route.full).toBe(false);
    expect(drops).toEqual([]);
    expect(memory.entries.map((e) => e.message)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('minLevel: only entries at least that severe are written; a batch with none is done without a write', async () => {
    const memory = new MemoryBackend();
    const route = new BackendRoute({ backend: memory, minLevel: 4 });
    const levels = [3, 6, 4, 7] as const;
    await route.enqueue(
      new EntryBatch(
        levels.map((l) => Buffer.from(`{"message":"level ${l}"}`)),
        [...levels],
      ),
    );
    await route.enqueue(new EntryBatch([Buffer.from('{"message":"debug"}')], [7]));
    expect(memory.entries.map((e) => e.message)).toEqual(['level 3', 'level 4']);
    expect(memory.writes).toBe(1);
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

import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { EntryBatch } from '@logstream/protocol';
import { SyslogBackend, type SyslogBackendOptions } from '../src/index';
import { until } from '@logstream/test-support';
import { seqBatch, seqOf, type SeqEntryShape } from './helpers/seq-batch';
import { TcpPeer } from './helpers/tcp-peer';

// A real TCP peer that accepts and does not read (node:net, pauseOnConnect): the kernel's
// buffers fill, then the backend's. Nothing here is a mock: the stall is the kernel's.
const peers: TcpPeer[] = [];
const backends: SyslogBackend[] = [];

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

async function stalledPeer(): Promise<TcpPeer> {
  const peer = await TcpPeer.start();
  peers.push(peer);
  return peer;
}

function makeBackend(options: SyslogBackendOptions, errors: Error[] = []): SyslogBackend {
  const backend = new SyslogBackend({ flushTimeoutMs: 200, ...options });
  backend.on('error', (error) => errors.push(error));
  backends.push(backend);
  return backend;
}

/** Entries of about 2 KB on the wire. */
const SHAPE: SeqEntryShape = { daemon: 'stall-test', pid: 7, tail: 'x'.repeat(2000), fields: () => ({}) };
const batch = (run: string, from: number, n: number): EntryBatch => seqBatch(run, from, n, SHAPE);

/** How many times each seq of `run` arrived. */
function arrivals(peer: TcpPeer, run: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const m of peer.messages()) {
    if (!m.includes(run)) continue;
    const seq = seqOf(m);
    counts.set(seq, (counts.get(seq) ?? 0) + 1);
  }
  return counts;
}

/** A promise with its outcome readable synchronously. */
function track(promise: Promise<void>): { promise: Promise<void>; state: 'pending' | 'resolved' | 'rejected'; error: unknown } {
  const t = { promise, state: 'pending' as 'pending' | 'resolved' | 'rejected', error: undefined as unknown };
  promise.then(
    () => (t.state = 'resolved'),
    (error: unknown) => {
      t.state = 'rejected';
      t.error = error;
    },
  );
  return t;
}

/**
 * Waits until the write settles, or until the backend made no progress (`sent` unchanged)
 * for `quietMs` while it stayed pending: that is a stalled write, not a slow one.
 */
async function settledOrStalled(backend: SyslogBackend, write: ReturnType<typeof track>, quietMs = 2000): Promise<void> {
  let sent = backend.stats().sent;
  let since = Date.now();
  await until(
    () => {
      if (write.state !== 'pending') return true;
      const now = backend.stats().sent;
      if (now !== sent) {
        sent = now;
        since = Date.now();
      }
      return Date.now() - since >= quietMs;
    },
    60_000,
    'the write to settle or stall',
  );
}

/**
 * Writes batches of `perBatch` one at a time, as the server's route does, each with its own
 * AbortSignal, until one stays pending. Returns the entries whose writes resolved, and the
 * pending write with its batch and controller.
 */
async function writeUntilStalled(backend: SyslogBackend, run: string, perBatch: number, maxBatches = 200) {
  let resolved = 0;
  for (let i = 0; i < maxBatches; i++) {
    const entries = batch(run, resolved, perBatch);
    const controller = new AbortController();
    const write = track(backend.write(entries, { signal: controller.signal }));
    await settledOrStalled(backend, write);
    if (write.state === 'rejected') throw write.error;
    if (write.state === 'pending') return { resolved, pending: { write, batch: entries, controller } };
    resolved += perBatch;
  }
  return { resolved, pending: undefined };
}

const DROPS = ['dropped_overflow', 'dropped_aborted', 'dropped_on_close', 'send_errors'];

describe('SyslogBackend against a TCP peer that accepts and never reads (when_full = "block")', () => {
  it('stops resolving writes instead of dropping; once the peer reads, every acknowledged entry arrives exactly once', async () => {
    const peer = await stalledPeer();
    const errors: Error[] = [];
    const backend = makeBackend({ server: `tcp://127.0.0.1:${peer.port}`, maxBufferedBytes: 256 * 1024 }, errors);
    await backend.open();
    await until(() => backend.connected, 20_000, 'the connection');
    const run = randomUUID();

    const { resolved, pending } = await writeUntilStalled(backend, run, 100);
    // The kernel's buffers and then ours filled up: the write waits, it is not acked.
    expect(pending, 'a write that stays pending').toBeDefined();
    expect(resolved).toBeGreaterThan(0);
    for (const key of DROPS) expect(backend.stats()[key] ?? 0, key).toBe(0);
    expect(backend.bufferedBytes).toBeLessThanOrEqual(256 * 1024);
    expect(peer.messages()).toHaveLength(0);
    // The stall is reported, not silent: the connection itself raises no error.
    await until(() => errors.some((e) => /took nothing/.test(e.message)), 30_000, 'the stall report');
    expect(errors.find((e) => /took nothing/.test(e.message))).toMatchObject({
      code: 'ETIMEDOUT',
      message: expect.stringContaining(`tcp://127.0.0.1:${peer.port}`),
    });
    expect(backend.stats().stalls).toBe(1);

    peer.resume();
    await pending?.write.promise;
    const total = resolved + 100;
    await until(() => arrivals(peer, run).size >= total, 60_000, `${total} distinct messages at the peer`);
    const counts = arrivals(peer, run);
    for (let seq = 0; seq < total; seq++) expect(counts.get(seq), `seq ${seq}`).toBe(1);
    expect(counts.size).toBe(total);
    const stats = backend.stats();
    for (const key of [...DROPS, 'requeued', 'possibly_lost']) expect(stats[key] ?? 0, key).toBe(0);
    expect(stats.sent).toBe(total);
  });

  it('a pending write rejects promptly with the reason when its signal aborts; a retry of the batch sends nothing twice', async () => {
    const peer = await stalledPeer();
    const backend = makeBackend({ server: `tcp://127.0.0.1:${peer.port}`, maxBufferedBytes: 256 * 1024 });
    await backend.open();
    await until(() => backend.connected, 20_000, 'the connection');
    const run = randomUUID();
    // Batches of about 400 KB against 256 KiB of buffer: the stalled one is partly with the
    // socket and partly waiting for room.
    const { resolved, pending } = await writeUntilStalled(backend, run, 200);
    expect(pending, 'a write that stays pending').toBeDefined();
    const { write, batch: stalled, controller } = pending as NonNullable<typeof pending>;
    const reason = new Error('given up by the route');
    controller.abort(reason);
    await until(() => write.state !== 'pending', 5000, 'the aborted write to reject');
    expect(write.state).toBe('rejected');
    expect(write.error).toBe(reason);
    const dropped = backend.stats().dropped_aborted as number;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(200);
    expect(backend.bufferedEntries).toBe(0);

    // An already aborted signal rejects at once and queues nothing.
    await expect(backend.write(batch(run, 99_000, 5), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(backend.stats().dropped_aborted).toBe(dropped + 5);

    // The route retries the same batch: what the aborted write had handed over is not queued again.
    peer.resume();
    await backend.write(stalled);
    const total = resolved + 200;
    await until(() => arrivals(peer, run).size >= total, 60_000, `${total} distinct messages at the peer`);
    const counts = arrivals(peer, run);
    for (let seq = 0; seq < total; seq++) expect(counts.get(seq), `seq ${seq}`).toBe(1);
    expect(counts.size).toBe(total);
    expect(backend.stats()).toMatchObject({ sent: total, requeued: 0, dropped_on_close: 0 });
  });

  it('while the peer is away a write waits; a connection reset puts unsent messages back, and they arrive', async () => {
    const peer = await stalledPeer();
    // A window long enough that everything handed to the kernel before the reset counts.
    const backend = makeBackend({ server: `tcp://127.0.0.1:${peer.port}`, maxBufferedBytes: 256 * 1024, unconfirmedWindowMs: 600_000 });
    await backend.open();
    await until(() => backend.connected, 20_000, 'the connection');
    const run = randomUUID();
    const { resolved, pending } = await writeUntilStalled(backend, run, 100);
    expect(pending, 'a write that stays pending').toBeDefined();

    // The peer resets the connection: its unread bytes (acked entries, in the kernel) are gone,
    // the backend reconnects and sends what had not reached the kernel. New connections read.
    peer.resume();
    peer.resetAll();
    await pending?.write.promise;
    const total = resolved + 100;
    const stats = backend.stats();
    expect(stats.disconnects).toBeGreaterThanOrEqual(1);
    for (const key of DROPS) expect(stats[key] ?? 0, key).toBe(0);
    await until(() => arrivals(peer, run).has(total - 1), 60_000, 'the last message at the peer');
    const counts = arrivals(peer, run);
    // Every entry of the write that was pending at the reset arrived.
    for (let seq = resolved; seq < total; seq++) expect(counts.get(seq) ?? 0, `seq ${seq}`).toBeGreaterThanOrEqual(1);
    // Acked entries lost in the kernel with the reset are at most what possibly_lost counts.
    let missing = 0;
    for (let seq = 0; seq < total; seq++) if (!counts.has(seq)) missing++;
    expect(missing).toBeLessThanOrEqual(stats.possibly_lost as number);
    if (process.env.SYSLOG_TEST_DEBUG) console.log({ resolved, missing, stats });
  });

  it('close() gives up after flushTimeoutMs: the pending write rejects, and what never reached the kernel is counted', async () => {
    const peer = await stalledPeer();
    const backend = makeBackend({ server: `tcp://127.0.0.1:${peer.port}`, maxBufferedBytes: 256 * 1024, flushTimeoutMs: 300 });
    await backend.open();
    await until(() => backend.connected, 20_000, 'the connection');
    const run = randomUUID();
    const { resolved, pending } = await writeUntilStalled(backend, run, 100);
    expect(pending, 'a write that stays pending').toBeDefined();
    const sentBefore = backend.stats().sent as number;
    expect(sentBefore).toBeGreaterThanOrEqual(resolved);
    await backend.close();
    const { write } = pending as NonNullable<typeof pending>;
    await until(() => write.state !== 'pending', 20_000, 'the pending write to settle');
    expect(write.state).toBe('rejected');
    expect(write.error).toMatchObject({ kind: 'io', code: 'CLOSED' });
    const stats = backend.stats();
    // Every message is either confirmed to the kernel or counted as dropped at close, once.
    expect((stats.sent as number) + (stats.dropped_on_close as number)).toBe(resolved + 100);
    expect(stats.dropped_on_close).toBeGreaterThan(0);
    expect(stats.dropped_aborted).toBe(0);
  });
});

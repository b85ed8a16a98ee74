import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { EntryBatch } from '@logstream/protocol';
import { SyslogBackend, type SyslogBackendOptions } from '../src/index';
import { startRsyslog, until, type RsyslogMessage, type RsyslogPeer } from '@logstream/test-support';
import { seqBatch, seqOf, type SeqEntryShape } from './helpers/seq-batch';

// Each test starts its own rsyslogd, because these tests stop and restart it.
const peers: RsyslogPeer[] = [];
const backends: SyslogBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await Promise.all(peers.splice(0).map((p) => p.stop()));
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function peer(): Promise<RsyslogPeer> {
  const p = await startRsyslog();
  peers.push(p);
  return p;
}

function makeBackend(options: SyslogBackendOptions): SyslogBackend {
  const backend = new SyslogBackend({ flushTimeoutMs: 3000, ...options });
  // Errors are expected here (refused connections); they are asserted through stats().
  backend.on('error', () => {});
  backends.push(backend);
  return backend;
}

const SHAPE: SeqEntryShape = {
  daemon: 'restart-test',
  pid: 77,
  tail: 'payload "q" [b] \\ \u00e9',
  fields: (seq) => ({ seq: String(seq) }),
};
const batch = (run: string, from: number, n: number): EntryBatch => seqBatch(run, from, n, SHAPE);

function seqs(messages: RsyslogMessage[], run: string): number[] {
  return messages.filter((m) => m.msg.includes(run)).map((m) => seqOf(m.msg));
}

describe('SyslogBackend when the peer goes away and comes back', () => {
  it('TCP: rsyslog restarted mid-stream; everything after it is back arrives, losses are counted', async () => {
    const p = await peer();
    const run = randomUUID();
    const backend = makeBackend({ server: `tcp://127.0.0.1:${p.tcpPort}` });
    await backend.open();
    let next = 0;
    const write = async (n: number) => {
      await backend.write(batch(run, next, n));
      next += n;
    };
    // A steady stream before the restart.
    for (let i = 0; i < 20; i++) {
      await write(10);
      await sleep(10);
    }
    await p.kill();
    await until(() => !backend.connected, 20_000, 'the break');
    // Written while rsyslog is down: this write waits (the route would hold its acks back).
    const during = write(100);
    await until(() => backend.stats().connect_errors! >= 1, 20_000, 'a refused reconnect');
    expect(backend.bufferedEntries).toBeGreaterThan(0);
    await p.start();
    await during;
    const afterRestart = next;
    for (let i = 0; i < 20; i++) {
      await write(10);
      await sleep(10);
    }
    const total = next;
    await until(() => backend.connected, 20_000, 'the reconnect');
    await backend.flush();
    const messages = await p.waitFor((ms) => seqs(ms, run).filter((s) => s >= afterRestart).length >= total - afterRestart);
    const got = seqs(messages, run);
    const unique = new Set(got);
    const stats = backend.stats();

    // Everything written while rsyslog was down or after it was back arrived.
    for (let s = afterRestart - 100; s < total; s++) expect(unique.has(s), `seq ${s}`).toBe(true);
    // Twice only if it was put back after the break (its write had not reached the kernel).
    expect(got.length - unique.size).toBeLessThanOrEqual(stats.requeued as number);
    // What is missing (if anything) reached the kernel before the break and is counted, not silent.
    const missing = total - unique.size;
    if (process.env.SYSLOG_TEST_DEBUG) console.log({ total, missing, stats });
    expect(missing).toBeLessThanOrEqual(stats.possibly_lost as number);
    expect(stats).toMatchObject({ dropped_aborted: 0, dropped_on_close: 0, send_errors: 0 });
    expect(stats.disconnects).toBeGreaterThanOrEqual(1);
    expect(stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(stats.sent).toBe(total);
  });

  it('TCP: a peer that is down at open() does not fail open(); a write waits within the bound, drops nothing, and arrives', async () => {
    const p = await peer();
    await p.kill();
    const run = randomUUID();
    const backend = makeBackend({ server: `tcp://127.0.0.1:${p.tcpPort}`, maxBufferedEntries: 100 });
    await backend.open();
    // 250 messages against a bound of 100: the write queues 100 and waits for room.
    let settled = false;
    const pending = backend.write(batch(run, 0, 250)).finally(() => (settled = true));
    await until(() => backend.stats().connect_errors! >= 2, 20_000, 'two refused connections');
    expect(backend.bufferedEntries).toBe(100);
    expect(settled).toBe(false);
    await p.start();
    await pending;
    const got = seqs(await p.waitFor((ms) => seqs(ms, run).length >= 250), run);
    // Every one, once, in order: nothing was evicted for newer ones.
    expect(got).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(backend.stats()).toMatchObject({ sent: 250, dropped_aborted: 0, dropped_on_close: 0, reconnects: 0 });
  });

  it('local socket: a missing path is a start-up error naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ls-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'no-such.sock');
    const backend = makeBackend({ socketPath: path });
    await expect(backend.open()).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining(path) });
    const notSocket = makeBackend({ socketPath: dir });
    await expect(notSocket.open()).rejects.toMatchObject({ code: 'ENOTSOCK', message: expect.stringContaining(dir) });
  });

  it('local socket: follows rsyslog through a restart (the socket file is re-created)', async () => {
    const p = await peer();
    const run = randomUUID();
    const backend = makeBackend({ socketPath: p.socket });
    await backend.open();
    await backend.write(batch(run, 0, 20));
    await backend.flush();
    await p.waitFor((ms) => seqs(ms, run).length >= 20);
    await p.kill();
    // rsyslog is gone: the send is refused, the datagram goes back, and the write waits.
    const during = backend.write(batch(run, 20, 20));
    await until(() => backend.stats().disconnects! >= 1, 20_000, 'the refused send');
    await p.start();
    await during;
    await backend.write(batch(run, 40, 20));
    expect(backend.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(backend.bufferedEntries).toBe(0);
    const got = new Set(seqs(await p.waitFor((ms) => seqs(ms, run).length >= 60), run));
    if (process.env.SYSLOG_TEST_DEBUG) console.log({ got: [...got].sort((x, y) => x - y), stats: backend.stats() });
    for (let s = 0; s < 60; s++) expect(got.has(s), `seq ${s}`).toBe(true);
    expect(backend.stats()).toMatchObject({ sent: 60, dropped_aborted: 0, dropped_on_close: 0 });
  });

  it('local socket: a burst larger than the receive queue is delivered whole (congestion → writable → resend)', async () => {
    const p = await peer();
    const run = randomUUID();
    const backend = makeBackend({ socketPath: p.socket, maxBufferedEntries: 20_000, flushTimeoutMs: 30_000 });
    await backend.open();
    for (let i = 0; i < 10; i++) await backend.write(batch(run, i * 2000, 2000));
    await backend.flush();
    const got = new Set(seqs(await p.waitFor((ms) => seqs(ms, run).length >= 20_000, 30_000), run));
    expect(got.size).toBe(20_000);
    expect(backend.stats()).toMatchObject({ sent: 20_000, send_errors: 0, dropped_aborted: 0, disconnects: 0 });
  });

  it('UDP: nobody listening is counted as send errors; write() never rejects', async () => {
    const p = await peer();
    const port = p.udpPort;
    await p.kill();
    const backend = makeBackend({ server: `udp://127.0.0.1:${port}` });
    await backend.open();
    await until(() => backend.connected, 20_000, 'the UDP socket');
    for (let i = 0; i < 20; i++) {
      await backend.write(batch(randomUUID(), 0, 5));
      await backend.flush();
    }
    const s = backend.stats();
    // The first datagram draws the ICMP refusal; later sends report ECONNREFUSED.
    expect(s.send_errors).toBeGreaterThan(0);
    expect((s.sent as number) + (s.send_errors as number)).toBe(100);
  });

  it('close() while the peer is down gives up after flushTimeoutMs: the waiting write rejects, its messages are counted', async () => {
    const p = await peer();
    await p.kill();
    const backend = makeBackend({ server: `tcp://127.0.0.1:${p.tcpPort}`, flushTimeoutMs: 300 });
    await backend.open();
    const pending = backend.write(batch(randomUUID(), 0, 30));
    await backend.close();
    await expect(pending).rejects.toMatchObject({ kind: 'io', code: 'CLOSED' });
    expect(backend.stats()).toMatchObject({ sent: 0, dropped_on_close: 30 });
    await expect(backend.write(batch('x', 0, 1))).rejects.toMatchObject({ kind: 'io', code: 'CLOSED' });
  });
});

// JournaldBackend against real AF_UNIX datagram sockets that the test controls (no journald, no
// root): start-up errors, congestion, losing the peer mid-batch, resuming, reconnecting.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogStreamError } from '@logstream/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '@logstream/test-support';
import { DEFAULT_JOURNALD_SOCKET, JournaldBackend } from '../src/index';
import { DgramReceiver } from './helpers/dgram-receiver';
import { makeBatch, uniqueDaemon } from './helpers/entries';
import { decodeNativeRecord } from './helpers/native-format';

let dir: string;
let path: string;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ls-jd-'));
  path = join(dir, 'socket');
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

function receiver(at = path): DgramReceiver {
  const r = new DgramReceiver(at);
  cleanups.push(() => r.close());
  return r;
}

function backend(options: ConstructorParameters<typeof JournaldBackend>[0] = {}): JournaldBackend {
  const b = new JournaldBackend({ socketPath: path, ...options });
  cleanups.push(() => b.close());
  return b;
}

function seqs(messages: readonly Buffer[]): number[] {
  return messages.map((m) => Number(decodeNativeRecord(m).SEQ));
}

describe('open()', () => {
  it('rejects clearly when the socket does not exist', async () => {
    const error = await backend()
      .open()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(LogStreamError.is(error)).toBe(true);
    const e = error as LogStreamError;
    expect(e.kind).toBe('io');
    expect(e.code).toBe('BACKEND');
    expect(e.message).toContain(path);
    expect(e.message).toContain('ENOENT');
    expect(e.message).toMatch(/is systemd-journald running\?.*socketPath/);
    expect(e.cause).toMatchObject({ code: 'ENOENT', syscall: 'connect' });
  });

  it('rejects when nobody listens on the socket (journald stopped)', async () => {
    receiver().close(); // leaves the socket file behind, as a stopped journald does
    await expect(backend().open()).rejects.toMatchObject({
      message: expect.stringContaining(`nothing listens on journald socket ${path} (ECONNREFUSED)`),
      cause: { code: 'ECONNREFUSED' },
    });
  });

  it('rejects when the path is not a socket', async () => {
    await writeFile(path, 'not a socket');
    await expect(backend().open()).rejects.toThrow(`${path} is not a socket`);
  });

  it('can be called again after a failure', async () => {
    const b = backend();
    await expect(b.open()).rejects.toThrow('ENOENT');
    receiver();
    await b.open();
    expect(b.connected).toBe(true);
  });

  it('gives way to a close() that comes while it runs', async () => {
    receiver();
    const b = backend();
    const opening = b.open();
    await b.close();
    await expect(opening).rejects.toMatchObject({ kind: 'io', code: 'CLOSED' });
    expect(b.connected).toBe(false);
  });

  it('checks its options', () => {
    expect(() => new JournaldBackend({ socketPath: `/tmp/${'x'.repeat(120)}` })).toThrow(/1 to 107 bytes/);
    expect(() => new JournaldBackend({ socketPath: '' })).toThrow(/^journald: socketPath: expected a path of 1 to 107 bytes/);
    expect(() => new JournaldBackend({ syslogIdentifier: '' })).toThrow(/^journald: syslogIdentifier: expected a non-empty string$/);
    expect(() => new JournaldBackend({ maxEntryBytes: 100 })).toThrow(/^journald: maxEntryBytes: expected an integer >= 4096, got 100$/);
    expect(new JournaldBackend().socketPath).toBe(DEFAULT_JOURNALD_SOCKET);
    expect(new JournaldBackend().name).toBe('journald');
  });
});

describe('write()', () => {
  it('waits out congestion and delivers every entry once, in order', async () => {
    const r = receiver();
    const b = backend();
    await b.open();
    // 1 KiB entries: the peer's queue (net.unix.max_dgram_qlen) and our send buffer fill long
    // before the peer gets to read, since it reads only when the event loop runs.
    const { batch } = makeBatch(uniqueDaemon(), 3000, 1024);
    await b.write(batch);
    await until(() => r.messages.length >= 3000, 20_000, 'all datagrams');
    expect(seqs(r.messages)).toEqual([...Array(3000).keys()]);
    expect(b.stats()).toMatchObject({ entries_sent: 3000, send_errors: 0, congestion_waits: expect.any(Number) });
    expect(b.stats().congestion_waits).toBeGreaterThan(0);
  });

  it('rejects when the peer goes away mid-batch, and a retry of that batch sends no entry twice', async () => {
    const first = receiver();
    const b = backend();
    await b.open();
    const { batch } = makeBatch(uniqueDaemon(), 200);
    // The peer disappears (socket file too) after reading 30 datagrams.
    first.onMessage = (_data, self) => {
      if (self.messages.length === 30) self.close({ unlink: true });
    };
    const error = await b.write(batch).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(LogStreamError.is(error)).toBe(true);
    expect((error as LogStreamError).message).toContain(path);
    const sentBefore = b.stats().entries_sent;
    expect(sentBefore).toBeGreaterThanOrEqual(30);
    expect(sentBefore).toBeLessThan(200);
    expect(b.stats().send_errors).toBeGreaterThan(0);
    expect(b.connected).toBe(false);

    const second = receiver();
    await b.write(batch); // the server's retry: the same batch object
    await until(() => second.messages.length >= 200 - sentBefore, 20_000, 'the rest of the batch');
    // Exactly the entries not yet accepted, in order: nothing doubled, nothing skipped.
    expect(seqs(second.messages)).toEqual([...Array(200 - sentBefore).keys()].map((i) => i + sentBefore));
    expect(b.stats().entries_sent).toBe(200);
    expect(b.stats().reconnects).toBeGreaterThanOrEqual(1);

    // A different batch starts from its first entry.
    const next = makeBatch(uniqueDaemon(), 5);
    await b.write(next.batch);
    await until(() => second.messages.length >= 200 - sentBefore + 5, 20_000, 'the next batch');
    expect(seqs(second.messages.slice(-5))).toEqual([0, 1, 2, 3, 4]);
  });

  it('reconnects in the background once the peer is back', async () => {
    const first = receiver();
    const b = backend();
    await b.open();
    first.close({ unlink: true });
    const { batch } = makeBatch(uniqueDaemon(), 3);
    await expect(b.write(batch)).rejects.toMatchObject({ cause: { code: 'ENOENT' } });
    expect(b.stats().connect_errors).toBeGreaterThan(0);
    const second = receiver();
    await until(() => b.connected, 20_000, 'the background reconnect');
    expect(b.stats().reconnects).toBe(1);
    await b.write(batch);
    await until(() => second.messages.length >= 3, 20_000, 'the batch');
    expect(seqs(second.messages)).toEqual([0, 1, 2]);
  });

  it('reconnects at once when the peer was replaced between writes', async () => {
    const first = receiver();
    const b = backend();
    await b.open();
    first.close({ unlink: true });
    const second = receiver(); // a restarted journald binds the same path again
    await b.write(makeBatch(uniqueDaemon(), 2).batch);
    await until(() => second.messages.length >= 2, 20_000, 'the batch');
    expect(b.stats()).toMatchObject({ send_errors: 1, reconnects: 1, entries_sent: 2 });
  });

  it('rejects after close(), and close() is idempotent', async () => {
    receiver();
    const b = backend();
    await b.open();
    const closing = b.close();
    expect(b.close()).toBe(closing);
    await closing;
    await expect(b.write(makeBatch(uniqueDaemon(), 1).batch)).rejects.toMatchObject({ kind: 'io', code: 'CLOSED' });
    await expect(b.open()).rejects.toMatchObject({ kind: 'io', code: 'CLOSED' });
    await b.flush();
  });

  it('rejects a write before open()', async () => {
    await expect(backend().write(makeBatch(uniqueDaemon(), 1).batch)).rejects.toThrow('before open()');
  });
});

describe('the Backend contract', () => {
  it("reports failed background reconnects to open()'s context, naming the socket and the errno", async () => {
    const first = receiver();
    const b = backend();
    const reported: Error[] = [];
    await b.open({ reportError: (e) => reported.push(e) });
    first.close({ unlink: true });
    const { batch } = makeBatch(uniqueDaemon(), 3);
    await expect(b.write(batch)).rejects.toMatchObject({ cause: { code: 'ENOENT' } });
    await until(() => reported.length >= 1, 20_000, 'a failed background reconnect reported');
    expect(reported[0]?.message).toBe(
      `journald backend: cannot reconnect to ${path} (ENOENT): is systemd-journald running? Start it, set socketPath to its native socket, or disable the journald backend`,
    );
    receiver();
    await until(() => b.connected, 20_000, 'the background reconnect');
  });

  it('types its metrics: every counter a backend event', async () => {
    const r = receiver();
    const b = backend();
    await b.open();
    await b.write(makeBatch(uniqueDaemon(), 4).batch);
    await until(() => r.messages.length >= 4, 20_000, 'the batch');
    const samples = b.metrics();
    expect(samples.map((s) => s.labels?.event).sort()).toEqual(Object.keys(b.stats()).sort());
    expect(samples.find((s) => s.labels?.event === 'entries_sent')).toMatchObject({
      name: 'logstream_backend_events_total',
      type: 'counter',
      value: 4,
    });
  });
});

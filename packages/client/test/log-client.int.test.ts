import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { once } from 'node:events';
import { join } from 'node:path';
// A real server from the library (client devDepends on core; core does not depend on client).
import { LogServer, MemoryBackend } from '@logstream/core';
import { LogClient, LogStreamError, type ClientConfig, type LogClientEvents } from '../src/index';
import { tempDir, until } from '@logstream/test-support';

let dir: string;
let cleanup: () => Promise<void>;
let sock: string;
const servers = new Set<LogServer>();
const serverErrors: string[] = [];
const clients: LogClient[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  sock = join(dir, 's.sock');
  serverErrors.length = 0;
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  // Settled, not all: a test that failed with a write held must not fail the next one too.
  await Promise.allSettled([...servers].map((s) => s.close()));
  servers.clear();
  await cleanup();
});

async function serve(memory = new MemoryBackend(), shutdownTimeoutMs = 2000): Promise<{ server: LogServer; memory: MemoryBackend }> {
  const server = new LogServer({ socketPath: sock, backends: [{ backend: memory }], shutdownTimeoutMs });
  // Listened to, as every server must: an unheard 'error' would end its shutdown half-way.
  server.on('error', (error: Error) => serverErrors.push(error.message));
  servers.add(server);
  await server.listen();
  return { server, memory };
}

async function stop(server: LogServer): Promise<void> {
  servers.delete(server);
  await server.close();
}

async function client(config: Partial<ClientConfig> = {}): Promise<LogClient> {
  const c = await LogClient.withConfig({ socketPath: sock, daemonName: 'app', timeout: 10_000, ...config });
  clients.push(c);
  return c;
}

describe('LogClient against a real LogServer', () => {
  it('connects with a handshake: the server holds one connection and stores entries under the daemon name', async () => {
    const { server, memory } = await serve();
    const c = await client({ daemonName: 'billing-worker' });
    expect(c.connected).toBe(true);
    expect(server.activeConnections).toBe(1);
    c.warning('card declined', { order: 42 });
    await c.flush();
    expect(memory.entries).toHaveLength(1);
    expect(memory.entries[0]).toMatchObject({ daemon: 'billing-worker', level: 4, message: 'card declined', fields: { order: '42' } });
    expect(memory.entries[0]?.pid).toBe(process.pid);
  });

  it("counts acks only once the backend has stored the entries: flush() and 'acked' wait for the write", async () => {
    const { memory } = await serve();
    const c = await client();
    const acked: number[] = [];
    c.on('acked', (n) => acked.push(n));
    memory.hold();
    for (let i = 0; i < 20; i++) c.info(`e${i}`);
    let flushed = false;
    const flush = c.flush().then(() => (flushed = true));
    // The server has the entries (the write is under way) but has not stored them: no ack yet.
    await until(() => memory.writes > 0, 15_000, 'the held write');
    await new Promise((r) => setTimeout(r, 200));
    expect(flushed).toBe(false);
    expect(c.stats.acked).toBe(0);
    expect(c.buffered).toBe(20);
    memory.release();
    await flush;
    expect(memory.entries.map((e) => e.message)).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`));
    expect(c.stats.acked).toBe(20);
    expect(acked.reduce((a, b) => a + b, 0)).toBe(20);
    expect(c.buffered).toBe(0);
  });

  it("drain(): log() says false past half the buffer while the server holds it, and drain resolves (with 'drain') once acks make room", async () => {
    const { memory } = await serve();
    const c = await client({ bufferSize: 100 });
    memory.hold();
    let i = 0;
    while (c.info(`d${i++}`)) if (i > 100) break;
    // False at half of bufferSize: the caller is asked to wait, nothing was dropped.
    expect(i).toBeLessThanOrEqual(51);
    expect(c.stats.droppedFull).toBe(0);
    let drained = false;
    const drainEvent = once(c, 'drain');
    const drain = c.drain().then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(drained).toBe(false);
    memory.release();
    await drain;
    await drainEvent;
    await c.flush();
    expect(memory.entries).toHaveLength(i);
  });

  it('resends what a server that went away never stored to the next server, each entry once', async () => {
    const first = await serve(new MemoryBackend('first'), 300);
    const c = await client();
    first.memory.hold();
    for (let i = 0; i < 50; i++) c.info(`r${i}`);
    await until(() => first.memory.writes > 0, 15_000, 'the held write');
    // Shut down with the write still held: it is aborted after the drain deadline, never acked.
    await stop(first.server);
    expect(serverErrors).toEqual([expect.stringContaining('backend first: 50 entries not stored at shutdown')]);
    expect(first.memory.entries).toEqual([]);
    expect(c.stats.acked).toBe(0);
    const second = await serve(new MemoryBackend('second'));
    await until(() => c.connected, 15_000, 'the reconnect');
    await c.flush();
    expect(second.memory.entries.map((e) => e.message)).toEqual(Array.from({ length: 50 }, (_, i) => `r${i}`));
    expect(new Set(second.memory.entries.map((e) => e.id)).size).toBe(50);
    expect(c.stats.resent).toBeGreaterThanOrEqual(50);
    expect(c.stats.reconnects).toBeGreaterThanOrEqual(1);
  });

  it("close() delivers what is pending, leaves the connection, then refuses: flush with the closed error, log with 'dropped'", async () => {
    const { server, memory } = await serve();
    const c = await client();
    for (let i = 0; i < 10; i++) c.info(`c${i}`);
    await c.close();
    expect(memory.entries).toHaveLength(10);
    expect(c.connected).toBe(false);
    await until(() => server.activeConnections === 0, 15_000, 'the server to see the close');
    const dropped: [number, string][] = [];
    c.on('dropped', (n, reason) => dropped.push([n, reason]));
    c.info('after close');
    expect(dropped).toEqual([[1, 'closed']]);
    // A flush after close() gave up on an entry rejects at once with the one closed error.
    memory.hold();
    const d = await client({ timeout: 500 });
    d.info('never stored');
    await d.close();
    // Not, after another `timeout`, a TIMEOUT as if the client might still deliver it.
    const error = await d.flush().catch((e: unknown) => e);
    expect(LogStreamError.is(error)).toBe(true);
    expect(error).toMatchObject({ kind: 'io', code: 'CLOSED', message: 'client is closed' });
    memory.release();
    await c.close();
  });

  it('types its events (LogClientEvents): listeners get typed arguments, unknown events do not compile', () => {
    expectTypeOf<LogClientEvents['dropped']>().toEqualTypeOf<[count: number, reason: 'buffer_full' | 'closed']>();
    const c = new LogClient({ socketPath: sock, daemonName: 'types', autoReconnect: false });
    c.on('acked', (n) => expectTypeOf(n).toEqualTypeOf<number>());
    c.once('disconnect', (error) => expectTypeOf(error).toEqualTypeOf<LogStreamError | undefined>());
    // @ts-expect-error: 'acked' gives a number
    c.on('acked', (n: string) => n);
    // @ts-expect-error: no such event
    c.on('error', () => {});
    // @ts-expect-error: 'dropped' needs its count and reason
    c.emit('dropped', 1);
    void c.close();
  });
});

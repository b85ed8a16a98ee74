import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { LogClient, LogStreamError } from '@logstream/client';
import { LogServer, MemoryBackend } from '@logstream/core';
import { tempDir, until } from '@logstream/test-support';

let dir: string;
let cleanup: () => Promise<void>;
let sock: string;
const servers: LogServer[] = [];
const clients: LogClient[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  sock = join(dir, 's.sock');
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  process.off('unhandledRejection', onUnhandled);
  await cleanup();
  expect(unhandled).toEqual([]);
});

async function serve(memory = new MemoryBackend()) {
  const server = new LogServer({ socketPath: sock, backends: [{ backend: memory }], shutdownTimeoutMs: 1000 });
  servers.push(server);
  await server.listen();
  return { server, memory };
}

async function client(config: Partial<Parameters<typeof LogClient.withConfig>[0]> = {}) {
  const c = await LogClient.withConfig({ socketPath: sock, daemonName: 'app', timeout: 2000, ...config });
  clients.push(c);
  return c;
}

describe('LogClient', () => {
  it('may be created while the server is down, and delivers once it is up', async () => {
    const c = await client();
    expect(c.connected).toBe(false);
    for (let i = 0; i < 100; i++) c.info(`early ${i}`);
    const { memory } = await serve();
    await until(() => c.connected, 10_000, 'reconnect');
    await c.flush();
    expect(memory.entries.map((e) => e.message)).toEqual(Array.from({ length: 100 }, (_, i) => `early ${i}`));
  });

  it('rejects connect when autoReconnect is off and nobody listens', async () => {
    const error = await LogClient.withConfig({ socketPath: sock, daemonName: 'app', autoReconnect: false }).catch((e: unknown) => e);
    expect(LogStreamError.is(error)).toBe(true);
    expect((error as LogStreamError).kind).toBe('connection');
  });

  it('survives a server restart mid-stream: every entry is stored exactly once', async () => {
    const memory = new MemoryBackend();
    const first = await serve(memory);
    const c = await client({ timeout: 10_000 });
    const total = 5000;
    for (let i = 0; i < total; i++) {
      if (!c.info(`m ${i}`)) await c.drain();
      if (i === 2000) {
        await first.server.close();
        servers.splice(servers.indexOf(first.server), 1);
        // The server is away for a while; logging goes on and must not throw.
        setTimeout(() => void serve(memory), 300);
      }
    }
    await c.flush();
    const messages = memory.entries.map((e) => e.message);
    expect(new Set(messages).size).toBe(total);
    expect(messages).toHaveLength(total);
    expect(c.stats.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('flush rejects after timeout while the server is away, without unhandled rejections', async () => {
    const c = await client({ timeout: 300 });
    c.info('nowhere');
    await expect(c.flush()).rejects.toMatchObject({ kind: 'connection', code: 'TIMEOUT' });
  });

  it('drops entries below minLevel in the client', async () => {
    const { memory } = await serve();
    const c = await client({ minLevel: 'warning' });
    c.debug('no');
    c.info('no');
    c.warning('yes');
    c.error('yes too');
    await c.flush();
    expect(memory.entries.map((e) => e.message)).toEqual(['yes', 'yes too']);
    expect(c.stats.filtered).toBe(2);
  });

  it('with a full buffer, drop_newest counts drops and block waits for room', async () => {
    const dropper = await client({ bufferSize: 10, whenFull: 'drop_newest' });
    for (let i = 0; i < 25; i++) dropper.info(`d ${i}`);
    expect(dropper.buffered).toBe(10);
    expect(dropper.stats.droppedFull).toBe(15);

    const blocker = await client({ bufferSize: 10, daemonName: 'blocker' });
    // Not connected: the first 10 are buffered (true), the 5 past a full buffer wait for room (false).
    const accepted = Array.from({ length: 15 }, (_, i) => blocker.info(`b ${i}`));
    expect(accepted).toEqual([...Array<boolean>(10).fill(true), ...Array<boolean>(5).fill(false)]);
    expect(blocker.buffered).toBe(10);
    let drained = false;
    void blocker.drain().then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(drained).toBe(false);
    const { memory } = await serve();
    await blocker.drain();
    await blocker.flush();
    await dropper.flush();
    expect(memory.entries.filter((e) => e.daemon === 'blocker')).toHaveLength(15);
    expect(memory.entries.filter((e) => e.daemon === 'app')).toHaveLength(10);
  });

  it('counts entries the server refuses, and close() is idempotent', async () => {
    await serve();
    const c = await client();
    const rejected: unknown[] = [];
    c.on('rejected', (f) => rejected.push(f));
    c.log(9 as never, 'bad level');
    expect(c.stats.rejected).toBe(1);
    const a = c.close();
    const b = c.close();
    expect(a).toBe(b);
    await a;
    c.info('after close');
    expect(c.stats.droppedFull).toBe(1);
  });
});

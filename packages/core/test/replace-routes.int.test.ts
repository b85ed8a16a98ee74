import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { LogServer, MemoryBackend } from '../src/index';
import { until, useTempDir } from '@logstream/test-support';
import { rawConnect } from './helpers';

let dir: string;
let server: LogServer | undefined;

useTempDir((d) => (dir = d));
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A MemoryBackend that records when it was opened and closed. */
class TrackedBackend extends MemoryBackend {
  opened = 0;
  closed = 0;
  override async open(): Promise<void> {
    this.opened++;
  }
  override async close(): Promise<void> {
    this.closed++;
  }
}

describe('LogServer#replaceRoutes', () => {
  it('switches between batches: what the old backend holds finishes there, later entries wait and go to the new one only', async () => {
    const old = new TrackedBackend('old');
    server = new LogServer({ socketPath: join(dir, 's.sock'), backends: [{ backend: old }], shutdownTimeoutMs: 10_000 });
    server.on('error', () => undefined);
    await server.listen();
    const c = await rawConnect(join(dir, 's.sock'));
    c.send('d\n{"message":"e1"}\n');
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 1);

    old.hold();
    c.send('{"message":"e2"}\n');
    await until(() => old.writes === 2, 10_000, 'e2 to reach the old backend');
    const next = new TrackedBackend('new');
    const replaced = server.replaceRoutes([{ backend: next, minLevel: 6 }]);
    c.send('{"message":"e3"}\n{"message":"e4","level":"debug"}\n');
    // e3 is read but held: the old backend has not stored e2 yet, and the new one is not open.
    await new Promise((r) => setTimeout(r, 200));
    expect(next.opened).toBe(0);
    expect(next.entries).toEqual([]);
    expect(c.frames.some((f) => f.type === 'ack' && f.seq >= 2)).toBe(false);

    old.release();
    const returned = await replaced;
    expect(returned.map((r) => r.backend.name)).toEqual(['old']);
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 4);
    expect(old.entries.map((e) => e.message)).toEqual(['e1', 'e2']);
    // The new route's own settings apply: min level info drops e4.
    expect(next.entries.map((e) => e.message)).toEqual(['e3']);
    expect([old.closed, next.opened, next.closed]).toEqual([1, 1, 0]);
    expect(server.routes.map((r) => r.backend.name)).toEqual(['new']);
    expect(c.closed).toBe(false);
    c.end();
  });

  it('keeps the old backends when a new one fails to open, and closes the new ones it opened', async () => {
    const old = new TrackedBackend('old');
    server = new LogServer({ socketPath: join(dir, 's.sock'), backends: [{ backend: old }] });
    await server.listen();
    const good = new TrackedBackend('good');
    const bad = new TrackedBackend('bad');
    bad.open = async () => {
      throw new Error('no such directory');
    };
    await expect(server.replaceRoutes([{ backend: good }, { backend: bad }])).rejects.toThrow(
      'backend bad failed to open: no such directory',
    );
    expect([good.opened, good.closed, old.closed]).toEqual([1, 1, 0]);
    const c = await rawConnect(join(dir, 's.sock'));
    c.send('d\n{"message":"still old"}\n');
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 1);
    expect(old.entries.map((e) => e.message)).toEqual(['still old']);
    c.end();
  });
});

describe('LogServer#listen', () => {
  it('says the directory is missing, not "permission denied"', async () => {
    server = new LogServer({ socketPath: join(dir, 'missing', 's.sock'), backends: [{ backend: new MemoryBackend() }] });
    await expect(server.listen()).rejects.toThrow(
      `cannot listen on ${join(dir, 'missing', 's.sock')}: the directory ${join(dir, 'missing')} does not exist`,
    );
    server = undefined;
  });
});

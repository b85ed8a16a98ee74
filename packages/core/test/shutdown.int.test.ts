import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LogServer, MemoryBackend } from '../src/index';
import { tempDir, until } from '@logstream/test-support';
import { rawConnect } from './helpers';

// Shutdown waits for each connection's own events (its end, its quiet timer, the end of its
// turn, its acks going out), not for a poll: these tests give it a deadline far longer than
// their own timeout, so a wait that is not woken by its event fails them.

const FAR_DEADLINE_MS = 600_000;
const STUCK_MS = 30_000;

let dir: string;
let cleanup: () => Promise<void>;
let server: LogServer | undefined;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  // A server left stuck by a failing test: its deadline is far, so give up on it.
  server = undefined;
  await cleanup();
});

/** 'closed' if close() resolved within STUCK_MS, else 'stuck'. */
async function closeOrStuck(closing: Promise<void>): Promise<'closed' | 'stuck'> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), STUCK_MS)));
  const outcome = await Promise.race([closing.then(() => 'closed' as const), stuck]);
  clearTimeout(timer);
  return outcome;
}

describe('LogServer shutdown', () => {
  it('with connections whose lines are not acknowledged yet, ends as soon as their acks are out', async () => {
    const memory = new MemoryBackend();
    const path = join(dir, 's.sock');
    server = new LogServer({ socketPath: path, backends: [{ backend: memory }], shutdownTimeoutMs: FAR_DEADLINE_MS });
    server.on('error', () => undefined);
    await server.listen();

    // One client ends its side after its lines; the other keeps it open and goes quiet.
    const ended = await rawConnect(path);
    const quiet = await rawConnect(path);
    for (const [c, name] of [
      [ended, 'ender'],
      [quiet, 'quiet'],
    ] as const) {
      c.send(`${name}\n`);
      await c.waitFrame((f) => f.type === 'ready');
    }
    memory.hold();
    ended.send('{"message":"e1"}\n{"message":"e2"}\n{"message":"e3"}\n');
    quiet.send('{"message":"q1"}\n{"message":"q2"}\n');
    await until(() => memory.writes >= 1, 20_000, 'the held write');
    ended.end();

    const closing = server.close();
    // Shutdown began (clients told); the backend then stores what it held.
    await quiet.waitFrame((f) => f.type === 'error' && f.code === 'SHUTTING_DOWN', 20_000);
    expect(ended.frames.some((f) => f.type === 'ack')).toBe(false);
    memory.release();

    expect(await closeOrStuck(closing)).toBe('closed');
    expect(memory.entries.map((e) => e.message).sort()).toEqual(['e1', 'e2', 'e3', 'q1', 'q2']);
    // Each client heard its last ack before its connection was closed.
    await until(() => ended.closed && quiet.closed, 20_000, 'both connections closed');
    expect(ended.frames.some((f) => f.type === 'ack' && f.seq === 3)).toBe(true);
    expect(quiet.frames.some((f) => f.type === 'ack' && f.seq === 2)).toBe(true);
  }, 60_000);

  it('with nobody listening for errors, entries lost at the deadline are a warning, and close() still ends everything', async () => {
    // A custom server that never added an 'error' listener: an unheard 'error' thrown inside
    // close() used to leave the socket file behind and the client connected.
    const memory = new MemoryBackend();
    const path = join(dir, 's.sock');
    server = new LogServer({ socketPath: path, backends: [{ backend: memory }], shutdownTimeoutMs: 300 });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      await server.listen();
      const c = await rawConnect(path);
      c.send('held\n');
      await c.waitFrame((f) => f.type === 'ready');
      memory.hold();
      c.send('{"message":"never stored"}\n');
      await until(() => memory.writes >= 1, 20_000, 'the held write');
      expect(await closeOrStuck(server.close())).toBe('closed');
      expect(existsSync(path)).toBe(false);
      await until(() => c.closed, 20_000, 'the connection closed');
      expect(c.frames.some((f) => f.type === 'ack')).toBe(false);
      await until(() => warnings.some((w) => /1 entries not stored at shutdown/.test(w)), 20_000, 'the warning');
    } finally {
      process.off('warning', onWarning);
      memory.release();
    }
  }, 60_000);
});

import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { stat, writeFile } from 'node:fs/promises';
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

async function start(options: Partial<ConstructorParameters<typeof LogServer>[0]> = {}) {
  const memory = new MemoryBackend();
  server = new LogServer({ socketPath: join(dir, 's.sock'), backends: [{ backend: memory }], shutdownTimeoutMs: 2000, ...options });
  server.on('error', () => undefined);
  await server.listen();
  return { server, memory, path: join(dir, 's.sock') };
}

describe('LogServer', () => {
  it('answers a handshake with ready, completes entries and acks them cumulatively', async () => {
    const { memory, path } = await start({ hostname: 'box' });
    const c = await rawConnect(path);
    c.send('web-server\n');
    await c.waitFrame((f) => f.type === 'ready');
    c.send('{"message":"one","level":"warning","fields":{"k":"v"}}\n{"message":"two"}\n');
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 2);
    expect(memory.entries).toHaveLength(2);
    const [one, two] = memory.entries;
    expect(one).toMatchObject({ level: 4, daemon: 'web-server', message: 'one', fields: { k: 'v' }, pid: null, hostname: 'box' });
    expect(one?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isNaN(Date.parse(one?.timestamp ?? ''))).toBe(false);
    expect(two).toMatchObject({ level: 6, message: 'two', fields: {} });
    expect((await stat(path)).mode & 0o777).toBe(0o660);
    c.end();
  });

  it('takes entries without a handshake when the first line is an entry', async () => {
    const { memory, path } = await start();
    const c = await rawConnect(path);
    c.send('{"message":"hi"}\n');
    await until(() => memory.entries.length === 1);
    expect(memory.entries[0]).toMatchObject({ message: 'hi', daemon: 'unknown' });
    expect(c.frames.some((f) => f.type === 'ready')).toBe(false);
    c.end();
  });

  it('answers each bad line with an error naming it, and stores the next good one', async () => {
    const { memory, path, server: s } = await start({ maxLineBytes: 1000 });
    const c = await rawConnect(path);
    c.send('app\n');
    await c.waitFrame((f) => f.type === 'ready');
    c.send('{not json\n');
    c.send('{"message":42}\n');
    c.send('{"message":"x","level":9}\n');
    c.send(`{"message":"${'y'.repeat(5000)}"}\n`);
    c.send('{"message":"good"}\n');
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 5);
    const errors = c.frames.filter((f) => f.type === 'error');
    expect(errors.map((e) => e.type === 'error' && [e.seq, e.code])).toEqual([
      [1, 'INVALID_JSON'],
      [2, 'INVALID_ENTRY'],
      [3, 'INVALID_ENTRY'],
      [4, 'LINE_TOO_LONG'],
    ]);
    const e2 = errors[1];
    expect(e2?.type === 'error' && e2.message).toContain('message: expected a string');
    const e4 = errors[3];
    expect(e4?.type === 'error' && e4.message).toContain('exceeds max_line_bytes 1000');
    expect(memory.entries.map((e) => e.message)).toEqual(['good']);
    expect(s.counters.errors.serde).toBe(4);
  });

  it('refuses connection max_connections + 1 with an error line and keeps serving', async () => {
    const { path, memory } = await start({ maxConnections: 2 });
    const a = await rawConnect(path);
    const b = await rawConnect(path);
    await until(() => server!.activeConnections === 2);
    const c = await rawConnect(path);
    const refused = await c.waitFrame((f) => f.type === 'error');
    expect(refused.type === 'error' && refused.code).toBe('TOO_MANY_CONNECTIONS');
    await until(() => c.closed);
    a.send('{"message":"still here"}\n');
    await until(() => memory.entries.length === 1);
    a.end();
    b.end();
  });

  it('refuses a socket a live server answers on, and replaces a stale one', async () => {
    const path = join(dir, 's.sock');
    const live = createServer();
    await new Promise<void>((r) => live.listen(path, r));
    const second = new LogServer({ socketPath: path, backends: [{ backend: new MemoryBackend() }] });
    await expect(second.listen()).rejects.toThrow(/another server is already listening on/);
    await new Promise<void>((r) => live.close(() => r()));
    // A stale socket file, as a SIGKILLed server leaves it: a child binds and is killed.
    const child = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(child.signal).toBe('SIGKILL');
    expect((await stat(path)).isSocket()).toBe(true);
    const { memory } = await start();
    const c = await rawConnect(path);
    c.send('{"message":"after stale"}\n');
    await until(() => memory.entries.length === 1);
    c.end();
  });

  it('refuses to replace a path that is not a socket', async () => {
    const path = join(dir, 's.sock');
    await writeFile(path, 'precious');
    const s = new LogServer({ socketPath: path, backends: [{ backend: new MemoryBackend() }] });
    await expect(s.listen()).rejects.toThrow(/is not a socket/);
  });

  it('routes by each backend minimum level', async () => {
    const all = new MemoryBackend('all');
    const errorsOnly = new MemoryBackend('errors');
    const path = join(dir, 's.sock');
    server = new LogServer({ socketPath: path, backends: [{ backend: all }, { backend: errorsOnly, minLevel: 3 }] });
    await server.listen();
    const c = await rawConnect(path);
    c.send('{"message":"a","level":6}\n{"message":"b","level":3}\n{"message":"c","level":0}\n');
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 3);
    expect(all.entries.map((e) => e.message)).toEqual(['a', 'b', 'c']);
    expect(errorsOnly.entries.map((e) => e.message)).toEqual(['b', 'c']);
  });

  it('retries a failed backend write and acks only after it is stored', async () => {
    const { memory, path, server: s } = await start();
    memory.failNext(2);
    const c = await rawConnect(path);
    c.send('app\n{"message":"persist"}\n');
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 1);
    expect(memory.entries.map((e) => e.message)).toEqual(['persist']);
    expect(s.routes[0]?.counters.writeErrors).toBe(2);
  });

  it('drops an entry whose id it has already stored', async () => {
    const { memory, path, server: s } = await start();
    const c = await rawConnect(path);
    const line = '{"id":"dup-1","message":"once"}\n';
    c.send(line + line);
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 2);
    expect(memory.entries).toHaveLength(1);
    expect(s.counters.duplicatesDropped).toBe(1);
  });

  it('stops reading when a backend stalls, keeping memory bounded, and resumes after', async () => {
    const { memory, path, server: s } = await start({ maxInflightBytes: 256 * 1024 });
    memory.hold();
    const c = await rawConnect(path);
    const line = `{"message":"${'z'.repeat(200)}"}\n`;
    const total = 20_000; // ~4.3 MB, far above the in-flight bound
    let written = 0;
    const pump = () => {
      while (written < total) {
        written++;
        if (!c.socket.write(line)) return void c.socket.once('drain', pump);
      }
    };
    pump();
    await until(() => s.counters.socketPauses > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.inflightBytes).toBeLessThan(2 * 1024 * 1024);
    expect(written).toBeLessThan(total);
    memory.release();
    await until(() => memory.entries.length === total, 30_000, 'all entries');
  });

  it('on close reads what clients already sent, stores it, acks it and removes the socket', async () => {
    const { memory, path } = await start();
    const c = await rawConnect(path);
    c.send('app\n');
    await c.waitFrame((f) => f.type === 'ready');
    let burst = '';
    for (let i = 0; i < 5000; i++) burst += `{"message":"m${i}"}\n`;
    c.send(burst);
    await server!.close();
    expect(memory.entries).toHaveLength(5000);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(c.frames.some((f) => f.type === 'ack' && f.seq === 5000)).toBe(true);
    server = undefined;
  });

  it('answers a refused handshake once, reads nothing after it, and frees the slot', async () => {
    const { memory, path, server: s } = await start({ lingerMs: 300 });
    // A peer that keeps its side open and never reads: the server must not wait for it.
    const socket = createConnection({ path, allowHalfOpen: true });
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    let answers = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answers += d));
    socket.write('bad\u0001name\n{"message":"after"}\nalso-a-name\n{"message":"and"}\n');
    await until(() => answers.includes('\n'), 5000, 'the error frame');
    socket.pause();
    await until(() => s.activeConnections === 0, 5000, 'the refused connection to close');
    expect(
      answers
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { code: string }),
    ).toEqual([expect.objectContaining({ type: 'error', code: 'INVALID_HANDSHAKE' })]);
    expect(memory.entries).toHaveLength(0);
    expect(s.counters.messagesReceived).toBe(0);
    socket.destroy();
  });

  it('closes an ended connection whose peer never reads its answers, after lingerMs', async () => {
    const { memory, path, server: s } = await start({ lingerMs: 300 });
    const socket: Socket = createConnection({ path, allowHalfOpen: true });
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    // Bad lines until the server's answers back up (the peer reads none), then a good one, then end.
    const bad = 'x'.repeat(200);
    let burst = 'app\n';
    for (let i = 0; i < 20_000; i++) burst += `{"message":${i}}${bad}\n`;
    socket.write(`${burst}{"message":"last"}\n`);
    socket.end();
    await until(() => memory.entries.length === 1, 10_000, 'the good entry');
    await until(() => s.activeConnections === 0, 5000, 'the connection to be destroyed');
    expect(memory.entries[0]).toMatchObject({ message: 'last', daemon: 'app' });
    socket.destroy();
  });

  it('keeps turns fair: a good entry sent during a flood of slow-to-refuse lines waits for little of the flood', async () => {
    const { memory, path, server: s } = await start();
    const flood = await rawConnect(path);
    flood.send('flood\n');
    await flood.waitFrame((f) => f.type === 'ready');
    // Valid JSON with wrong types: each line costs microseconds to refuse (no fast path).
    const bad = '{"message":5,"level":"loud","fields":{"a":1},"pid":-1}\n';
    flood.send(bad.repeat(150_000));
    await until(() => s.counters.messagesReceived > 1000, 10_000, 'the flood to start');
    const good = await rawConnect(path);
    good.send('good\n');
    await good.waitFrame((f) => f.type === 'ready');
    const before = s.counters.messagesReceived;
    good.send('{"message":"in time"}\n');
    await good.waitFrame((f) => f.type === 'ack' && f.seq === 1);
    const floodLinesMeanwhile = s.counters.messagesReceived - before;
    expect(memory.entries.map((e) => e.message)).toEqual(['in time']);
    // Unfair reading takes all the socket holds each turn (~4,000 of these lines here); fair, a few hundred.
    console.info(`flood lines read while the good entry waited: ${floodLinesMeanwhile}`);
    expect(floodLinesMeanwhile).toBeLessThan(2000);
    expect(s.counters.messagesReceived).toBeLessThan(150_000);
    await flood.waitFrame((f) => f.type === 'ack' && f.seq === 150_000, 60_000);
    flood.end();
    good.end();
  }, 90_000);
});

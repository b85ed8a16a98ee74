import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { join } from 'node:path';
import { LogClient, LogStreamError, type ErrorFrame } from '@logstream/client';
// The real server, built: the same helpers as the server app's own tests.
import { ESM_CLIENT, readEntries, runScript, startServer, until, useServerDir } from '@logstream/test-support';

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));
const clients: LogClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function client(config: Partial<Parameters<typeof LogClient.withConfig>[0]> = {}): Promise<LogClient> {
  const c = await LogClient.withConfig({ socketPath: sock, daemonName: 'app', timeout: 5000, ...config });
  clients.push(c);
  return c;
}

/** Logs through `c`, flushes, and returns the entries stored on disk. */
async function stored(c: LogClient, count: number): Promise<Record<string, unknown>[]> {
  await c.flush();
  await until(async () => (await readEntries(join(out, 'current.log'))).length >= count, 15_000, `${count} entries`);
  return readEntries(join(out, 'current.log'));
}

const fieldsOf = (e: Record<string, unknown> | undefined) => e?.fields as Record<string, string>;

describe('values reach the server as documented flat strings', () => {
  it('flattens errors (cause chain, code), nested objects, numbers, dates, cycles, functions and throwing getters', async () => {
    await startServer(['-s', sock, '-o', out]);
    const c = await client();
    const cause = new TypeError('socket hung up');
    const err = Object.assign(new Error('request failed', { cause }), { code: 'E_BOOM' });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const tricky = {
      ok: 'yes',
      get bad(): string {
        throw new Error('getter exploded');
      },
    };
    expect(() =>
      c.error('failed', {
        err,
        req: { method: 'GET', headers: { host: 'example.org' } },
        count: 3,
        ratio: 0.5,
        flag: false,
        big: 12345678901234567890n,
        at: new Date(0),
        cyclic,
        fn: function handler() {},
        tricky,
        none: undefined,
        nothing: null,
        tags: ['a', 'b'],
      }),
    ).not.toThrow();
    const [entry] = await stored(c, 1);
    const f = fieldsOf(entry);
    expect(entry?.message).toBe('failed');
    expect(f['err.type']).toBe('Error');
    expect(f['err.message']).toBe('request failed');
    expect(f['err.stack']).toMatch(/^Error: request failed\n\s+at /);
    expect(f['err.code']).toBe('E_BOOM');
    expect(f['err.cause.type']).toBe('TypeError');
    expect(f['err.cause.message']).toBe('socket hung up');
    expect(f['err.cause.stack']).toContain('TypeError: socket hung up');
    expect(f).toMatchObject({
      'req.method': 'GET',
      'req.headers.host': 'example.org',
      count: '3',
      ratio: '0.5',
      flag: 'false',
      big: '12345678901234567890',
      at: '1970-01-01T00:00:00.000Z',
      'cyclic.name': 'loop',
      'cyclic.self': '[Circular]',
      fn: '[Function: handler]',
      'tricky.ok': 'yes',
      'tricky.bad': '[Throws: getter exploded]',
      nothing: 'null',
      'tags.0': 'a',
      'tags.1': 'b',
    });
    expect('none' in f).toBe(false);
    for (const v of Object.values(f)) expect(typeof v).toBe('string');
  });

  it('understands the pino argument order, an Error first, and a string in place of fields', async () => {
    await startServer(['-s', sock, '-o', out]);
    const c = await client();
    c.info({ user: 'u1' }, 'msg');
    c.error(new Error('disk full'));
    c.error(new RangeError('bad range'), 'while parsing');
    c.info('hello', 'world');
    c.warn('careful', new Error('inner'));
    const entries = await stored(c, 5);
    expect(entries.map((e) => [e.message, e.level])).toEqual([
      ['msg', 6],
      ['disk full', 3],
      ['while parsing', 3],
      ['hello world', 6],
      ['careful', 4],
    ]);
    expect(fieldsOf(entries[0])).toEqual({ user: 'u1' });
    expect(fieldsOf(entries[1])).toMatchObject({ 'err.type': 'Error', 'err.message': 'disk full' });
    expect(fieldsOf(entries[2])).toMatchObject({ 'err.type': 'RangeError', 'err.message': 'bad range' });
    expect(fieldsOf(entries[3])).toEqual({});
    expect(fieldsOf(entries[4])).toMatchObject({ 'err.message': 'inner' });
  });
});

describe('the logging calls', () => {
  it('return a boolean, not a promise; past half the buffer they return false and drain() / "drain" say when to go on', async () => {
    await startServer(['-s', sock, '-o', out]);
    const c = await client({ bufferSize: 100 });
    const results: unknown[] = [];
    for (let i = 0; i < 49; i++) results.push(c.info(`e${i}`));
    expect(results.every((r) => r === true)).toBe(true);
    expect(c.info('e49')).toBe(false);
    const drained = once(c, 'drain');
    await c.drain();
    await drained;
    expect(c.buffered).toBeLessThan(50);
    expect(c.info('after drain')).toBe(true);
    // A loop that honours the boolean stores everything, whatever the buffer size.
    for (let i = 0; i < 2000; i++) if (!c.log('info', `loop ${i}`)) await c.drain();
    const entries = await stored(c, 2051);
    expect(entries).toHaveLength(2051);
  });

  it('have the aliases warn (4), fatal (2), trace (7), and a child binds fields to every entry', async () => {
    await startServer(['-s', sock, '-o', out]);
    const c = await client();
    c.warn('w');
    c.fatal('f');
    c.trace('t');
    const child = c.child({ request: { id: 'r1' }, user: 'u1' });
    child.info('from child', { user: 'u2', step: 1 });
    child.child({ span: 's9' }).error(new Error('nested'));
    const entries = await stored(c, 5);
    expect(entries.map((e) => [e.message, e.level])).toEqual([
      ['w', 4],
      ['f', 2],
      ['t', 7],
      ['from child', 6],
      ['nested', 3],
    ]);
    expect(fieldsOf(entries[3])).toEqual({ 'request.id': 'r1', user: 'u2', step: '1' });
    expect(fieldsOf(entries[4])).toMatchObject({ 'request.id': 'r1', user: 'u1', span: 's9', 'err.message': 'nested' });
  });

  it('redact field paths in pino syntax, with a censor or removed', async () => {
    await startServer(['-s', sock, '-o', out]);
    const c = await client({ redact: { paths: ['req.headers.authorization', 'users[*].password', 'secret'], censor: '***' } });
    c.info('login', {
      req: { headers: { authorization: 'Bearer abc', host: 'h' } },
      users: [
        { name: 'a', password: 'p1' },
        { name: 'b', password: 'p2' },
      ],
      secret: { deep: 'x' },
    });
    c.child({ secret: 'bound' }).info('child');
    const r = await client({ redact: { paths: ['token'], remove: true } });
    r.info('removed', { token: 't', keep: 'k' });
    await r.flush();
    const entries = await stored(c, 3);
    const login = entries.find((e) => e.message === 'login');
    expect(fieldsOf(login)).toEqual({
      'req.headers.authorization': '***',
      'req.headers.host': 'h',
      'users.0.name': 'a',
      'users.0.password': '***',
      'users.1.name': 'b',
      'users.1.password': '***',
      secret: '***',
    });
    expect(fieldsOf(entries.find((e) => e.message === 'child'))).toEqual({ secret: '***' });
    expect(fieldsOf(entries.find((e) => e.message === 'removed'))).toEqual({ keep: 'k' });
    await expect(LogClient.withConfig({ daemonName: 'x', redact: ['a[b'] })).rejects.toThrow(/redact: bad path "a\[b": unclosed \[/);
  });

  it('emit "rejected" with the ErrorFrame for a refused entry', async () => {
    await startServer(['-s', sock, '-o', out]);
    const c = await client();
    const frames: ErrorFrame[] = [];
    c.on('rejected', (frame) => frames.push(frame));
    c.log(9 as never, 'bad level');
    expect(frames).toEqual([{ type: 'error', kind: 'client', code: 'INVALID_ENTRY', message: 'not a level: 9' }]);
    expect(LogStreamError.is(new LogStreamError('client', 'x'))).toBe(true);
  });

  it('take the socket from $LOGSTREAM_SOCKET by default', async () => {
    await startServer(['-s', sock, '-o', out]);
    const r = await runScript(
      dir,
      'env.mjs',
      `import { LogClient } from ${ESM_CLIENT};
       const log = await LogClient.withConfig({ daemonName: 'env' });
       log.info('via env');
       await log.close();
       console.log(log.socketPath);`,
      { env: { LOGSTREAM_SOCKET: sock } },
    );
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: `${sock}\n` });
    expect((await readEntries(join(out, 'current.log'))).map((e) => e.message)).toEqual(['via env']);
  });
});

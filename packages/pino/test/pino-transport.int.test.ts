import { describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { join } from 'node:path';
// The real server, built, and scripts run as applications run: real pino from npm, a real socket.
import { linkPackages, readEntries, runScript, startServer, until, useServerDir } from '@logstream/test-support';
import { pinoLevelToLogLevel } from '../src/pino-transport';

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));
const live = () => join(out, 'current.log');

describe('pinoLevelToLogLevel', () => {
  it('maps 10/20 → 7, 30 → 6, 40 → 4, 50 → 3, 60 → 2, custom numbers down to the next standard level, and labels', () => {
    expect([10, 20, 30, 40, 50, 60, 35, 70, 0].map(pinoLevelToLogLevel)).toEqual([7, 7, 6, 4, 3, 2, 6, 2, 7]);
    expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map(pinoLevelToLogLevel)).toEqual([7, 7, 6, 4, 3, 2]);
  });
});

describe('an app migrated by changing only its pino configuration', () => {
  it('stores every line with the level mapping, its own time/pid/hostname, err with stack and cause, and child bindings (ESM)', async () => {
    await startServer(['-s', sock, '-o', out]);
    await linkPackages(dir);
    const before = Date.now();
    const r = await runScript(
      dir,
      'app.mjs',
      `import pino from 'pino';
       const logger = pino({ level: 'trace', transport: { target: '@logstream/pino', options: { socketPath: ${JSON.stringify(sock)}, daemonName: 'pino-app' } } });
       logger.trace('t'); logger.debug('d'); logger.info({ user: 'u1' }, 'hello'); logger.warn('w');
       const child = logger.child({ reqId: 'r1', req: { method: 'GET' } });
       child.error(new Error('boom', { cause: new TypeError('inner') }), 'failed');
       logger.fatal('f');
       console.log(process.pid);`,
    );
    expect(r).toMatchObject({ code: 0, killed: false, stderr: '' });
    await until(async () => (await readEntries(live())).length >= 6, 15_000, '6 entries');
    const entries = await readEntries(live());
    expect(entries.map((e) => [e.message, e.level, e.daemon])).toEqual([
      ['t', 7, 'pino-app'],
      ['d', 7, 'pino-app'],
      ['hello', 6, 'pino-app'],
      ['w', 4, 'pino-app'],
      ['failed', 3, 'pino-app'],
      ['f', 2, 'pino-app'],
    ]);
    for (const e of entries) {
      expect(e.pid).toBe(Number(r.stdout.trim()));
      expect(e.hostname).toBe(hostname());
      expect(Date.parse(e.timestamp as string)).toBeGreaterThanOrEqual(before - 1000);
      expect(e.fields).not.toHaveProperty('time');
      expect(e.fields).not.toHaveProperty('msg');
    }
    expect(entries[2]?.fields).toEqual({ user: 'u1' });
    const failed = entries[4]?.fields as Record<string, string>;
    // pino's err serializer joins the causes' messages into err.message ("boom: inner").
    expect(failed).toMatchObject({ reqId: 'r1', 'req.method': 'GET', 'err.type': 'Error', 'err.message': 'boom: inner' });
    expect(failed['err.stack']).toMatch(/^Error: boom\n\s+at /);
  });

  it('stores all 100 lines logged right before process.exit(0): pino ends the worker stream and the transport flushes (CJS)', async () => {
    await startServer(['-s', sock, '-o', out]);
    await linkPackages(dir);
    const r = await runScript(
      dir,
      'exit.cjs',
      `const pino = require('pino');
       const logger = pino({ transport: { target: '@logstream/pino', options: { socketPath: ${JSON.stringify(sock)}, daemonName: 'pino-exit' } } });
       for (let i = 0; i < 100; i++) logger.info({ i }, 'line ' + i);
       process.exit(0);`,
    );
    expect(r).toMatchObject({ code: 0, killed: false, stderr: '' });
    await until(async () => (await readEntries(live())).length >= 100, 15_000, '100 entries');
    const entries = await readEntries(live());
    expect(entries.map((e) => e.message)).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i}`));
    expect(entries[99]?.fields).toEqual({ i: '99' });
  });

  it('says what it lost when the server is not there, and the app still exits', async () => {
    await linkPackages(dir);
    const r = await runScript(
      dir,
      'lost.mjs',
      `import pino from 'pino';
       const logger = pino({ transport: { target: '@logstream/pino', options: { socketPath: ${JSON.stringify(join(dir, 'none.sock'))}, daemonName: 'pino-lost', timeout: 1000 } } });
       logger.info('a'); logger.info('b');`,
    );
    expect(r).toMatchObject({ code: 0, killed: false });
    expect(r.stderr).toMatch(/2 entries not stored at close \(server unreachable: ENOENT on .*none\.sock\)/);
  });
});

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
// The real server, built, and scripts run as applications run: real winston from npm, a real socket.
import { linkPackages, readEntries, runScript, startServer, until, useServerDir } from '@logstream/test-support';

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));
const live = () => join(out, 'current.log');

async function storedEntries(count: number): Promise<Record<string, unknown>[]> {
  await until(async () => (await readEntries(live())).length >= count, 15_000, `${count} entries`);
  return readEntries(live());
}

describe('an app migrated by adding the transport to its winston logger', () => {
  it('maps the npm levels, keeps child metadata and the error stack, and close() flushes (ESM)', async () => {
    await startServer(['-s', sock, '-o', out]);
    await linkPackages(dir);
    const r = await runScript(
      dir,
      'npm.mjs',
      `import winston from 'winston';
       import { LogStreamTransport } from '@logstream/winston';
       const transport = new LogStreamTransport({ socketPath: ${JSON.stringify(sock)}, daemonName: 'winston-app' });
       const logger = winston.createLogger({ level: 'silly', format: winston.format.errors({ stack: true }), transports: [transport] });
       for (const level of ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']) logger.log(level, 'at ' + level);
       logger.child({ reqId: 'r1' }).info('from child', { user: { id: 'u1' } });
       logger.error(new Error('boom'));
       logger.close();
       await transport.close();
       console.log('stored ' + transport.client.stats.acked);`,
    );
    expect(r).toMatchObject({ code: 0, killed: false, stderr: '', stdout: 'stored 9\n' });
    const entries = await storedEntries(9);
    expect(entries.map((e) => [e.message, e.level, e.daemon])).toEqual([
      ['at error', 3, 'winston-app'],
      ['at warn', 4, 'winston-app'],
      ['at info', 6, 'winston-app'],
      ['at http', 6, 'winston-app'],
      ['at verbose', 7, 'winston-app'],
      ['at debug', 7, 'winston-app'],
      ['at silly', 7, 'winston-app'],
      ['from child', 6, 'winston-app'],
      ['boom', 3, 'winston-app'],
    ]);
    expect(entries[7]?.fields).toEqual({ reqId: 'r1', 'user.id': 'u1' });
    const err = entries[8]?.fields as Record<string, string>;
    expect(err['err.message']).toBe('boom');
    expect(err['err.stack']).toMatch(/^Error: boom\n\s+at /);
  });

  it('maps the syslog levels (CJS)', async () => {
    await startServer(['-s', sock, '-o', out]);
    await linkPackages(dir);
    const r = await runScript(
      dir,
      'syslog.cjs',
      `const winston = require('winston');
       const { LogStreamTransport } = require('@logstream/winston');
       const transport = new LogStreamTransport({ socketPath: ${JSON.stringify(sock)}, daemonName: 'winston-syslog' });
       const logger = winston.createLogger({ levels: winston.config.syslog.levels, level: 'debug', transports: [transport] });
       for (const level of ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug']) logger.log(level, level);
       transport.close().then(() => console.log('closed'));`,
    );
    expect(r).toMatchObject({ code: 0, killed: false, stderr: '', stdout: 'closed\n' });
    const entries = await storedEntries(8);
    expect(entries.map((e) => [e.message, e.level])).toEqual([
      ['emerg', 0],
      ['alert', 1],
      ['crit', 2],
      ['error', 3],
      ['warning', 4],
      ['notice', 5],
      ['info', 6],
      ['debug', 7],
    ]);
  });

  it('stores 100 entries logged right before process.exit(0), and a script that never closes exits by itself', async () => {
    await startServer(['-s', sock, '-o', out]);
    await linkPackages(dir);
    const a = await runScript(
      dir,
      'exit.mjs',
      `import winston from 'winston';
       import { LogStreamTransport } from '@logstream/winston';
       const logger = winston.createLogger({ transports: [new LogStreamTransport({ socketPath: ${JSON.stringify(sock)}, daemonName: 'winston-exit' })] });
       await new Promise((r) => setTimeout(r, 200));
       for (let i = 0; i < 100; i++) logger.info('line ' + i, { i });
       process.exit(0);`,
    );
    expect(a).toMatchObject({ code: 0, killed: false, stderr: '' });
    const b = await runScript(
      dir,
      'no-close.mjs',
      `import winston from 'winston';
       import { LogStreamTransport } from '@logstream/winston';
       const logger = winston.createLogger({ transports: [new LogStreamTransport({ socketPath: ${JSON.stringify(sock)}, daemonName: 'winston-open' })] });
       logger.info('never closed');`,
      { killAfterMs: 20_000 },
    );
    expect(b).toMatchObject({ code: 0, killed: false, stderr: '' });
    const entries = await storedEntries(101);
    expect(entries.filter((e) => e.daemon === 'winston-exit').map((e) => e.message)).toEqual(
      Array.from({ length: 100 }, (_, i) => `line ${i}`),
    );
    expect(entries.filter((e) => e.daemon === 'winston-open').map((e) => e.message)).toEqual(['never closed']);
  });
});

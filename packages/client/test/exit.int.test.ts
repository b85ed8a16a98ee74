import { describe, expect, it } from 'vitest';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
// The real server, built: the same helpers as the server app's own tests.
import { CJS_CLIENT, ESM_CLIENT, readEntries, runScript, startServer, until, useServerDir } from '@logstream/test-support';

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

const live = () => join(out, 'current.log');

/** The same script body as an ES module and as CommonJS (top-level await only in the first). */
function variants(body: string): [string, string][] {
  return [
    ['mjs', `import { LogClient } from ${ESM_CLIENT};\n${body}`],
    ['cjs', `const { LogClient } = require(${CJS_CLIENT});\n(async () => {\n${body}\n})();`],
  ];
}

const TIMEOUT_MS = 1000;

describe.each(['mjs', 'cjs'])('a short %s script', (kind) => {
  const pick = (body: string) => variants(body).find(([k]) => k === kind)?.[1] as string;

  it('goes on after `await log.close()` within timeout + 2 s when the server is not there, and says what was lost', async () => {
    const r = await runScript(
      dir,
      `unreachable.${kind}`,
      pick(`
        const log = await LogClient.withConfig({ socketPath: ${JSON.stringify(join(dir, 'nobody-here.sock'))}, daemonName: 'script', timeout: ${TIMEOUT_MS} });
        log.info('one'); log.info('two'); log.info('three');
        const t0 = Date.now();
        await log.close();
        console.log('after close ' + (Date.now() - t0));
      `),
    );
    expect(r.killed).toBe(false);
    expect(r.code).toBe(0);
    const m = /after close (\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m?.[1])).toBeLessThan(TIMEOUT_MS + 2000);
    expect(r.stderr).toMatch(/3 entries not stored at close \(server unreachable: ENOENT on .*nobody-here\.sock\)/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('that never closes ends by itself once its entries are stored', async () => {
    await startServer(['-s', sock, '-o', out]);
    const r = await runScript(
      dir,
      `no-close.${kind}`,
      pick(`
        const log = await LogClient.connect(${JSON.stringify(sock)}, 'script');
        for (let i = 0; i < 10; i++) log.info('entry ' + i);
      `),
      { killAfterMs: 20_000 },
    );
    expect(r.killed).toBe(false);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect((await readEntries(live())).map((e) => e.message)).toEqual(Array.from({ length: 10 }, (_, i) => `entry ${i}`));
  });

  it('that never closes ends by itself within timeout + 2 s when the server is not there, and says what was lost', async () => {
    const r = await runScript(
      dir,
      `no-close-unreachable.${kind}`,
      pick(`
        const log = await LogClient.withConfig({ socketPath: ${JSON.stringify(join(dir, 'nobody-here.sock'))}, daemonName: 'script', timeout: ${TIMEOUT_MS} });
        log.info('lost');
        globalThis.t0 = Date.now();
        process.on('exit', () => console.log('exit after ' + (Date.now() - globalThis.t0)));
      `),
      { killAfterMs: 20_000 },
    );
    expect(r.killed).toBe(false);
    expect(Number(/exit after (\d+)/.exec(r.stdout)?.[1])).toBeLessThan(TIMEOUT_MS + 2000);
    expect(r.stderr).toMatch(/1 entry not stored at exit \(server unreachable: ENOENT on .*nobody-here\.sock\)/);
  });

  it('stores 100 entries logged right before process.exit(0)', async () => {
    await startServer(['-s', sock, '-o', out]);
    const r = await runScript(
      dir,
      `exit.${kind}`,
      pick(`
        const log = await LogClient.connect(${JSON.stringify(sock)}, 'script');
        for (let i = 0; i < 100; i++) log.info('entry ' + i, { i: String(i) });
        process.exit(0);
      `),
    );
    expect(r).toMatchObject({ code: 0, killed: false, stderr: '' });
    await until(async () => (await readEntries(live())).length >= 100, 15_000, '100 entries stored');
    const entries = await readEntries(live());
    expect(entries.map((e) => e.message)).toEqual(Array.from({ length: 100 }, (_, i) => `entry ${i}`));
  });

  it('stores the entry of `log.error(e); process.exit(1)` and of an uncaught exception', async () => {
    await startServer(['-s', sock, '-o', out]);
    const a = await runScript(
      dir,
      `exit1.${kind}`,
      pick(`
        const log = await LogClient.connect(${JSON.stringify(sock)}, 'script');
        log.error('fatal: config missing');
        process.exit(1);
      `),
    );
    expect(a).toMatchObject({ code: 1, killed: false, stderr: '' });
    const b = await runScript(
      dir,
      `throw.${kind}`,
      pick(`
        const log = await LogClient.connect(${JSON.stringify(sock)}, 'script');
        log.error('about to throw');
        setImmediate(() => { throw new Error('boom'); });
      `),
    );
    expect(b).toMatchObject({ code: 1, killed: false });
    expect(b.stderr).toContain('Error: boom');
    await until(async () => (await readEntries(live())).length >= 2, 15_000, 'both entries stored');
    expect((await readEntries(live())).map((e) => e.message).sort()).toEqual(['about to throw', 'fatal: config missing']);
  });
});

describe('a permission error', () => {
  it('is reported as EACCES at once, and close() still settles within timeout + 2 s', async () => {
    // The server's socket is 0660 root:root; the script runs as nobody.
    await chmod(dir, 0o755);
    await startServer(['-s', sock, '-o', out]);
    const r = await runScript(
      dir,
      'eacces.mjs',
      `import { LogClient } from ${ESM_CLIENT};
       const log = await LogClient.withConfig({ socketPath: ${JSON.stringify(sock)}, daemonName: 'script', timeout: ${TIMEOUT_MS} });
       console.log('connected ' + log.connected);
       log.info('not allowed');
       const t0 = Date.now();
       await log.close();
       console.log('after close ' + (Date.now() - t0));`,
      { user: 'nobody' },
    );
    expect(r).toMatchObject({ code: 0, killed: false });
    expect(r.stdout).toContain('connected false');
    expect(Number(/after close (\d+)/.exec(r.stdout)?.[1])).toBeLessThan(TIMEOUT_MS + 2000);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/EACCES on .*s\.sock: no permission to connect/);
    expect(lines[1]).toMatch(/1 entry not stored at close \(EACCES on .*s\.sock\)/);
    expect(await readEntries(live())).toEqual([]);
  });
});

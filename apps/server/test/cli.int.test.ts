import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogClient } from '@logstream/client';
import { readEntries, runCli, until, useServerDir } from '@logstream/test-support';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

/** Runs the CLI with `args` and expects a usage error: exit 2, one line naming `named`, nothing made. */
async function refused(args: string[], named: string): Promise<string> {
  // Without a refusal the server would start and serve: it is killed after 20 s (code null).
  const r = await runCli([...args, '-s', sock, '-o', out], { timeoutMs: 20_000 });
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(named);
  expect(r.stdout).toBe('');
  expect(existsSync(sock)).toBe(false);
  expect(existsSync(out)).toBe(false);
  return lines[0] as string;
}

describe('a strict command line', () => {
  it('refuses an unknown option, naming it as typed, and starts nothing', async () => {
    expect(await refused(['--socket-path', join(dir, 'x.sock')], 'unknown option --socket-path')).toBe(
      'logstream-server: unknown option --socket-path (see logstream-server --help)',
    );
    await refused(['--verbos'], 'unknown option --verbos');
    await refused(['-x'], 'unknown option -x');
    expect(existsSync(join(dir, 'x.sock'))).toBe(false);
  });

  it('refuses a stray argument (a config file without -c, anything after --)', async () => {
    await writeFile(join(dir, 'server.toml'), '');
    const line = await refused([join(dir, 'server.toml')], `unexpected argument "${join(dir, 'server.toml')}"`);
    expect(line).toContain(`a config file goes after -c: -c ${join(dir, 'server.toml')}`);
    await refused(['--', '-v'], 'unexpected argument "-v"');
  });

  it('says which option lacks its value, or is given twice', async () => {
    // -c last: the old message was `The "path" argument must be of type string… Received type boolean`.
    const r = await runCli(['-s', sock, '-o', out, '-c'], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('logstream-server: option -c, --config needs a value: --config <file> (see logstream-server --help)');
    await refused(['--metrics-port'], 'option --metrics-port needs a value');
    await refused(['-c', join(dir, 'a.toml'), '-c', join(dir, 'b.toml')], 'option -c, --config given more than once');
  });

  it('still takes every documented option', async () => {
    const r = await runCli(['-c', join(dir, 'none.toml'), '--validate', '-s', sock, '-o', out, '-v', '--journald', '--metrics-port', '0']);
    expect(r.stderr).toContain('cannot read config');
    const ok = await runCli(['--validate', '-s', sock, '-o', out, '--journald', '--metrics', '--metrics-port', '9999']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`"socket_path": "${sock}"`);
    expect(ok.stdout).toContain('"port": 9999');
  });
});

describe('pnpm start', () => {
  it('passes `pnpm start -- -s X -o Y` through to the server, and does not rebuild a current build', async () => {
    const dist = join(ROOT, 'packages', 'core', 'dist');
    const before = Object.fromEntries((await readdir(dist)).map((f) => [f, statSync(join(dist, f)).mtimeMs]));
    // Its own process group, so the test stops pnpm and the server it started together.
    const proc = spawn('npx', ['-y', 'pnpm@10.34.8', 'start', '--', '-s', sock, '-o', out], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    proc.stdout.resume();
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    try {
      await until(() => err.includes('listening on') || proc.exitCode !== null, 120_000, 'the start-up line');
      expect(err).toContain(`listening on ${sock} `);
      expect(err).not.toContain('building');
      const client = await LogClient.connect(sock, 'via-pnpm');
      client.info('hello');
      await client.close();
      expect((await readEntries(join(out, 'current.log'))).map((e) => e.message)).toEqual(['hello']);
      const after = Object.fromEntries((await readdir(dist)).map((f) => [f, statSync(join(dist, f)).mtimeMs]));
      expect(after).toEqual(before);
    } finally {
      if (proc.exitCode === null) process.kill(-(proc.pid as number), 'SIGTERM');
      await exited;
    }
  }, 180_000);
});

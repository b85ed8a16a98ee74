import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseServerFrame } from '@logstream/protocol';
import { metric, parseMetrics, rawConnect, tempDir, until } from '@logstream/test-support';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PACKAGES = ['protocol', 'rotator', 'core', 'backend-file', 'metrics'];

// pnpm is the one running the tests (npm_execpath) or, when run directly, the pinned version.
function pnpm(args: string[], cwd: string) {
  const execpath = process.env.npm_execpath;
  if (execpath?.includes('pnpm')) return run(process.execPath, [execpath, ...args], { cwd });
  return run('npx', ['-y', 'pnpm@10.34.8', ...args], { cwd });
}

/** A TCP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The README's "Compose a custom server" block, as written there. */
async function composeExample(): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Compose a custom server'));
  const block = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error('README.md: no js block under "Compose a custom server"');
  return block;
}

let dir: string;
let cleanup: () => Promise<void>;
const tarballs: Record<string, string> = {};
let child: ChildProcess | undefined;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  const packs = join(dir, 'tgz');
  await mkdir(packs);
  for (const name of PACKAGES) await pnpm(['pack', '--pack-destination', packs], join(root, 'packages', name));
  for (const file of await readdir(packs)) {
    const m = /^logstream-(.+)-\d+\.\d+\.\d+\.tgz$/.exec(file);
    if (m) tarballs[m[1] as string] = join(packs, file);
  }
  // Packing is slow when the machine is loaded (several minutes at a load of 20 on 2 cores).
}, 480_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  await cleanup();
});

describe('@logstream/metrics as published', () => {
  it('passes publint (exports, types, files as published)', async () => {
    const { stdout } = await run(join(root, 'node_modules', '.bin', 'publint'), [tarballs.metrics as string, '--strict']);
    expect(stdout).toContain('All good!');
  }, 120_000);

  it("the README's custom server, from packed core + backend-file + metrics with plain npm, serves /metrics", async () => {
    const project = join(dir, 'project');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), '{ "name": "user-project", "private": true, "type": "module" }\n');
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        ...['core', 'backend-file', 'metrics', 'protocol', 'rotator'].map((n) => tarballs[n] as string),
      ],
      {
        cwd: project,
        timeout: 240_000,
      },
    );

    // The example as written, with its fixed paths and port swapped for this test's own.
    const sock = join(dir, 'app.sock');
    const out = join(dir, 'logs');
    const port = await freePort();
    let code = await composeExample();
    for (const [from, to] of [
      ["'/tmp/myapp-log.sock'", JSON.stringify(sock)],
      ["'/tmp/myapp-logs'", JSON.stringify(out)],
      ['port: 9464', `port: ${port}`],
    ] as const) {
      expect(code, `README example uses ${from}`).toContain(from);
      code = code.replace(from, to);
    }
    await writeFile(join(project, 'my-server.mjs'), code);
    let stderr = '';
    child = spawn(process.execPath, ['my-server.mjs'], { cwd: project, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (c) => resolve(c)));
    const url = `http://127.0.0.1:${port}/metrics`;
    await until(
      async () => {
        if (child?.exitCode !== null) throw new Error(`the example exited: ${stderr}`);
        return fetch(url).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
      'the metrics endpoint',
    );

    // Three info entries are stored; a debug one is filtered out by minLevel 6.
    const conn = await rawConnect(sock, parseServerFrame);
    conn.send('packed\n');
    for (const level of ['info', 'info', 'debug', 'info']) conn.send(`${JSON.stringify({ message: `a ${level} entry`, level })}\n`);
    await until(() => conn.acked() >= 4, 30_000, 'ack');
    conn.end();

    const res = await fetch(url);
    expect(res.status).toBe(200);
    const m = parseMetrics(await res.text());
    expect(metric(m, 'logstream_messages_received_total')).toBe(4);
    expect(metric(m, 'logstream_backend_entries_written_total', { backend: 'file' })).toBe(3);
    expect(metric(m, 'logstream_live_file_bytes', { backend: 'file' })).toBe((await stat(join(out, 'current.log'))).size);
    expect(metric(m, 'logstream_rotations_total', { backend: 'file' })).toBe(0);
    expect(metric(m, 'logstream_backend_write_seconds_count', { backend: 'file' })).toBeGreaterThan(0);
    expect(metric(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    // handleSignals(): SIGTERM drains, flushes and exits 0 (the metrics endpoint does not keep it alive).
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
    await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
  }, 300_000);
});

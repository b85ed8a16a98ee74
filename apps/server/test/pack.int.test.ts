import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readEntries, startServer, tempDir, type ServerProcess } from '@logstream/test-support';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PACKAGES = [
  'protocol',
  'client',
  'core',
  'metrics',
  'rotator',
  'unix-dgram',
  'backend-file',
  'backend-journald',
  'backend-syslog',
  'query',
  'backend-nats',
];
// Everything the server installs: the packed server and the packages it depends on.
const SERVER_PACKAGES = [...PACKAGES.filter((p) => p !== 'client'), 'server'];

// pnpm is the one running the tests (npm_execpath) or, when run directly, the pinned version.
function pnpm(args: string[], cwd: string) {
  const execpath = process.env.npm_execpath;
  if (execpath?.includes('pnpm')) return run(process.execPath, [execpath, ...args], { cwd });
  return run('npx', ['-y', 'pnpm@10.34.8', ...args], { cwd });
}

let dir: string;
let cleanup: () => Promise<void>;
const tarballs: Record<string, string> = {};
let server: ServerProcess | undefined;

async function npmInstall(folder: string, names: string[], env: NodeJS.ProcessEnv = {}) {
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'package.json'), '{ "name": "user-project", "private": true }\n');
  return run('npm', ['install', '--no-audit', '--no-fund', ...names.map((n) => tarballs[n] as string)], {
    cwd: folder,
    timeout: 240_000,
    env: { ...process.env, ...env },
  });
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  const packs = join(dir, 'tgz');
  await mkdir(packs);
  for (const name of [...PACKAGES.map((p) => `packages/${p}`), 'apps/server']) {
    await pnpm(['pack', '--pack-destination', packs], join(root, name));
  }
  for (const file of await readdir(packs)) {
    const m = /^logstream-(.+)-\d+\.\d+\.\d+\.tgz$/.exec(file);
    if (m) tarballs[m[1] as string] = join(packs, file);
  }
  // Packing is slow when the machine is loaded (several minutes at a load of 20 on 2 cores).
}, 480_000);

afterAll(async () => {
  await server?.stop('SIGKILL');
  await cleanup();
});

describe('the published packages, installed from their tarballs', () => {
  it('has a tarball for every package', () => {
    expect(Object.keys(tarballs).sort()).toEqual([...PACKAGES, 'server'].sort());
  });

  it('every package passes publint (exports, types, files as published)', async () => {
    const publint = join(root, 'node_modules', '.bin', 'publint');
    // The tarballs beforeAll packed: publint lints what is published, without packing again.
    for (const name of [...PACKAGES, 'server']) {
      const { stdout } = await run(publint, [tarballs[name] as string, '--strict']);
      expect(stdout, name).toContain('All good!');
    }
  }, 120_000);

  it('an operator runs the packed server; an application author logs through the packed client (CJS and ESM)', async () => {
    const operator = join(dir, 'operator');
    await npmInstall(operator, [...PACKAGES, 'server']);
    const sock = join(dir, 'p.sock');
    const out = join(dir, 'out');
    server = await startServer(['-s', sock, '-o', out], { cli: join(operator, 'node_modules', '.bin', 'logstream-server') });

    const author = join(dir, 'author');
    await npmInstall(author, ['protocol', 'client']);
    // Only the client, the protocol and valibot: no server code in an application's tree.
    expect((await readdir(join(author, 'node_modules'))).filter((f) => !f.startsWith('.')).sort()).toEqual(['@logstream', 'valibot']);
    expect((await readdir(join(author, 'node_modules', '@logstream'))).sort()).toEqual(['client', 'protocol']);
    // The logger(1)-like `logstream` command comes with the client.
    expect(await readdir(join(author, 'node_modules', '.bin'))).toContain('logstream');
    await writeFile(
      join(author, 'daemon.cjs'),
      `const { LogClient } = require('@logstream/client');
       (async () => {
         const client = await LogClient.connect(process.argv[2], 'cjs-daemon');
         client.info('from commonjs', { style: 'require' });
         await client.close();
       })();`,
    );
    await writeFile(
      join(author, 'daemon.mjs'),
      `import { LogClient } from '@logstream/client';
       const client = await LogClient.connect(process.argv[2], 'esm-daemon');
       client.warning('from esm', { style: 'import' });
       await client.close();`,
    );
    await run(process.execPath, ['daemon.cjs', sock], { cwd: author });
    await run(process.execPath, ['daemon.mjs', sock], { cwd: author });
    const entries = await readEntries(join(out, 'current.log'));
    expect(entries.map((e) => [e.daemon, e.message, e.fields])).toEqual([
      ['cjs-daemon', 'from commonjs', { style: 'require' }],
      ['esm-daemon', 'from esm', { style: 'import' }],
    ]);
    // logstream-query comes with the server and reads its output back.
    const query = await run(join(operator, 'node_modules', '.bin', 'logstream-query'), ['-D', out, '-o', 'cat']);
    expect(query.stdout).toBe('from commonjs\nfrom esm\n');
    await server.stop();
    server = undefined;
  }, 300_000);

  it('installs with plain npm where no C++ compiler exists, serves the file backend, and names what journald lacks', async () => {
    const slim = join(dir, 'slim');
    // node-gyp compiles unix-dgram with $CXX: a compiler that does not exist fails the build.
    const install = await npmInstall(slim, SERVER_PACKAGES, { CXX: '/nonexistent-g++', CC: '/nonexistent-gcc' });
    expect(install.stderr).not.toMatch(/ERR!/);
    // npm dropped the optional addon whose build failed, and kept everything else.
    await expect(readdir(join(slim, 'node_modules', 'unix-dgram'))).rejects.toMatchObject({ code: 'ENOENT' });
    const cli = join(slim, 'node_modules', '.bin', 'logstream-server');
    const sock = join(dir, 's.sock');
    const out = join(dir, 'slim-out');
    server = await startServer(['-s', sock, '-o', out], { cli });
    const { LogClient } = await import('@logstream/client');
    const client = await LogClient.connect(sock, 'slim');
    client.info('no compiler needed');
    await client.close();
    expect((await readEntries(join(out, 'current.log'))).map((e) => e.message)).toEqual(['no compiler needed']);
    await server.stop();
    server = undefined;

    for (const [args, what] of [
      [['--journald'], 'the journald backend (backends.journald, --journald)'],
      [['-c', join(dir, 'local-syslog.toml')], "the syslog backend's local socket (backends.syslog.socket_path /dev/log)"],
    ] as const) {
      await writeFile(join(dir, 'local-syslog.toml'), '[backends.syslog]\nenabled = true\n');
      const start = await run(process.execPath, [cli, ...args, '-s', sock, '-o', out]).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(start.code).toBe(1);
      const lines = start.stderr.trim().split('\n');
      // One line, one sentence: what is missing and how to get it (it was 1,500 characters of paths).
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(
        `cannot start: ${what} needs the optional native module unix-dgram, which is not installed: install a C++ compiler`,
      );
      expect(lines[0]).toContain('npm rebuild unix-dgram');
      expect((lines[0] as string).length).toBeLessThan(500);
      const validate = await run(process.execPath, [cli, '--validate', ...args, '-s', sock]).catch(
        (error: { code: number; stderr: string }) => error,
      );
      expect((validate as { code: number }).code).toBe(1);
      expect((validate as { stderr: string }).stderr).toContain('needs the optional native module unix-dgram, which is not installed');
    }
  }, 300_000);

  it('a platform engineer composes a custom server from the packed core and file backend', async () => {
    const engineer = join(dir, 'engineer');
    await npmInstall(engineer, ['protocol', 'rotator', 'core', 'backend-file', 'client']);
    const sock = join(dir, 'c.sock');
    const out = join(dir, 'custom-out');
    await writeFile(
      join(engineer, 'my-server.mjs'),
      `import { LogServer } from '@logstream/core';
       import { FileBackend } from '@logstream/backend-file';
       const server = new LogServer({
         socketPath: process.argv[2],
         backends: [{ backend: new FileBackend({ directory: process.argv[3], format: 'human' }), minLevel: 4 }],
       });
       await server.listen();
       const { LogClient } = await import('@logstream/client');
       const client = await LogClient.connect(process.argv[2], 'custom');
       client.info('filtered out');
       client.error('kept', { code: '42' });
       await client.close();
       await server.close();`,
    );
    await run(process.execPath, ['my-server.mjs', sock, out], { cwd: engineer });
    const text = await readFile(join(out, 'current.log'), 'utf8');
    expect(text).toMatch(/^\S+Z ERROR custom\[\d+\] uid=\d+ comm=\S+: kept code=42\n$/);
  }, 300_000);
});

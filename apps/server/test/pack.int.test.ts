import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readEntries, startServer, tempDir, type ServerProcess } from './helpers';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PACKAGES = ['protocol', 'client', 'core', 'rotator', 'backend-file', 'backend-journald', 'backend-syslog', 'backend-nats'];

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

async function npmInstall(folder: string, names: string[]) {
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'package.json'), '{ "name": "user-project", "private": true }\n');
  await run('npm', ['install', '--no-audit', '--no-fund', ...names.map((n) => tarballs[n] as string)], {
    cwd: folder,
    timeout: 240_000,
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
}, 240_000);

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
         await client.info('from commonjs', { style: 'require' });
         await client.close();
       })();`,
    );
    await writeFile(
      join(author, 'daemon.mjs'),
      `import { LogClient } from '@logstream/client';
       const client = await LogClient.connect(process.argv[2], 'esm-daemon');
       await client.warning('from esm', { style: 'import' });
       await client.close();`,
    );
    await run(process.execPath, ['daemon.cjs', sock], { cwd: author });
    await run(process.execPath, ['daemon.mjs', sock], { cwd: author });
    const entries = await readEntries(join(out, 'current.log'));
    expect(entries.map((e) => [e.daemon, e.message, e.fields])).toEqual([
      ['cjs-daemon', 'from commonjs', { style: 'require' }],
      ['esm-daemon', 'from esm', { style: 'import' }],
    ]);
    await server.stop();
    server = undefined;
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
       await client.info('filtered out');
       await client.error('kept', { code: '42' });
       await client.close();
       await server.close();`,
    );
    await run(process.execPath, ['my-server.mjs', sock, out], { cwd: engineer });
    const text = await readFile(join(out, 'current.log'), 'utf8');
    expect(text).toMatch(/^\S+Z ERROR custom\[\d+\]: kept code=42\n$/);
  }, 300_000);
});

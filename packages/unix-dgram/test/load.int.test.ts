import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { errnoName, loadUnixDgram, unixDgramSystemError, type UnixDgramError } from '../src/index';

const run = promisify(execFile);
const here = dirname(dirname(fileURLToPath(import.meta.url)));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ud-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Lays out `node_modules` in `project` the way npm leaves it: the built @logstream/unix-dgram and
 * its protocol dependency, plus `addon` (a copy of unix-dgram and its `bindings`) when given.
 * Returns the outcome of loading the addon there, in a fresh Node process.
 */
async function loadIn(project: string, addon?: { withoutBuild: boolean }): Promise<string> {
  const scope = join(project, 'node_modules', '@logstream');
  await mkdir(join(scope, 'unix-dgram'), { recursive: true });
  await cp(join(here, 'dist'), join(scope, 'unix-dgram', 'dist'), { recursive: true });
  await cp(join(here, 'package.json'), join(scope, 'unix-dgram', 'package.json'));
  await symlink(await realpath(join(here, 'node_modules', '@logstream', 'protocol')), join(scope, 'protocol'));
  if (addon !== undefined) {
    const real = await realpath(join(here, 'node_modules', 'unix-dgram'));
    await cp(real, join(project, 'node_modules', 'unix-dgram'), {
      recursive: true,
      filter: (src) => !(addon.withoutBuild && src.startsWith(join(real, 'build'))),
    });
    await cp(join(dirname(real), 'bindings'), join(project, 'node_modules', 'bindings'), { recursive: true, dereference: true });
    await cp(join(dirname(real), 'file-uri-to-path'), join(project, 'node_modules', 'file-uri-to-path'), {
      recursive: true,
      dereference: true,
    }).catch(() => undefined);
  }
  await writeFile(
    join(project, 'try.mjs'),
    `import { loadUnixDgram } from '@logstream/unix-dgram';
     try { const m = await loadUnixDgram('the journald backend'); console.log('loaded', typeof m.createSocket); }
     catch (e) { console.log(e.kind, e.code, e.message); }`,
  );
  const { stdout } = await run(process.execPath, ['try.mjs'], { cwd: project });
  return stdout.trim();
}

describe('loadUnixDgram', () => {
  it('loads the built addon: a datagram goes from one socket to another', async () => {
    const { createSocket } = await loadUnixDgram('this test');
    const path = join(dir, 'r.sock');
    const got: Buffer[] = [];
    const receiver = createSocket('unix_dgram', (data) => got.push(data));
    receiver.bind(path);
    const sender = createSocket('unix_dgram');
    sender.connect(path);
    const error = await new Promise<UnixDgramError | undefined>((resolve) => sender.send(Buffer.from('hello'), resolve));
    expect(error).toBeUndefined();
    const deadline = Date.now() + 10_000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got.map(String)).toEqual(['hello']);
    sender.close();
    receiver.close();
  });

  it('maps its negative errno errors to Node-style system errors', async () => {
    const { createSocket } = await loadUnixDgram('this test');
    const socket = createSocket('unix_dgram');
    let failure: UnixDgramError | undefined;
    socket.on('error', (e: UnixDgramError) => (failure = e));
    socket.connect(join(dir, 'nobody-here.sock'));
    socket.close();
    expect(errnoName(failure)).toBe('ENOENT');
    const error = unixDgramSystemError(failure, 'connect', join(dir, 'nobody-here.sock'));
    expect(error).toMatchObject({
      code: 'ENOENT',
      errno: -2,
      syscall: 'connect',
      message: `connect ENOENT ${join(dir, 'nobody-here.sock')}`,
    });
    expect(errnoName({ code: -111 })).toBe('ECONNREFUSED');
    expect(errnoName({ code: 'congestion' })).toBe('EIO');
    expect(errnoName(undefined)).toBe('EIO');
  });

  it('where npm left the addon out (no compiler), says in one sentence what is missing and how to get it', async () => {
    const out = await loadIn(join(dir, 'absent'));
    expect(out).toMatch(/^io BACKEND the journald backend needs the optional native module unix-dgram, which is not installed: /);
    expect(out).toContain('npm rebuild unix-dgram');
    expect(out.split('\n')).toHaveLength(1);
    expect(out.length).toBeLessThan(400);
  });

  it('where the addon is installed but not built, says so without the list of paths node-bindings tried', async () => {
    const out = await loadIn(join(dir, 'unbuilt'), { withoutBuild: true });
    expect(out).toContain('which is installed but does not load (Could not locate the bindings file.)');
    expect(out).not.toContain('Tried');
    expect(out.split('\n')).toHaveLength(1);
    expect(out.length).toBeLessThan(400);
  });

  it('loads where the addon was built', async () => {
    expect(await loadIn(join(dir, 'present'), { withoutBuild: false })).toBe('loaded function');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LogClient } from '@logstream/client';

// A local user who binds the client's socket path first (the default /tmp/logstream.sock is in a
// world-writable directory) must receive no entry: the client trusts only a socket owned by root,
// its own user, `logstream`, or the uids it was told.

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
let dir: string;
let squatter: ChildProcess | undefined;
afterEach(async () => {
  squatter?.kill('SIGKILL');
  squatter = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** A socket bound by `nobody` in a sticky world-writable dir; `received()` is what reached it. */
async function squat(): Promise<{ path: string; received: () => string }> {
  dir = await mkdtemp(join(tmpdir(), 'ls-'));
  const shared = join(dir, 'tmp');
  await mkdir(shared);
  await chmod(dir, 0o755);
  await chmod(shared, 0o1777);
  const path = join(shared, 'logstream.sock');
  const script = `const s = require('node:net').createServer((c) => c.on('data', (d) => process.stdout.write(d)));
s.listen(${JSON.stringify(path)}, () => { require('node:fs').chmodSync(${JSON.stringify(path)}, 0o666); process.stderr.write('listening\\n'); });`;
  const proc = spawn('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  squatter = proc;
  let received = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (received += d));
  await new Promise<void>((resolve, reject) => {
    proc.stderr?.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`squatter exited (${code})`)));
  });
  return { path, received: () => received };
}

describe('a squatter on the socket path', () => {
  it('gets nothing from the library: connect() fails naming the untrusted owner', async () => {
    const { path, received } = await squat();
    const attempt = LogClient.withConfig({ socketPath: path, daemonName: 'victim', autoReconnect: false, warnings: false });
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e as Error & { cause?: { code?: string; message?: string } },
    );
    expect(error?.cause?.code).toBe('UNTRUSTED_SERVER');
    expect(error?.cause?.message).toMatch(/belongs to uid \d+, not to root/);
    await new Promise((r) => setTimeout(r, 200));
    expect(received()).toBe('');
  });

  it('gets nothing from the logstream command, which exits non-zero with one line', async () => {
    const { path, received } = await squat();
    const result = await promisify(execFile)(process.execPath, [CLI, '-s', path, '-t', 'victim', 'the secret']).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('refusing the LogStream server');
    expect(received()).toBe('');
  });

  it('is trusted when told to (LOGSTREAM_TRUSTED_UIDS): the check, not chance, kept the entries back', async () => {
    const { path, received } = await squat();
    const { stdout: uid } = await promisify(execFile)('id', ['-u', 'nobody']);
    process.env.LOGSTREAM_TRUSTED_UIDS = uid.trim();
    try {
      const client = LogClient.withConfig({
        socketPath: path,
        daemonName: 'trusting',
        autoReconnect: false,
        warnings: false,
        timeout: 1000,
      });
      // The squatter is no LogStream server: it never answers, so the connect times out; but it got the handshake.
      await client.then(
        (c) => c.close(),
        () => undefined,
      );
      expect(received()).toContain('trusting\n');
    } finally {
      delete process.env.LOGSTREAM_TRUSTED_UIDS;
    }
  });
});

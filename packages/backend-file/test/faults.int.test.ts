import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EntryBatch, type LogEntry } from '@logstream/protocol';
import { ArchiveNamer, type RotatorError } from '@logstream/rotator';
import { plantNobodyLink } from '@logstream/test-support';
import { FileBackend } from '../src/index';

const execFileP = promisify(execFile);
// Root-only tests (runuser -u nobody) skip elsewhere but run in CI, where a skip would hide a gap.
const isRoot = process.geteuid?.() === 0;
const VICTIM = '{"id":"a"}\nprecious, with no final newline';

let dir: string;
const backends: FileBackend[] = [];
const mounts: string[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ls-bf-'));
});
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  for (const m of mounts.splice(0)) await execFileP('umount', [m]);
  await rm(dir, { recursive: true, force: true });
});

const entry = (i: number): LogEntry => ({
  id: `id-${i}`,
  timestamp: '2024-01-15T10:30:45.123Z',
  level: 6,
  daemon: 'web-server',
  message: `m${i} ${randomBytes(40).toString('base64')}`,
  fields: {},
  pid: 1234,
  hostname: 'server01',
});

function backend(options: ConstructorParameters<typeof FileBackend>[0]): FileBackend {
  const b = new FileBackend(options);
  backends.push(b);
  return b;
}

describe('symbolic links and unsafe directories', () => {
  it('refuses to start when current.log is a symbolic link; the target (no final newline) stays byte-identical', async () => {
    const victim = join(dir, 'victim');
    await writeFile(victim, VICTIM);
    const out = join(dir, 'out');
    await mkdir(out);
    await symlink(victim, join(out, 'current.log'));
    const b = new FileBackend({ directory: out });
    await expect(b.open()).rejects.toThrow(/^open failed for .*\/out\/current\.log: it is a symbolic link; refusing to follow it/);
    await expect(b.write(EntryBatch.fromEntries([entry(1)]))).rejects.toThrow();
    await b.close();
    expect(await readFile(victim, 'utf8')).toBe(VICTIM);
    expect(await readlink(join(out, 'current.log'))).toBe(victim);
  });

  it.skipIf(!isRoot && !process.env.CI)(
    'refuses an output directory made by nobody holding a link to a root-only 0600 file; the file stays as it was',
    async () => {
      const out = join(dir, 'out');
      const secret = await plantNobodyLink(dir, out, VICTIM);
      const b = new FileBackend({ directory: out });
      await expect(b.open()).rejects.toThrow(/unsafe output directory: owned by uid 65534, neither root nor this process's uid 0/);
      await b.close();
      expect(await readFile(secret, 'utf8')).toBe(VICTIM);
      expect((await lstat(secret)).mode & 0o7777).toBe(0o600);
    },
  );
});

describe('recentIds', () => {
  it('reads ids from lines in any JSON layout, not only the canonical one', async () => {
    const lines = [
      '{"id":"canonical","message":"a"}',
      '{"id": "spaced", "message": "b"}', // Python's json.dumps
      '{ "message": "c", "id": "id-last" }',
      '{"message":"d","id":"key-order"}',
      '{"id":"esc\\"aped","message":"e"}',
      'not json',
      '{"message":"no id"}',
      '{"id": 42}',
    ];
    await writeFile(join(dir, 'current.log'), `${lines.join('\n')}\n`);
    const b = backend({ directory: dir });
    await b.open();
    expect(await b.recentIds()).toEqual(['canonical', 'spaced', 'id-last', 'key-order', 'esc"aped']);
  });
});

describe.skipIf(!isRoot && !process.env.CI)('background failures are emitted', () => {
  it.each(['gzip', 'lz4'] as const)(
    '%s: a compression into a full tmpfs emits an error naming the operation, the file and the errno',
    async (compression) => {
      const out = join(dir, 'fs');
      await mkdir(out);
      await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', out]);
      mounts.push(out);
      // A rotated file of an earlier run, incompressible, and a filler that leaves no room for
      // its archive: open() starts compressing it.
      const archive = join(out, new ArchiveNamer('current.log').format(Date.UTC(2026, 0, 1), 1));
      await writeFile(archive, Array.from({ length: 3000 }, (_, k) => `${JSON.stringify(entry(k))}\n`).join(''));
      const { size } = await lstat(archive);
      await writeFile(join(out, 'filler'), Buffer.alloc(1024 * 1024 - size - 64 * 1024));
      const b = backend({ directory: out, compression });
      const errors: RotatorError[] = [];
      b.on('error', (e) => errors.push(e as RotatorError));
      await b.open();
      const deadline = Date.now() + 20_000;
      while (!errors.some((e) => e.operation === 'compress') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const failure = errors.find((e) => e.operation === 'compress');
      expect(failure).toMatchObject({ code: 'ENOSPC' });
      expect(failure?.message).toBe(`compress failed for ${archive}: ENOSPC: no space left on device, write`);
      expect(b.stats().compression_errors).toBeGreaterThanOrEqual(1);
      await rm(join(out, 'filler'));
      const until = Date.now() + 20_000;
      while (b.stats().compressions === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(b.stats().compressions).toBe(1);
      expect((await readdir(out)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    },
  );
});

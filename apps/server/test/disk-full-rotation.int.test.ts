import { afterEach, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { appendFile, mkdir, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServer, until, useServerDir, type ServerProcess } from '@logstream/test-support';
import { countStored, spawnClients, tally, type StreamClients } from './fixtures/fault-helpers';

// The server on a real 5 MB tmpfs, with rotation and compression: the disk fills up twice after
// rotations and is freed again while clients stream. Every entry a client saw acknowledged is
// stored once, on a line that parses, with no NUL byte anywhere; a graceful stop leaves
// current.log whole. Archives are read with the real zcat and lz4.

const execFileP = promisify(execFile);
const ARCHIVE = /^current-\d{8}T\d{6}\.\d{3}Z-\d{6,}\.log(\.gz|\.lz4)?$/;
let dir: string;
let sock: string;
const children: StreamClients[] = [];
const mounts: string[] = [];
useServerDir((paths) => ({ dir, sock } = paths));
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()));
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m]);
});

/** Grows `path/filler` until the file system of `path` is full. */
async function fillUp(path: string): Promise<string> {
  const { bavail, bsize } = await statfs(path);
  const file = join(path, 'filler');
  await appendFile(file, Buffer.alloc(bavail * bsize)).catch(() => undefined);
  return file;
}

// About 3.6 MB of entries in all: they fit in the 5 MB once the filler is gone, even before
// any compression (a disk filled with logs waiting to be compressed stays full).
const CLIENTS = 4;
const ENTRIES = 3000;

describe.each([
  { compression: 'gzip' as const, maxFileSize: 64 * 1024 },
  { compression: 'lz4' as const, maxFileSize: 1024 * 1024 },
])('disk full after rotations, $compression, max_file_size $maxFileSize', ({ compression, maxFileSize }) => {
  it('every acknowledged entry is stored once, every line parses, no NUL byte; current.log whole after SIGTERM', async () => {
    const out = join(dir, 'fs');
    await mkdir(out);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=5m', 'tmpfs', out]);
    mounts.push(out);
    await writeFile(
      join(dir, 'c.toml'),
      [
        '[storage]',
        `max_file_size = ${maxFileSize}`,
        '[storage.rotation]',
        'keep_files = 100000',
        '[backends.file]',
        'compression = true',
        `compression_algorithm = "${compression}"`,
        '',
      ].join('\n'),
    );
    const server: ServerProcess = await startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out]);
    const load = spawnClients({ socketPath: sock, clients: CLIENTS, entries: ENTRIES, messageBytes: 150, bufferSize: 200 });
    children.push(load);
    const archives = async (): Promise<string[]> => (await readdir(out)).filter((n) => ARCHIVE.test(n)).sort();
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

    const enospc = (): number => (server.stderr().match(/ENOSPC/g) ?? []).length;
    for (const fraction of [0.2, 0.55]) {
      await until(() => sum(load.acked) >= fraction * CLIENTS * ENTRIES, 60_000, `${fraction * 100}% acked`);
      const before = enospc();
      // The clients (at most 200 entries unacknowledged each) wait while the disk fills, so
      // that they still have entries to send; the filler takes whatever a finished compression
      // frees until the server reports ENOSPC.
      load.proc.kill('SIGSTOP');
      let filler = await fillUp(out);
      load.proc.kill('SIGCONT');
      await until(
        async () => {
          filler = await fillUp(out);
          return enospc() > before;
        },
        30_000,
        'the server to hit ENOSPC',
      );
      await rm(filler);
    }
    const stats = await load.done.catch(async (error: unknown) => {
      // What the disk held when the clients gave up, to tell a full disk from a stuck server.
      const df = execFileSync('df', ['-k', out], { encoding: 'utf8' });
      const ls = execFileSync('ls', ['-la', out], { encoding: 'utf8' });
      throw new Error(`${String(error)}\n${df}${ls}${server.stderr().split('\n').slice(-8).join('\n')}`);
    });
    expect(stats.every((s) => s.acked === ENTRIES && s.droppedFull === 0)).toBe(true);
    expect((await server.stop('SIGTERM')).code).toBe(0);

    // current.log as the stop left it: whole lines only.
    const current = await readFile(join(out, 'current.log'));
    expect(current.length === 0 || current.at(-1) === 0x0a).toBe(true);
    // Everything, decompressed with the real tools, into plain files next to the tmpfs.
    const plain = join(dir, 'plain');
    await mkdir(plain);
    const names = await archives();
    expect(names.length).toBeGreaterThan(2);
    for (const name of names) {
      const path = join(out, name);
      const text = name.endsWith('.gz')
        ? (await execFileP('zcat', [path], { maxBuffer: 1 << 28, encoding: 'buffer' })).stdout
        : name.endsWith('.lz4')
          ? (await execFileP('lz4', ['-dc', path], { maxBuffer: 1 << 28, encoding: 'buffer' })).stdout
          : await readFile(path);
      await writeFile(join(plain, `${name.replace(/\.(gz|lz4)$/, '')}`), text);
    }
    await writeFile(join(plain, 'current.log'), current);
    for (const name of await readdir(plain)) {
      const bytes = await readFile(join(plain, name));
      expect({ name, nul: bytes.indexOf(0) }).toEqual({ name, nul: -1 });
      const lines = bytes.toString('utf8').split('\n');
      expect(lines.pop()).toBe('');
      for (const line of lines) JSON.parse(line);
    }
    const stored = await countStored(plain, CLIENTS, ENTRIES);
    expect(stored.counts.map((row, c) => ({ client: c, ...tally(row) }))).toEqual(
      stored.counts.map((_, c) => ({ client: c, missing: 0, duplicated: 0, firstBad: -1 })),
    );
    expect(stored.other).toBe(0);
  }, 180_000);
});

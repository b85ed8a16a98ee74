import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach } from 'vitest';
import { tempDir } from '@logstream/test-support';
import { RotatingFileWriter, type RotatingFileWriterOptions } from '../src/index';

export const execFileP = promisify(execFile);

/**
 * Per test: a fresh directory (handed to `use` before the test) and a function that opens
 * writers in it; after the test every writer it opened is closed and the directory removed.
 */
export function useWriterDir(use: (dir: string) => void): (options?: Partial<RotatingFileWriterOptions>) => Promise<RotatingFileWriter> {
  let dir = '';
  let cleanup: (() => Promise<void>) | undefined;
  const writers: RotatingFileWriter[] = [];
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('ls-rot-'));
    use(dir);
  });
  afterEach(async () => {
    await Promise.all(writers.splice(0).map((w) => w.close()));
    await cleanup?.();
  });
  return async (options = {}) => {
    const writer = new RotatingFileWriter({ directory: dir, ...options });
    writers.push(writer);
    await writer.open();
    return writer;
  };
}

/** `count` consecutive numbers from `from`. */
export const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

const HEX = Buffer.from('0123456789abcdef');

/**
 * `count` JSON lines numbered from `first`, each exactly `lineBytes` long (newline included),
 * with 24 pseudo-random hex digits each so that they compress about as well as real logs.
 */
export function makeLines(first: number, count: number, lineBytes = 100): Buffer {
  const out = Buffer.alloc(count * lineBytes, 0x78);
  let seed = (first * 2654435761) >>> 0;
  for (let i = 0; i < count; i++) {
    const at = i * lineBytes;
    const head = `{"id":"${String(first + i).padStart(9, '0')}","m":"`;
    out.write(head, at, 'latin1');
    for (let k = 0; k < 24 && head.length + k < lineBytes - 3; k++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      out[at + head.length + k] = HEX[seed >>> 28] as number;
    }
    out.write('"}\n', at + lineBytes - 3, 'latin1');
  }
  return out;
}

/** Ids of the lines of `text`, in order. */
export function idsOf(text: string): number[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => Number(/"id":"(\d+)"/.exec(l)?.[1] ?? Number.NaN));
}

/** Reads a file as text, decompressing `.gz` with `zcat` and `.lz4` with `lz4 -dc` (the real tools). */
export async function readArchive(path: string): Promise<string> {
  if (path.endsWith('.gz')) return (await execFileP('zcat', [path], { maxBuffer: 1 << 30 })).stdout;
  if (path.endsWith('.lz4')) return (await execFileP('lz4', ['-dc', path], { maxBuffer: 1 << 30 })).stdout;
  return readFile(path, 'utf8');
}

/** Rotated files of `current.log` in `dir`, sorted by name. */
export async function archives(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /^current-\d{8}T\d{6}\.\d{3}Z-\d{6,}\.log/.test(n)).sort();
}

/** Everything in `dir` (archives in name order, then current.log) as text. */
export async function readAllLogs(dir: string): Promise<string> {
  let text = '';
  for (const name of await archives(dir)) text += await readArchive(join(dir, name));
  text += await readFile(join(dir, 'current.log'), 'utf8').catch(() => '');
  return text;
}

/** sha256 of a command's stdout, streamed (for files too large to buffer). */
export async function sha256OfCommand(cmd: string, args: string[]): Promise<string> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const hash = createHash('sha256');
  child.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}`);
  return hash.digest('hex');
}

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN). */
export async function canMountTmpfs(): Promise<boolean> {
  const { dir, cleanup } = await tempDir('ls-rot-');
  try {
    await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    await execFileP('umount', [dir]);
    return true;
  } catch (error) {
    // In CI a real-resource suite that skips would hide a gap: a green run must mean it ran.
    if (process.env.CI) throw new Error(`CI: cannot mount a tmpfs for the ENOSPC suite: ${(error as Error).message}`);
    return false;
  } finally {
    await cleanup();
  }
}

/** Mounts a tmpfs with `options` (e.g. `size=1m,nr_inodes=8`) on a fresh directory. */
export async function tmpfs(options: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir('ls-rot-');
  await execFileP('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  return {
    dir,
    cleanup: async () => {
      await execFileP('umount', [dir]);
      await cleanup();
    },
  };
}

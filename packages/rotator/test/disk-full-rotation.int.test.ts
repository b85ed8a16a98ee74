import { randomBytes } from 'node:crypto';
import { appendFile, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RotatingFileWriter, RotatorError } from '../src/index';
import { archives, canMountTmpfs, readArchive, tmpfs } from './helpers';

// Disk full after a rotation, on a real 5 MB tmpfs: a write that fails part-way is cut back, and
// every acknowledged (resolved) write stays in the file, once, whole. The cut-back used to leave
// the file offset of a rotated-in live file past the cut (it was opened without O_APPEND), so the
// next write left a hole of NUL bytes and a later cut fell inside acknowledged lines.
const mountable = await canMountTmpfs();
if (!mountable && process.env.CI) throw new Error('these tests need to mount a tmpfs (root with CAP_SYS_ADMIN)');

const cleanups: (() => Promise<void>)[] = [];
const writers: RotatingFileWriter[] = [];
afterEach(async () => {
  await Promise.all(writers.splice(0).map((w) => w.close()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `count` JSON lines with ids from `first`, of uneven lengths, half-compressible. */
function batch(first: number, count: number): Buffer {
  let text = '';
  for (let i = 0; i < count; i++) {
    const id = first + i;
    text += `${JSON.stringify({ id: `e${id}`, message: randomBytes(10 + ((id * 37) % 90)).toString('hex') })}\n`;
  }
  return Buffer.from(text);
}

/** Fills the file system of `dir` to the last byte with `dir/filler`. */
async function fillUp(dir: string): Promise<string> {
  const file = join(dir, 'filler');
  const { bavail, bsize } = await statfs(dir);
  await writeFile(file, Buffer.alloc(bavail * bsize));
  // tmpfs may account a page or two differently: go on until it says no.
  for (;;) {
    try {
      await appendFile(file, Buffer.alloc(4096));
    } catch (error) {
      expect(error).toMatchObject({ code: 'ENOSPC' });
      return file;
    }
  }
}

/** The ids of a text of JSON lines; throws on a line that does not parse. */
function idsOf(text: string): string[] {
  const lines = text.split('\n');
  expect(lines.pop()).toBe('');
  return lines.map((line) => (JSON.parse(line) as { id: string }).id);
}

describe.skipIf(!mountable)('disk full after a rotation (5 MB tmpfs)', () => {
  it.each([
    { compression: 'gzip' as const, maxFileBytes: 64 * 1024 },
    { compression: 'lz4' as const, maxFileBytes: 64 * 1024 },
    { compression: 'gzip' as const, maxFileBytes: 1024 * 1024 },
    { compression: 'lz4' as const, maxFileBytes: 1024 * 1024 },
  ])(
    '$compression, max $maxFileBytes bytes: after every failed write the live file holds exactly the acknowledged lines; all of them are stored once',
    async ({ compression, maxFileBytes }) => {
      const { dir, cleanup } = await tmpfs('size=5m');
      cleanups.push(cleanup);
      const writer = new RotatingFileWriter({ directory: dir, maxFileBytes, compression, rotation: { keepFiles: 100_000 } });
      writers.push(writer);
      const errors: RotatorError[] = [];
      writer.on('error', (e) => errors.push(e));
      // What the live file must hold: the acknowledged writes since it became the live file.
      let live: Buffer[] = [];
      writer.on('rotate', () => (live = []));
      await writer.open();

      const acked: string[] = [];
      let nextId = 0;
      const write = async (data: Buffer, count: number): Promise<void> => {
        await writer.write(data);
        live.push(data);
        for (let i = 0; i < count; i++) acked.push(`e${nextId - count + i}`);
      };
      const expectLiveFileExact = async (): Promise<void> => {
        const bytes = await readFile(writer.path);
        expect(bytes.includes(0)).toBe(false);
        expect(bytes.equals(Buffer.concat(live))).toBe(true);
        expect(writer.size).toBe(bytes.length);
      };

      let failures = 0;
      for (let cycle = 0; cycle < 4; cycle++) {
        // Into a live file made by a rotation, with room for the next write before the limit,
        // its size not on a page boundary: the failing write then fills the last page (a
        // partial write) before ENOSPC.
        const rotationsBefore = writer.stats().rotations;
        let next = batch(nextId, 40);
        while (
          writer.stats().rotations === rotationsBefore ||
          writer.size < 8192 ||
          writer.size + next.length > maxFileBytes ||
          writer.size % 4096 === 0
        ) {
          nextId += 40;
          await write(next, 40);
          next = batch(nextId, 40);
        }
        nextId += 40;
        await writer.whenIdle();
        const filler = await fillUp(dir);
        for (let attempt = 0; attempt < 3; attempt++) {
          await expect(writer.write(next)).rejects.toMatchObject({ code: 'ENOSPC' });
          failures += 1;
          await expectLiveFileExact();
        }
        await rm(filler);
        // The failed write again (as the server retries it), then more into the same file.
        await write(next, 40);
        for (let k = 0; k < 3; k++) {
          const more = batch(nextId, 7);
          nextId += 7;
          if (writer.size + more.length > maxFileBytes) break;
          await write(more, 7);
        }
        await expectLiveFileExact();
      }
      expect(failures).toBe(12);

      await writer.whenIdle();
      await writer.close();
      // A graceful close leaves current.log whole: exactly the acknowledged lines since the
      // last rotation.
      const current = await readFile(writer.path);
      expect(current.equals(Buffer.concat(live))).toBe(true);
      expect(current.length === 0 || current.at(-1) === 0x0a).toBe(true);

      // Every acknowledged id once, in order, on lines that parse, with no NUL byte anywhere;
      // archives read with the real gzip and lz4 tools.
      const names = await archives(dir);
      expect(names.length).toBeGreaterThanOrEqual(4);
      let text = '';
      for (const name of names) {
        expect(name.endsWith(compression === 'gzip' ? '.gz' : '.lz4')).toBe(true);
        text += await readArchive(join(dir, name));
      }
      text += current.toString('utf8');
      expect(text.includes('\0')).toBe(false);
      expect(idsOf(text)).toEqual(acked);
      expect((await readdir(dir)).filter((n) => n.endsWith('.tmp') || n.startsWith('.'))).toEqual([]);
      for (const e of errors) expect(e).toBeInstanceOf(RotatorError);
    },
    180_000,
  );
});

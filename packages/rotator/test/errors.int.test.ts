import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveNamer, RotatingFileWriter, RotatorError, type RotatingFileWriterOptions } from '../src/index';
import { tempDir, until } from '@logstream/test-support';
import { archives, canMountTmpfs, idsOf, makeLines, range, readAllLogs, readArchive, tmpfs } from './helpers';

// Real failures only: a tiny tmpfs for ENOSPC (bytes and inodes), a directory where a file
// should be for EISDIR. Mounting needs root (CAP_SYS_ADMIN); without it those tests are
// reported as skipped.
const mountable = await canMountTmpfs();
const namer = new ArchiveNamer('current.log');
const cleanups: (() => Promise<void>)[] = [];
const writers: RotatingFileWriter[] = [];

afterEach(async () => {
  await Promise.all(writers.splice(0).map((w) => w.close()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function mountTmpfs(options: string): Promise<string> {
  const { dir, cleanup } = await tmpfs(options);
  cleanups.push(cleanup);
  return dir;
}

async function openWriter(options: RotatingFileWriterOptions, errors?: RotatorError[]): Promise<RotatingFileWriter> {
  const writer = new RotatingFileWriter(options);
  writers.push(writer);
  if (errors !== undefined) writer.on('error', (e) => errors.push(e));
  await writer.open();
  return writer;
}

describe.skipIf(!mountable)('ENOSPC (tmpfs)', () => {
  it('rejects a write with ENOSPC, leaves no partial line, and resumes when space returns', async () => {
    const dir = await mountTmpfs('size=256k');
    await writeFile(join(dir, 'filler'), Buffer.alloc(128 * 1024));
    const writer = await openWriter({ directory: dir, maxFileBytes: 1 << 30 });
    let id = 0;
    let failure: unknown;
    for (;;) {
      try {
        await writer.write(makeLines(id, 7)); // 700 bytes: page boundaries fall inside writes
        id += 7;
      } catch (error) {
        failure = error;
        break;
      }
    }
    expect(failure).toMatchObject({ code: 'ENOSPC' });
    expect((await stat(writer.path)).size).toBe(id * 100);
    expect(idsOf(await readFile(writer.path, 'utf8'))).toEqual(range(0, id));
    expect(writer.stats()).toMatchObject({ write_errors: 1, bytes_written: id * 100 });

    await rm(join(dir, 'filler'));
    await writer.write(makeLines(id, 7));
    expect(idsOf(await readFile(writer.path, 'utf8'))).toEqual(range(0, id + 7));
  });

  it('keeps writing to the live file when rotation cannot create a file, and rotates later', async () => {
    // nr_inodes=4: the root, current.log and two fillers; the new live file finds no inode.
    const dir = await mountTmpfs('size=1m,nr_inodes=4');
    const errors: RotatorError[] = [];
    const writer = await openWriter({ directory: dir, maxFileBytes: 300 }, errors);
    await writeFile(join(dir, 'filler1'), '');
    await writeFile(join(dir, 'filler2'), '');
    await writer.write(makeLines(0, 3));
    await writer.write(makeLines(3, 3)); // would pass 300: rotation fails, the write does not
    expect(errors[0]).toBeInstanceOf(RotatorError);
    expect(errors[0]).toMatchObject({ operation: 'rotate', code: 'ENOSPC' });
    expect(errors[0]?.message).toMatch(/rotate failed for .*current\.log: ENOSPC/);
    expect(writer.stats()).toMatchObject({ rotations: 0, writes: 2 });
    expect(writer.stats().rotation_errors).toBeGreaterThanOrEqual(1);
    expect((await readdir(dir)).sort()).toEqual(['current.log', 'filler1', 'filler2']);

    await rm(join(dir, 'filler1'));
    let id = 6;
    await until(async () => {
      await writer.write(makeLines(id, 1));
      id += 1;
      return writer.stats().rotations === 1;
    });
    expect(idsOf(await readAllLogs(dir))).toEqual(range(0, id));
    expect(await archives(dir)).toHaveLength(1);
  });

  it.each(['gzip', 'lz4'] as const)('%s: a compression that hits ENOSPC leaves no temporary and is retried', async (compression) => {
    const dir = await mountTmpfs('size=1m');
    // Incompressible content: the archive needs as much room as the file.
    const content = Buffer.from(
      Array.from({ length: 3000 }, (_, i) => `{"id":"${String(i).padStart(9, '0')}","r":"${randomBytes(33).toString('base64')}"}\n`).join(
        '',
      ),
    );
    const archive = join(dir, namer.format(Date.UTC(2026, 0, 1), 1));
    await writeFile(archive, content);
    await writeFile(join(dir, 'filler'), Buffer.alloc(1024 * 1024 - content.length - 96 * 1024));
    const errors: RotatorError[] = [];
    const writer = await openWriter({ directory: dir, compression }, errors);
    await until(() => errors.length > 0);
    expect(errors[0]).toMatchObject({ operation: 'compress', code: 'ENOSPC', path: archive });
    await writer.whenIdle();
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(await readFile(archive)).toEqual(content);
    expect(writer.stats().compression_errors).toBeGreaterThanOrEqual(1);

    await rm(join(dir, 'filler'));
    await until(() => writer.stats().compressions === 1);
    const [name] = await archives(dir);
    expect(name).toBe(`${namer.format(Date.UTC(2026, 0, 1), 1)}${compression === 'gzip' ? '.gz' : '.lz4'}`);
    expect(await readArchive(join(dir, name as string))).toBe(content.toString());
  });
});

describe('failing deletes (EISDIR)', () => {
  async function setUp(): Promise<{ dir: string; stuck: string }> {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    // An entry with an archive's name that unlink() cannot remove.
    const stuck = namer.format(Date.UTC(2000, 0, 1), 1, 'gzip');
    await mkdir(join(dir, stuck));
    return { dir, stuck };
  }

  it('reports and counts a delete that fails, deletes the rest, and retries', async () => {
    const { dir, stuck } = await setUp();
    const errors: RotatorError[] = [];
    const writer = await openWriter({ directory: dir, maxFileBytes: 100, rotation: { keepFiles: 1 } }, errors);
    for (let i = 0; i < 4; i++) await writer.write(makeLines(i, 1)); // rotations make seq 2, 3, 4
    await writer.whenIdle();
    expect(errors.length).toBeGreaterThanOrEqual(1);
    for (const e of errors) expect(e).toMatchObject({ operation: 'delete', code: 'EISDIR', path: join(dir, stuck) });
    expect(writer.stats().delete_errors).toBe(errors.length);
    const names = await archives(dir);
    expect(names).toEqual([stuck, names[1]]);
    expect(namer.parse(names[1] as string)?.seq).toBe(4);
    expect(idsOf(await readArchive(join(dir, names[1] as string)))).toEqual([2]);

    await rmdir(join(dir, stuck));
    const before = errors.length;
    await writer.write(makeLines(4, 1));
    await writer.whenIdle();
    expect(errors.length).toBe(before);
    expect((await archives(dir)).map((n) => namer.parse(n)?.seq)).toEqual([5]);
    expect(idsOf(await readAllLogs(dir))).toEqual([3, 4]);
  });

  it('without an error listener, counts the failure and goes on', async () => {
    const { dir } = await setUp();
    const writer = await openWriter({ directory: dir, maxFileBytes: 100, rotation: { keepFiles: 0 } });
    for (let i = 0; i < 3; i++) await writer.write(makeLines(i, 1));
    await writer.whenIdle();
    expect(writer.stats().delete_errors).toBeGreaterThanOrEqual(1);
    expect(writer.stats()).toMatchObject({ writes: 3, rotations: 2 });
  });
});

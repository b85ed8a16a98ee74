import { chmod, chown, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArchiveNamer, RotatingFileWriter, RotatorError, compressFile, cutTornLine, readArchiveTail, secureDirectory } from '../src/index';
import { plantNobodyLink, tempDir, until } from '@logstream/test-support';
import { archives, idsOf, makeLines, range, readAllLogs, useWriterDir } from './helpers';

// A symbolic link planted under a name the writer uses is never followed: not to open, write,
// cut, read, compress or delete. The victim is a file outside the directory; it must stay byte
// for byte as it was.
const namer = new ArchiveNamer('current.log');
const VICTIM = 'precious data\nno final newline';
// Root-only tests (runuser -u nobody) skip elsewhere but run in CI, where a skip would hide a gap.
const isRoot = process.geteuid?.() === 0;

let dir: string;
const openWriter = useWriterDir((d) => (dir = d));

/** A victim file, in a subdirectory of `dir` (which the writer never looks into), and its path. */
async function plantVictim(): Promise<string> {
  const victimDir = join(dir, 'elsewhere');
  await mkdir(victimDir, { recursive: true });
  const victim = join(victimDir, 'victim');
  await writeFile(victim, VICTIM, { mode: 0o600 });
  return victim;
}

describe('symbolic links in the directory', () => {
  it('refuses a live file that is a symbolic link, at open, leaving its target untouched', async () => {
    const victim = await plantVictim();
    await symlink(victim, join(dir, 'current.log'));
    const writer = new RotatingFileWriter({ directory: dir });
    const error = await writer.open().catch((e: unknown) => e);
    expect(RotatorError.is(error)).toBe(true);
    expect(error).toMatchObject({ operation: 'open', code: 'ELOOP', path: join(dir, 'current.log') });
    expect((error as Error).message).toMatch(/current\.log: it is a symbolic link; refusing to follow it/);
    await expect(cutTornLine(join(dir, 'current.log'))).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(readArchiveTail(join(dir, 'current.log'), 'none', 1024)).rejects.toMatchObject({ code: 'ELOOP' });
    expect(await readFile(victim, 'utf8')).toBe(VICTIM);
    expect(await readlink(join(dir, 'current.log'))).toBe(victim);
  });

  it('a .current.log.next planted during a run: the rotation replaces the link, its target stays as it was', async () => {
    const victim = await plantVictim();
    const writer = await openWriter({ maxFileBytes: 250 });
    await writer.write(makeLines(0, 2));
    await symlink(victim, join(dir, '.current.log.next'));
    await writer.write(makeLines(2, 2)); // rotates
    await writer.write(makeLines(4, 2)); // rotates
    expect(writer.stats().rotations).toBe(2);
    expect(await readFile(victim, 'utf8')).toBe(VICTIM);
    expect((await lstat(writer.path)).isFile()).toBe(true);
    expect(idsOf(await readAllLogs(dir))).toEqual(range(0, 6));
    expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it.each(['gzip', 'lz4'] as const)(
    '%s: a symbolic link under an archive name is neither read, compressed nor deleted, and is reported once',
    async (compression) => {
      const victim = await plantVictim();
      // Older than anything the writer makes, so retention (keepFiles 1) would delete it first.
      const linkName = namer.format(Date.UTC(2000, 0, 1), 1);
      await symlink(victim, join(dir, linkName));
      const gzLinkName = namer.format(Date.UTC(2000, 0, 1), 2, 'gzip');
      await symlink(victim, join(dir, gzLinkName));
      const errors: RotatorError[] = [];
      const writer = await openWriter({ maxFileBytes: 250, compression, rotation: { keepFiles: 1 } });
      writer.on('error', (e) => errors.push(e));
      for (let i = 0; i < 5; i++) await writer.write(makeLines(i * 2, 2));
      await writer.whenIdle();
      expect(writer.stats().compressions).toBeGreaterThanOrEqual(1);
      expect(await readFile(victim, 'utf8')).toBe(VICTIM);
      expect(await readlink(join(dir, linkName))).toBe(victim);
      expect(await readlink(join(dir, gzLinkName))).toBe(victim);
      const names = await readdir(dir);
      expect(names.filter((n) => n.startsWith(linkName) && n !== linkName)).toEqual([]);
      // The newest archive is the writer's own, never a link.
      const newest = await writer.newestArchive();
      expect(newest?.seq).toBeGreaterThan(2);
      await until(() => errors.length >= 2);
      const reported = errors.filter((e) => e.operation === 'scan').map((e) => e.path);
      expect(reported.sort()).toEqual([join(dir, gzLinkName), join(dir, linkName)].sort());
      for (const e of errors) expect(e.message).toMatch(/scan failed for .*: a symbolic link under an archive name; left alone/);
      // The archives of this run hold its own lines only.
      const own = (await archives(dir)).filter((n) => n !== linkName && n !== gzLinkName);
      expect(own).toHaveLength(1);
      await expect(compressFile(join(dir, linkName), join(dir, 'x.gz'), 'gzip')).rejects.toMatchObject({ code: 'ELOOP' });
      await expect(readArchiveTail(join(dir, gzLinkName), 'gzip', 1024)).rejects.toMatchObject({ code: 'ELOOP' });
    },
  );
});

/** Opens (then closes) a writer in `directory`; rejects as its open() does. */
async function openIn(directory: string): Promise<void> {
  const writer = new RotatingFileWriter({ directory });
  await writer.open();
  await writer.close();
}

describe('the output directory', () => {
  it('refuses a directory that is a symbolic link', async () => {
    const real = join(dir, 'real');
    await mkdir(real);
    await symlink(real, join(dir, 'link'));
    await expect(openIn(join(dir, 'link'))).rejects.toMatchObject({ operation: 'open', code: 'ELOOP' });
    await expect(openIn(`${join(dir, 'link')}/`)).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(secureDirectory(join(dir, 'link'))).rejects.toThrow(/unsafe output directory: it is a symbolic link/);
    expect(await readdir(real)).toEqual([]);
    await openIn(real);
  });

  it('refuses a group-writable directory unless root owns the group, and a world-writable one unless sticky', async () => {
    const d = join(dir, 'd');
    await mkdir(d);
    await chmod(d, 0o775);
    if (isRoot) {
      await secureDirectory(d); // group root
      await chown(d, 0, 65534);
      await expect(openIn(d)).rejects.toThrow(/unsafe output directory: writable by group 65534 \(mode 0775/);
      await chown(d, 0, 0);
    }
    await chmod(d, 0o777);
    await expect(openIn(d)).rejects.toThrow(/writable by every user and not sticky \(mode 0777/);
    expect(await readdir(d)).toEqual([]);
    await chmod(d, 0o1777);
    await openIn(d);
  });

  it.skipIf(!isRoot && !process.env.CI)(
    'a directory made by nobody holding a link to a root-only file: open() refuses before anything is opened; the file stays as it was',
    async () => {
      const { dir: parent, cleanup } = await tempDir();
      try {
        const out = join(parent, 'out');
        const secret = await plantNobodyLink(parent, out, VICTIM);
        const writer = new RotatingFileWriter({ directory: out });
        const error = await writer.open().catch((e: unknown) => e);
        expect(error).toMatchObject({ operation: 'open', code: 'EPERM', path: out });
        expect((error as Error).message).toMatch(
          /^open failed for .*\/out: unsafe output directory: owned by uid 65534, neither root nor this process's uid 0/,
        );
        expect(await readFile(secret, 'utf8')).toBe(VICTIM);
        expect((await lstat(secret)).mode & 0o777).toBe(0o600);
      } finally {
        await cleanup();
      }
    },
  );
});

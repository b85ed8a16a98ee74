import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArchiveNamer, type ArchiveName } from '../src/index';
import { archives, makeLines, useWriterDir } from './helpers';

let dir: string;
const openWriter = useWriterDir((d) => (dir = d));
const namer = new ArchiveNamer('current.log');

describe('newestArchive', () => {
  it('gives undefined before the first rotation, then the rotated file with the highest sequence', async () => {
    const writer = await openWriter({ maxFileBytes: 300, rotation: { keepFiles: 100 } });
    expect(await writer.newestArchive()).toBeUndefined();
    for (let i = 0; i < 4; i++) await writer.write(makeLines(i * 3, 3)); // 300 bytes: a rotation each time after the first
    const names = await archives(dir);
    expect(names).toHaveLength(3);
    const newest = names.at(-1) as string;
    expect(await writer.newestArchive()).toEqual({ ...namer.parse(newest), path: join(dir, newest) });
  });

  it('prefers the complete compressed form and skips groups of temporaries only', async () => {
    const writer = await openWriter({ maxFileBytes: 300 });
    for (let i = 0; i < 2; i++) await writer.write(makeLines(i * 3, 3));
    await writer.whenIdle();
    const plain = namer.parse((await archives(dir)).at(-1) as string) as ArchiveName;
    expect(plain.compression).toBe('none');
    // As a compression leaves them just after its rename, before the uncompressed file is deleted.
    const compressed = namer.compressedName(plain.name, 'gzip');
    await writeFile(join(dir, compressed), '');
    // A newer sequence with nothing but an unfinished compression output.
    await writeFile(join(dir, namer.temporaryName(namer.format(plain.timeMs, plain.seq + 1, 'lz4'))), '');
    expect(await writer.newestArchive()).toMatchObject({
      name: compressed,
      path: join(dir, compressed),
      compression: 'gzip',
      seq: plain.seq,
    });
  });

  it('gives the compressed archive once a background compression is done', async () => {
    for (const compression of ['gzip', 'lz4'] as const) {
      const writer = await openWriter({ fileName: `${compression}.log`, maxFileBytes: 300, compression });
      for (let i = 0; i < 2; i++) await writer.write(makeLines(i * 3, 3));
      await writer.whenIdle();
      const newest = await writer.newestArchive();
      expect(newest).toMatchObject({ compression, temporary: false });
      expect(newest?.path.endsWith(compression === 'gzip' ? '.log.gz' : '.log.lz4')).toBe(true);
    }
  });
});

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ArchiveNamer, type CompressedEvent } from '../src/index';
import { until } from '@logstream/test-support';
import { archives, execFileP, idsOf, makeLines, range, readAllLogs, readArchive, useWriterDir } from './helpers';

let dir: string;
const namer = new ArchiveNamer('current.log');
const openWriter = useWriterDir((d) => (dir = d));

describe.each([
  { compression: 'gzip' as const, ext: '.gz', test: ['gzip', '-t'] },
  { compression: 'lz4' as const, ext: '.lz4', test: ['lz4', '-t'] },
])('$compression', ({ compression, ext, test }) => {
  it('compresses every rotated file into an archive the real tool opens, content intact', async () => {
    // Small chunks: each archive holds several gzip blocks / lz4 frames.
    const writer = await openWriter({ maxFileBytes: 20_000, compression, compressionChunkBytes: 4096, rotation: { keepFiles: 100 } });
    const compressed: CompressedEvent[] = [];
    writer.on('compressed', (e) => compressed.push(e));
    for (let i = 0; i < 100; i++) await writer.write(makeLines(i * 10, 10));
    await writer.whenIdle();

    const names = await archives(dir);
    expect(names).toHaveLength(4);
    expect(names.every((n) => n.endsWith(`.log${ext}`))).toBe(true);
    for (const name of names) await execFileP(test[0] as string, [test[1] as string, join(dir, name)]);
    expect(idsOf(await readAllLogs(dir))).toEqual(range(0, 1000));

    expect(compressed.map((e) => e.path).sort()).toEqual(names.map((n) => join(dir, n)));
    for (const e of compressed) {
      expect(e.bytesIn).toBe(20_000);
      expect(e.bytesOut).toBeLessThan(e.bytesIn);
      expect(e.source).toBe(e.path.slice(0, -ext.length));
    }
    const stats = writer.stats();
    expect(stats).toMatchObject({ compressions: 4, compressed_bytes_in: 80_000, compression_errors: 0 });
    expect(stats.compressed_bytes_out).toBe(compressed.reduce((s, e) => s + e.bytesOut, 0));
    expect(stats.compression_ms_total).toBeGreaterThan(0);
  });

  it('applies retention to archives and never compresses a file it is about to delete', async () => {
    const writer = await openWriter({ maxFileBytes: 500, compression, rotation: { keepFiles: 2 } });
    for (let i = 0; i < 30; i++) await writer.write(makeLines(i * 5, 5));
    await writer.whenIdle();
    const names = await archives(dir);
    expect(names).toHaveLength(2);
    expect(names.every((n) => n.endsWith(ext))).toBe(true);
    expect(idsOf(await readAllLogs(dir))).toEqual(range(135, 15));
  });

  it('finishes the work a crashed run left: stale temporaries, uncompressed and half-done files', async () => {
    const t = Date.UTC(2026, 0, 1);
    // 1: rotated, never compressed. 2: compression cut short (half archive under the temporary
    // name). 3: compressed and renamed, source not yet removed. Plus a new live file that never
    // took the live name.
    await writeFile(join(dir, namer.format(t, 1)), makeLines(0, 50));
    await writeFile(join(dir, namer.format(t, 2)), makeLines(50, 50));
    await writeFile(join(dir, namer.temporaryName(namer.format(t, 2, compression))), 'half an archive');
    await writeFile(join(dir, namer.format(t, 3)), makeLines(100, 50));
    await execFileP('sh', ['-c', `${compression} -c ${join(dir, namer.format(t, 3))} > ${join(dir, namer.format(t, 3, compression))}`]);
    await writeFile(join(dir, '.current.log.next'), '');
    await writeFile(join(dir, 'current.log'), makeLines(150, 10));

    const writer = await openWriter({ compression });
    await writer.whenIdle();
    expect((await readdir(dir)).sort()).toEqual([
      namer.format(t, 1, compression),
      namer.format(t, 2, compression),
      namer.format(t, 3, compression),
      'current.log',
    ]);
    for (const name of await archives(dir)) await execFileP(test[0] as string, [test[1] as string, join(dir, name)]);
    expect(idsOf(await readAllLogs(dir))).toEqual(range(0, 160));
    // The sequence goes on after what was found.
    await writer.write(makeLines(160, 1));
    expect(writer.stats().compressions).toBe(2);
  });

  it('abandons a compression on close and finishes it at the next open', async () => {
    const writer = await openWriter({ maxFileBytes: 40_000_000, compression, compressionChunkBytes: 16 * 1024 });
    const perBatch = 10_000; // 1 MB
    for (let i = 0; i < 40; i++) await writer.write(makeLines(i * perBatch, perBatch));
    await writer.write(makeLines(40 * perBatch, 1)); // rotates; compression starts
    await until(async () => (await readdir(dir)).some((n) => n.endsWith('.tmp')));
    await writer.close();
    const left = (await readdir(dir)).sort();
    expect(left).toHaveLength(2);
    expect(left[0]).toMatch(/^current-.*-000001\.log$/);
    expect(left[1]).toBe('current.log');

    const next = await openWriter({ compression });
    await next.whenIdle();
    const [archive] = await archives(dir);
    expect(archive).toMatch(new RegExp(`\\.log\\${ext}$`));
    expect(idsOf(await readArchive(join(dir, archive as string)))).toEqual(range(0, 40 * perBatch));
  });

  it('survives SIGKILL mid-compression: no half archive is taken for whole', async () => {
    const script = fileURLToPath(new URL('./fixtures/write-and-rotate.mjs', import.meta.url));
    const child = spawn(process.execPath, [script, dir, compression], { stdio: ['ignore', 'inherit', 'inherit'] });
    try {
      await until(async () => (await readdir(dir)).some((n) => n.endsWith(`${ext}.tmp`)), 30_000);
      child.kill('SIGKILL');
      await once(child, 'exit');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const before = await readdir(dir);
    expect(before.some((n) => n.endsWith('.tmp'))).toBe(true);
    expect(before.some((n) => n.endsWith(ext))).toBe(false);

    const writer = await openWriter({ compression });
    await writer.whenIdle();
    const after = await readdir(dir);
    expect(after.some((n) => n.endsWith('.tmp'))).toBe(false);
    const names = await archives(dir);
    expect(names).toHaveLength(1);
    await execFileP(test[0] as string, [test[1] as string, join(dir, names[0] as string)]);
    const text = await readAllLogs(dir);
    expect(idsOf(text)).toEqual(range(0, idsOf(text).length));
    expect(idsOf(text).length).toBeGreaterThan(300_000);
  });
});

it('leaves rotated files uncompressed with compression none', async () => {
  const writer = await openWriter({ maxFileBytes: 200 });
  for (let i = 0; i < 5; i++) await writer.write(makeLines(i, 1));
  await writer.whenIdle();
  const names = await archives(dir);
  expect(names.every((n) => n.endsWith('.log'))).toBe(true);
  expect((await readFile(join(dir, names[0] as string), 'utf8')).length).toBe(200);
});

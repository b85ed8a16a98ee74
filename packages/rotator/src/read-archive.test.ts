import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressFile } from './compress-file';
import { readArchiveTail } from './read-archive';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ls-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readArchiveTail', () => {
  const lines = Array.from({ length: 50_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}\n`).join('');

  it('gives the same tail for a plain file, a gzip archive and a multi-frame lz4 archive', async () => {
    const plain = join(dir, 'a.log');
    await writeFile(plain, lines);
    const want = Buffer.from(lines).subarray(-100_000);
    expect(await readArchiveTail(plain, 'none', 100_000)).toEqual(want);
    for (const algorithm of ['gzip', 'lz4'] as const) {
      const out = join(dir, `a.log.${algorithm === 'gzip' ? 'gz' : 'lz4'}`);
      await compressFile(plain, out, algorithm);
      expect(await readArchiveTail(out, algorithm, 100_000)).toEqual(want);
    }
  });

  it('reads an archive made by the lz4 tool', async () => {
    const plain = join(dir, 'b.log');
    await writeFile(plain, lines);
    execFileSync('lz4', ['-q', '-f', plain, `${plain}.lz4`]);
    expect((await readArchiveTail(`${plain}.lz4`, 'lz4', 1000)).toString()).toBe(lines.slice(-1000));
  });
});

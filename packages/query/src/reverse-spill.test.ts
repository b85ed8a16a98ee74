import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReverseSpill } from './reverse-spill';
import { StoredEntry } from './stored-entry';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsq-spill-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(spill: ReverseSpill): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of spill.newestFirst()) for (const e of batch) out.push(e.line.toString());
  return out;
}

describe('ReverseSpill', () => {
  it('gives back what it was given, newest first, from memory', async () => {
    const spill = new ReverseSpill('f', dir);
    await spill.push(['a', 'b', 'c'].map((l) => new StoredEntry(Buffer.from(l), 'f')));
    expect(await collect(spill)).toEqual(['c', 'b', 'a']);
    await spill.dispose();
  });

  it('beyond 16 MiB spills to a temporary file, still newest first, and removes it', async () => {
    const spill = new ReverseSpill('f', dir);
    const lines: string[] = [];
    for (let i = 0; i < 300_000; i++) lines.push(`{"n":${i},"pad":"${'x'.repeat(i % 97)}"}`);
    for (let i = 0; i < lines.length; i += 1000) {
      await spill.push(lines.slice(i, i + 1000).map((l) => new StoredEntry(Buffer.from(l), 'f')));
    }
    expect((await readdir(dir)).length).toBe(1);
    expect(await collect(spill)).toEqual([...lines].reverse());
    await spill.dispose();
    expect(await readdir(dir)).toEqual([]);
  });

  it('clear() forgets what came before, in memory and on disk', async () => {
    const spill = new ReverseSpill('f', dir);
    const big = Array.from({ length: 200_000 }, (_, i) => new StoredEntry(Buffer.from(`line ${i} ${'y'.repeat(60)}`), 'f'));
    await spill.push(big);
    await spill.clear();
    await spill.push([new StoredEntry(Buffer.from('after'), 'f')]);
    expect(await collect(spill)).toEqual(['after']);
    await spill.dispose();
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryBatch, type LogEntry } from '@logstream/protocol';
import { FileBackend, formatHuman } from '../src/index';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ls-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (i: number, extra: Partial<LogEntry> = {}): LogEntry => ({
  id: `id-${i}`,
  timestamp: '2024-01-15T10:30:45.123Z',
  level: 6,
  daemon: 'web-server',
  message: `m${i}`,
  fields: { user_id: '12345' },
  pid: 1234,
  hostname: 'server01',
  ...extra,
});

describe('FileBackend', () => {
  it('creates the directory and writes a batch as canonical JSON lines', async () => {
    const backend = new FileBackend({ directory: join(dir, 'a', 'b') });
    await backend.open();
    await backend.write(EntryBatch.fromEntries([entry(1), entry(2)]));
    await backend.close();
    const lines = (await readFile(join(dir, 'a', 'b', 'current.log'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((l): unknown => JSON.parse(l))).toEqual([entry(1), entry(2)]);
  });

  it('formats human lines as in the spec example, escaping newlines and quoting odd values', () => {
    expect(formatHuman(entry(1, { message: 'Request processed' }))).toBe(
      '2024-01-15T10:30:45.123Z INFO  web-server[1234]: Request processed user_id=12345',
    );
    expect(formatHuman(entry(1, { message: 'a\nb', fields: { k: 'x y', e: '' }, pid: null, level: 3 }))).toBe(
      '2024-01-15T10:30:45.123Z ERROR web-server: a\\nb k="x y" e=""',
    );
  });

  it('cuts a torn last line left by a crash, and gives the ids of the last entries', async () => {
    const path = join(dir, 'current.log');
    await writeFile(path, `${JSON.stringify(entry(1))}\n${JSON.stringify(entry(2))}\n{"id":"torn","times`);
    const backend = new FileBackend({ directory: dir });
    await backend.open();
    expect(backend.tornBytesRemoved).toBe('{"id":"torn","times'.length);
    expect(await backend.recentIds()).toEqual(['id-1', 'id-2']);
    await backend.write(EntryBatch.fromEntries([entry(3)]));
    await backend.close();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['id-1', 'id-2', 'id-3']);
  });

  it('gives the ids of the newest archive too when a rotation came just before a crash', async () => {
    for (const compression of ['none', 'gzip', 'lz4'] as const) {
      const sub = join(dir, compression);
      const backend = new FileBackend({ directory: sub, maxFileBytes: 4096, compression });
      await backend.open();
      for (let i = 0; i < 40; i++) await backend.write(EntryBatch.fromEntries([entry(i)]));
      await backend.writer.whenIdle();
      await backend.close();
      // The live file now holds only the entries written after the last rotation.
      const reopened = new FileBackend({ directory: sub, maxFileBytes: 4096, compression });
      const ids = await reopened.recentIds(1024 * 1024);
      expect(ids.slice(-30)).toEqual(Array.from({ length: 30 }, (_, i) => `id-${i + 10}`));
      expect(new Set(ids).size).toBe(ids.length);
    }
  });
});

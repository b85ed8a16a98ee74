import { once } from 'node:events';
import { readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RotatingFileWriter, type RotateEvent, type RotatingFileWriterOptions } from '../src/index';
import { archives, idsOf, makeLines, range, readAllLogs, useWriterDir } from './helpers';

let dir: string;
const openWriter = useWriterDir((d) => (dir = d));
// Registered after useWriterDir's, so it runs first: real timers before the writers close.
afterEach(() => {
  vi.useRealTimers();
});

describe('size rotation', () => {
  it('rotates before a write that would pass maxFileBytes and never splits a write', async () => {
    const writer = await openWriter({ maxFileBytes: 1000, rotation: { keepFiles: 100 } });
    const rotations: RotateEvent[] = [];
    writer.on('rotate', (e) => rotations.push(e));
    for (let i = 0; i < 20; i++) await writer.write(makeLines(i * 3, 3)); // 300-byte batches
    await writer.flush();

    const names = await archives(dir);
    // 3 batches (900 bytes) fit; the 4th would make 1200: each file holds exactly 3 batches.
    expect(names).toHaveLength(6);
    expect(rotations.map((r) => r.to)).toEqual(names.map((n) => join(dir, n)));
    expect(rotations.every((r) => r.from === join(dir, 'current.log'))).toBe(true);
    for (const name of names) expect((await stat(join(dir, name))).size).toBe(900);
    expect((await stat(join(dir, 'current.log'))).size).toBe(600);
    expect(idsOf(await readAllLogs(dir))).toEqual(range(0, 60));
    expect(writer.stats()).toMatchObject({ rotations: 6, writes: 20, bytes_written: 6000, live_file_bytes: 600 });
  });

  it('puts a write larger than maxFileBytes alone into a fresh file', async () => {
    const writer = await openWriter({ maxFileBytes: 250 });
    await writer.write(makeLines(0, 1));
    await writer.write(makeLines(1, 5)); // 500 bytes > 250
    await writer.write(makeLines(6, 1));
    const names = await archives(dir);
    expect(names).toHaveLength(2);
    expect(idsOf(await readFile(join(dir, names[0] as string), 'utf8'))).toEqual([0]);
    expect(idsOf(await readFile(join(dir, names[1] as string), 'utf8'))).toEqual([1, 2, 3, 4, 5]);
    expect(idsOf(await readFile(join(dir, 'current.log'), 'utf8'))).toEqual([6]);
  });

  it('does not rotate when rotation is disabled', async () => {
    const writer = await openWriter({ maxFileBytes: 100, rotation: { enabled: false } });
    for (let i = 0; i < 10; i++) await writer.write(makeLines(i, 1));
    expect(await archives(dir)).toEqual([]);
    expect(writer.size).toBe(1000);
  });

  it('continues an existing live file and counts its size', async () => {
    await writeFile(join(dir, 'current.log'), makeLines(0, 5));
    const writer = await openWriter({ maxFileBytes: 600 });
    expect(writer.size).toBe(500);
    await writer.write(makeLines(5, 2)); // 700 > 600: rotates first
    expect(idsOf(await readAllLogs(dir))).toEqual(range(0, 7));
    expect(await archives(dir)).toHaveLength(1);
  });
});

describe('age rotation', () => {
  it('rotates a live file older than maxAgeHours on a timer, and never an empty one', async () => {
    const writer = await openWriter({ rotation: { maxAgeHours: 0.3 / 3600 } }); // 300 ms
    await writer.write(makeLines(0, 2));
    const [event] = (await once(writer, 'rotate')) as [RotateEvent];
    expect(idsOf(await readFile(event.to, 'utf8'))).toEqual([0, 1]);
    // Nothing was written since: three more ages pass without another rotation.
    await new Promise((r) => setTimeout(r, 1000));
    expect(writer.stats().rotations).toBe(1);
    await writer.write(makeLines(2, 1));
    await once(writer, 'rotate');
    expect(idsOf(await readAllLogs(dir))).toEqual([0, 1, 2]);
    expect(await archives(dir)).toHaveLength(2);
  });

  it('counts age from the rotation time for a live file found at open (fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    vi.setSystemTime(Date.UTC(2026, 0, 1));
    const writer = await openWriter({ rotation: { maxAgeHours: 24 } });
    await writer.write(makeLines(0, 1));
    vi.advanceTimersByTime(23 * 3_600_000);
    await writer.flush();
    expect(writer.stats().rotations).toBe(0);
    const rotated = once(writer, 'rotate');
    vi.advanceTimersByTime(1 * 3_600_000);
    await rotated;
    expect(writer.stats().rotations).toBe(1);
    const names = await archives(dir);
    expect(names[0]).toMatch(/^current-20260102T000000\.000Z-000001\.log$/);
  });
});

describe('retention', () => {
  it('keeps the newest keepFiles rotated files', async () => {
    const writer = await openWriter({ maxFileBytes: 100, rotation: { keepFiles: 3 } });
    for (let i = 0; i < 10; i++) await writer.write(makeLines(i, 1));
    await writer.whenIdle();
    const names = await archives(dir);
    expect(names).toHaveLength(3);
    // Rotations 1..9 happened; 7, 8 and 9 (ids 6, 7, 8) stay.
    expect(names.map((n) => Number(/-(\d+)\.log$/.exec(n)?.[1]))).toEqual([7, 8, 9]);
    expect(idsOf(await readAllLogs(dir))).toEqual([6, 7, 8, 9]);
    expect(writer.stats().files_deleted).toBe(6);
  });

  it('keeps nothing with keepFiles 0, and leaves files that are not its own', async () => {
    await writeFile(join(dir, 'current.log.1'), 'logrotate leftover\n');
    await writeFile(join(dir, 'notes.txt'), 'x\n');
    const writer = await openWriter({ maxFileBytes: 100, rotation: { keepFiles: 0 } });
    for (let i = 0; i < 4; i++) await writer.write(makeLines(i, 1));
    await writer.whenIdle();
    expect((await readdir(dir)).sort()).toEqual(['current.log', 'current.log.1', 'notes.txt']);
  });
});

describe('names', () => {
  it('never collide and sort in rotation order, with many rotations in the same millisecond', async () => {
    const writer = await openWriter({ maxFileBytes: 10, rotation: { keepFiles: 10_000 } });
    // Issued at once: each write rotates, far faster than the clock moves.
    await Promise.all(range(0, 300).map((i) => writer.write(makeLines(i, 1, 30))));
    const names = await archives(dir);
    expect(names).toHaveLength(299);
    expect(new Set(names).size).toBe(299);
    const stamps = new Set(names.map((n) => n.slice(8, 28)));
    expect(stamps.size).toBeLessThan(299); // several per millisecond did happen
    // Sorted names hold the lines in write order.
    expect(idsOf(await readAllLogs(dir))).toEqual(range(0, 300));
  });

  it('continue the sequence after a restart right after a rotation', async () => {
    const first = await openWriter({ maxFileBytes: 10 });
    await first.write(makeLines(0, 1, 30));
    await first.write(makeLines(1, 1, 30));
    await first.close();
    const second = await openWriter({ maxFileBytes: 10 });
    await second.write(makeLines(2, 1, 30));
    await second.write(makeLines(3, 1, 30));
    const names = await archives(dir);
    expect(names.map((n) => Number(/-(\d+)\.log$/.exec(n)?.[1]))).toEqual([1, 2, 3]);
    expect(idsOf(await readAllLogs(dir))).toEqual([0, 1, 2, 3]);
  });

  it('keep sorting in rotation order when the clock steps back', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 5, 1, 12));
    const writer = await openWriter({ maxFileBytes: 10, rotation: { keepFiles: 100 } });
    await writer.write(makeLines(0, 1, 30));
    await writer.write(makeLines(1, 1, 30));
    vi.setSystemTime(Date.UTC(2026, 5, 1, 11)); // an hour back (NTP step)
    await writer.write(makeLines(2, 1, 30));
    await writer.close();
    const reopened = await openWriter({ maxFileBytes: 10, rotation: { keepFiles: 100 } });
    await reopened.write(makeLines(3, 1, 30));
    const names = await archives(dir);
    expect(names).toHaveLength(3);
    expect(names.every((n) => n.includes('20260601T120000.000Z'))).toBe(true);
    expect(idsOf(await readAllLogs(dir))).toEqual([0, 1, 2, 3]);
  });
});

describe('reopen (SIGHUP after an external rename)', () => {
  it('sends new writes to a new live file and loses none', async () => {
    const writer = await openWriter({ maxFileBytes: 1 << 30 });
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) pending.push(writer.write(makeLines(i, 1)));
    await rename(join(dir, 'current.log'), join(dir, 'current.log.1'));
    pending.push(writer.reopen());
    for (let i = 50; i < 100; i++) pending.push(writer.write(makeLines(i, 1)));
    await Promise.all(pending);
    expect(idsOf(await readFile(join(dir, 'current.log.1'), 'utf8'))).toEqual(range(0, 50));
    expect(idsOf(await readFile(join(dir, 'current.log'), 'utf8'))).toEqual(range(50, 50));
    expect(writer.size).toBe(5000);
  });

  it('keeps the old file when the new one cannot be opened', async () => {
    const writer = await openWriter();
    await writer.write(makeLines(0, 1));
    await rename(join(dir, 'current.log'), join(dir, 'moved.log'));
    // A directory where the live file should be: open() fails with EISDIR.
    await (await import('node:fs/promises')).mkdir(join(dir, 'current.log'));
    await expect(writer.reopen()).rejects.toMatchObject({ code: 'EISDIR' });
    await writer.write(makeLines(1, 1));
    expect(idsOf(await readFile(join(dir, 'moved.log'), 'utf8'))).toEqual([0, 1]);
  });
});

describe('lifecycle and options', () => {
  it('close is idempotent, and writes after close reject', async () => {
    const writer = await openWriter();
    await writer.write(makeLines(0, 1));
    const closing = writer.close();
    expect(writer.close()).toBe(closing);
    await closing;
    await expect(writer.write(makeLines(1, 1))).rejects.toThrow(/write after close/);
  });

  it('rejects options out of range', () => {
    const make = (o: Partial<RotatingFileWriterOptions>) => () => new RotatingFileWriter({ directory: dir, ...o });
    expect(make({ maxFileBytes: 0 })).toThrow(RangeError);
    expect(make({ rotation: { keepFiles: -1 } })).toThrow(/keepFiles/);
    expect(make({ rotation: { keepFiles: 1.5 } })).toThrow(/keepFiles/);
    expect(make({ rotation: { maxAgeHours: -1 } })).toThrow(/maxAgeHours/);
    expect(make({ compression: 'zstd' as never })).toThrow(/compression/);
    expect(make({ fileName: 'a/b.log' })).toThrow(/fileName/);
  });

  it('creates files with fileMode', async () => {
    const writer = await openWriter({ fileMode: 0o600, maxFileBytes: 10 });
    await writer.write(makeLines(0, 1));
    await writer.write(makeLines(1, 1));
    expect((await stat(join(dir, 'current.log'))).mode & 0o777).toBe(0o600);
  });
});

describe('direct writes', () => {
  it('appends from the event loop while writes are fast, through the thread pool for a while after a slow one', async () => {
    const direct = await openWriter({ fileName: 'direct.log' });
    // A budget no write can meet: the first direct write counts as slow, the next ones go
    // through the thread pool (and are not timed), and every byte still lands in order.
    const pooled = await openWriter({ fileName: 'pooled.log', directWriteBudgetMs: 1e-9 });
    const never = await openWriter({ fileName: 'never.log', directWriteBudgetMs: 0 });
    for (const w of [direct, pooled, never]) for (let i = 0; i < 5; i++) await w.write(makeLines(i * 10, 10));
    expect(direct.stats()).toMatchObject({ writes: 5, slow_writes: 0 });
    expect(pooled.stats()).toMatchObject({ writes: 5, slow_writes: 1 });
    expect(never.stats()).toMatchObject({ writes: 5, slow_writes: 0 });
    const expected = await readFile(join(dir, 'direct.log'), 'utf8');
    expect(idsOf(expected)).toEqual(range(0, 50));
    expect(await readFile(join(dir, 'pooled.log'), 'utf8')).toBe(expected);
    expect(await readFile(join(dir, 'never.log'), 'utf8')).toBe(expected);
  });

  it('refuses a negative budget', () => {
    expect(() => new RotatingFileWriter({ directory: dir, directWriteBudgetMs: -1 })).toThrow(RangeError);
  });
});

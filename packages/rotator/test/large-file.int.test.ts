import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { CompressedEvent, RotateEvent } from '../src/index';
import { idsOf, makeLines, sha256OfCommand, useWriterDir } from './helpers';

// A 300 MB rotated file compresses in 4 MiB steps: memory must not grow with the file, and
// writes must keep completing while it compresses (counted, not timed).
const FILE_BYTES = 300_000_000;
const LINES_PER_BATCH = 10_000; // 1 MB of 100-byte lines
const RSS_GROWTH_LIMIT = 64 * 1024 * 1024;

const openWriter = useWriterDir(() => undefined);

describe.each([
  { compression: 'gzip' as const, reader: ['zcat'] },
  { compression: 'lz4' as const, reader: ['lz4', '-dc'] },
])('a 300 MB file with $compression', ({ compression, reader }) => {
  it('compresses with bounded memory while writes keep flowing', async () => {
    const writer = await openWriter({ maxFileBytes: FILE_BYTES, compression });
    const hash = createHash('sha256');
    let id = 0;
    while (id * 100 < FILE_BYTES) {
      const batch = makeLines(id, LINES_PER_BATCH);
      hash.update(batch);
      await writer.write(batch);
      id += LINES_PER_BATCH;
    }
    const expectedSha = hash.digest('hex');

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const compressed = once(writer, 'compressed') as Promise<[CompressedEvent]>;
    let done = false;
    void compressed.then(() => {
      done = true;
    });
    const rotated = once(writer, 'rotate') as Promise<[RotateEvent]>;
    const firstDuring = id;
    let writesDuring = 0;
    // The first of these rotates; all of them complete while (or after) the archive is made.
    // At most 100 MB of them, so that they never fill (and rotate) the new live file.
    do {
      await writer.write(makeLines(id, 10));
      id += 10;
      if (!done) writesDuring += 1;
    } while (!done && (id - firstDuring) * 100 < FILE_BYTES / 3);
    clearInterval(sampler);
    const [[event], [rotation]] = await Promise.all([compressed, rotated]);

    expect(event.bytesIn).toBe(FILE_BYTES);
    expect(event.source).toBe(rotation.to);
    expect(writesDuring).toBeGreaterThan(20);
    expect(peak - baseline).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(await sha256OfCommand(reader[0] as string, [...reader.slice(1), event.path])).toBe(expectedSha);
    const live = idsOf(await readFile(writer.path, 'utf8'));
    expect(live[0]).toBe(firstDuring);
    expect(live).toHaveLength(id - firstDuring);
    console.log(
      `${compression}: ${(FILE_BYTES / 1e6).toFixed(0)} MB -> ${(event.bytesOut / 1e6).toFixed(1)} MB in ${event.ms.toFixed(0)} ms; ` +
        `${writesDuring} writes completed meanwhile; RSS growth ${((peak - baseline) / 2 ** 20).toFixed(1)} MiB`,
    );
  });
});

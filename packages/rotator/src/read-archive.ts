// Owns reading the tail of a live or rotated file, decompressing it when it is an archive.
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { decompressFrame } from 'lz4-napi';
import type { ArchiveCompression } from './archive-names';
import { openRegularFile, READ_FLAGS } from './safe-files';

/** Keeps the last `max` bytes of what passes through it. */
class Tail {
  #parts: Buffer[] = [];
  #bytes = 0;
  constructor(readonly max: number) {}
  push(chunk: Buffer): void {
    this.#parts.push(chunk);
    this.#bytes += chunk.length;
    while (this.#parts.length > 1 && this.#bytes - (this.#parts[0] as Buffer).length >= this.max) {
      this.#bytes -= (this.#parts.shift() as Buffer).length;
    }
  }
  result(): Buffer {
    const all = Buffer.concat(this.#parts);
    return all.length > this.max ? all.subarray(all.length - this.max) : all;
  }
}

const LZ4_MAGIC = 0x184d2204;
const LZ4_SKIPPABLE = 0x184d2a50;

/** Length of the LZ4 frame at `at` (header, blocks, end mark, checksums), or -1 if malformed. */
function lz4FrameLength(buf: Buffer, at: number): number {
  if (at + 7 > buf.length) return -1;
  const magic = buf.readUInt32LE(at);
  if ((magic & 0xfffffff0) === LZ4_SKIPPABLE) return 8 + buf.readUInt32LE(at + 4);
  if (magic !== LZ4_MAGIC) return -1;
  const flg = buf[at + 4] as number;
  let pos = at + 6 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
  const blockChecksum = (flg & 0x10) !== 0;
  for (;;) {
    if (pos + 4 > buf.length) return -1;
    const size = buf.readUInt32LE(pos) & 0x7fffffff;
    pos += 4;
    if (size === 0) break;
    pos += size + (blockChecksum ? 4 : 0);
  }
  if ((flg & 0x04) !== 0) pos += 4;
  return pos <= buf.length ? pos - at : -1;
}

/**
 * The last `maxBytes` of a rotated file's content, decompressed as its name says: plain files
 * are read from the end; gzip is streamed through zlib; lz4 is read frame by frame (the rotator
 * writes many small frames, and concatenated frames are one valid stream). Memory stays about
 * `maxBytes` plus one chunk. A damaged archive yields what could be read before the damage.
 *
 * The file is never opened through a symbolic link.
 *
 * @throws the fs error when the file cannot be opened (`ENOENT`, …); a `RotatorError` (code
 *   `ELOOP`) when it is a symbolic link. A gzip file that cannot be read yields what was read.
 */
export async function readArchiveTail(path: string, compression: ArchiveCompression, maxBytes: number): Promise<Buffer> {
  if (compression === 'none') {
    const handle = await openRegularFile(path, READ_FLAGS);
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - maxBytes);
      const buf = Buffer.allocUnsafe(size - start);
      const { bytesRead } = await handle.read(buf, 0, buf.length, start);
      return buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }
  const tail = new Tail(maxBytes);
  if (compression === 'gzip') {
    // A failure (damage) ends the read; pipeline closes the file either way.
    const handle = await openRegularFile(path, READ_FLAGS);
    await pipeline(handle.createReadStream(), createGunzip(), async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) tail.push(chunk);
    }).catch(() => undefined);
    return tail.result();
  }
  // lz4: hold at most one read window of compressed bytes; decode each complete frame.
  const handle = await openRegularFile(path, READ_FLAGS);
  try {
    let pending = Buffer.alloc(0);
    let position = 0;
    const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      position += bytesRead;
      pending = pending.length === 0 ? Buffer.from(chunk.subarray(0, bytesRead)) : Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
      let at = 0;
      for (;;) {
        const len = lz4FrameLength(pending, at);
        if (len === -1) break;
        const frame = pending.subarray(at, at + len);
        if (pending.readUInt32LE(at) === LZ4_MAGIC) tail.push(await decompressFrame(frame));
        at += len;
      }
      pending = pending.subarray(at);
      if (bytesRead === 0) break;
    }
  } catch {
    // A damaged frame: keep what was decoded before it.
  } finally {
    await handle.close();
  }
  return tail.result();
}

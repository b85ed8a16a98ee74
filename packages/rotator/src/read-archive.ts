// Reading rotated files back: the decompressed bytes of a plain, gzip or lz4 archive as a stream
// of chunks (what @logstream/query scans), and the tail of one (what the file backend reads to
// find the last ids it stored).
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { decompressFrame } from 'lz4-napi';
import type { ArchiveCompression } from './archive-names';
import { openRegularFile, READ_FLAGS } from './safe-files';

/** Size of each read from a file. */
export const READ_CHUNK_BYTES = 1024 * 1024;
// The rotator writes lz4 frames of 64 KiB of input; a frame this large is not ours, and holding
// it whole would break the memory bound.
const MAX_LZ4_FRAME_BYTES = 64 * 1024 * 1024;
const LZ4_MAGIC = 0x184d2204;
const LZ4_SKIPPABLE = 0x184d2a50;

/** Called once per problem found while decompressing (the read then goes on or stops). */
export type DamageSink = (reason: string) => void;

/**
 * The decompressed bytes of an open file, chunk by chunk: plain files from `position`; gzip
 * streamed through zlib; lz4 frame by frame (the rotator writes many small frames, and
 * concatenated frames are one valid stream), holding at most one read of compressed bytes plus
 * the frame in progress. A damaged gzip stream ends the read; a damaged lz4 frame is reported,
 * marked with {@link EMPTY_BREAK}, and the read goes on with the next frame. Each problem is
 * told to `onDamage`. The handle stays open (the caller closes it).
 */
export async function* decompressedChunks(
  handle: FileHandle,
  compression: ArchiveCompression,
  onDamage: DamageSink,
  position = 0,
): AsyncGenerator<Buffer> {
  if (compression === 'none') {
    yield* plainChunks(handle, position);
  } else if (compression === 'gzip') {
    yield* gzipChunks(handle, onDamage);
  } else {
    yield* lz4Chunks(handle, onDamage);
  }
}

async function* plainChunks(handle: FileHandle, position: number): AsyncGenerator<Buffer> {
  for (;;) {
    const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    const { bytesRead } = await handle.read(buf, 0, buf.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

async function* gzipChunks(handle: FileHandle, onDamage: DamageSink): AsyncGenerator<Buffer> {
  const input = createReadStream('', { fd: handle, autoClose: false, start: 0, highWaterMark: READ_CHUNK_BYTES });
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
  } catch (error) {
    onDamage(`gzip: ${(error as Error).message}`);
  } finally {
    input.unpipe(gunzip);
    input.destroy();
    gunzip.destroy();
  }
}

/**
 * Length of the LZ4 frame at `at` (header, blocks, end mark, checksum), -1 when more bytes are
 * needed, -2 when the bytes there are not a frame (a streaming reader must tell the two apart).
 */
export function lz4FrameLength(buf: Buffer, at: number): number {
  if (at + 4 > buf.length) return -1;
  const magic = buf.readUInt32LE(at);
  if ((magic & 0xfffffff0) === LZ4_SKIPPABLE) return at + 8 > buf.length ? -1 : 8 + buf.readUInt32LE(at + 4);
  if (magic !== LZ4_MAGIC) return -2;
  if (at + 7 > buf.length) return -1;
  const flg = buf[at + 4] as number;
  let pos = at + 6 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
  const blockChecksum = (flg & 0x10) !== 0;
  for (;;) {
    if (pos + 4 > buf.length) return -1;
    const size = buf.readUInt32LE(pos) & 0x7fffffff;
    pos += 4;
    if (size === 0) break;
    pos += size + (blockChecksum ? 4 : 0);
    if (pos - at > MAX_LZ4_FRAME_BYTES) return -2;
  }
  if ((flg & 0x04) !== 0) pos += 4;
  return pos <= buf.length ? pos - at : -1;
}

async function* lz4Chunks(handle: FileHandle, onDamage: DamageSink): AsyncGenerator<Buffer> {
  let pending = Buffer.alloc(0);
  let position = 0;
  // One read buffer for the whole file: frames are decoded into buffers of their own, and the
  // incomplete frame at the end of a read is copied out before the next read.
  const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  for (;;) {
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
    position += bytesRead;
    pending = pending.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
    let at = 0;
    for (;;) {
      const len = lz4FrameLength(pending, at);
      if (len === -2) {
        onDamage(`lz4: no frame at compressed byte ${position - pending.length + at}`);
        return;
      }
      if (len === -1) break;
      const frame = pending.subarray(at, at + len);
      at += len;
      if (frame.readUInt32LE(0) !== LZ4_MAGIC) continue;
      let out: Buffer;
      try {
        out = await decompressFrame(frame);
      } catch (error) {
        // Frames are independent: lose this one (64 KiB of input), go on with the next.
        onDamage(`lz4: ${(error as Error).message}`);
        yield EMPTY_BREAK;
        continue;
      }
      yield out;
    }
    pending = Buffer.from(pending.subarray(at));
    if (bytesRead === 0) {
      if (pending.length > 0) onDamage(`lz4: truncated frame (${pending.length} bytes at the end)`);
      return;
    }
  }
}

/**
 * A zero-length chunk that marks a gap in the data (a lost lz4 frame): the line in progress
 * across it is incomplete and must be dropped, not joined to what follows.
 */
export const EMPTY_BREAK = Buffer.alloc(0);

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

/**
 * The last `maxBytes` of a rotated file's content, decompressed as its name says (plain files
 * are read from the end). Memory stays about `maxBytes` plus one chunk. A damaged archive
 * yields what could be read before the damage.
 *
 * The file is never opened through a symbolic link.
 *
 * @throws the fs error when the file cannot be opened (`ENOENT`, …); a `RotatorError` (code
 *   `ELOOP`) when it is a symbolic link. A gzip file that cannot be read yields what was read.
 */
export async function readArchiveTail(path: string, compression: ArchiveCompression, maxBytes: number): Promise<Buffer> {
  const handle = await openRegularFile(path, READ_FLAGS);
  try {
    const start = compression === 'none' ? Math.max(0, (await handle.stat()).size - maxBytes) : 0;
    const tail = new Tail(maxBytes);
    let damaged = false;
    for await (const chunk of decompressedChunks(handle, compression, () => (damaged = true), start)) {
      // Past damage the bytes no longer continue what came before: the tail ends there.
      if (damaged) break;
      tail.push(chunk);
    }
    return tail.result();
  } finally {
    await handle.close();
  }
}

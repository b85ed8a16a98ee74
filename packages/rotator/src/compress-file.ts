// Owns compressing one rotated file into a temporary (gzip or lz4 frames), with bounded memory
// and an abort signal.
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { compressFrame } from 'lz4-napi';
import { CREATE_FLAGS, openRegularFile, READ_FLAGS } from './safe-files';

/** Algorithms for rotated files. */
export type CompressionAlgorithm = 'gzip' | 'lz4';

/** Bytes read from the source and bytes written to the target. */
export interface CompressResult {
  bytesIn: number;
  bytesOut: number;
}

/** Options of {@link compressFile}. */
export interface CompressFileOptions {
  /** Mode of the target when it is created. Default `0o640`. */
  fileMode?: number;
  /** Size of each read from the source (lz4 cuts each into frames of 64 KiB of input). Default 4 MiB. */
  chunkBytes?: number;
  /** Aborts between chunks; the promise then rejects with an `AbortError`. */
  signal?: AbortSignal;
}

const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
// The block size `lz4 -B4` uses; each frame is independent, so a damaged one loses only 64 KiB.
const LZ4_FRAME_BYTES = 64 * 1024;

// lz4-napi returns buffers allocated by Rust that V8 does not count (no
// napi_adjust_external_memory), so nothing makes V8 collect them: an idle process compressing a
// 1 GiB file grew by 100-250 MB of dead frames. Small frames plus a little young-generation
// garbage in proportion to each frame make the scavenger run, and free them, every few MiB
// (measured: under 45 MB of growth for 300 MB and for 1 GB).
const scavengerNudge = { garbage: [] as number[] };
function nudgeScavenger(bytes: number): void {
  scavengerNudge.garbage = new Array<number>(bytes >>> 3).fill(0);
}

/**
 * Compresses `source` into `target`, reading in chunks so memory stays
 * bounded by a few chunks whatever the file size. gzip is one gzip member (`gzip -t`, `zcat`);
 * lz4 is a sequence of LZ4 frames, one per 64 KiB of input, each with a content checksum
 * (`lz4 -t`, `lz4 -dc` read concatenated frames as one stream). The target is fsynced before the
 * promise resolves. Compression itself runs on the libuv thread pool, off the event loop.
 *
 * Neither file is opened through a symbolic link: `source` must be a regular file (a link is
 * refused with a `RotatorError`, code `ELOOP`), and `target` is created, never replaced (it must
 * not exist: `EEXIST` otherwise, whether it is a file or a link).
 *
 * @throws the fs or zlib error (the target may then hold partial output: callers write to a
 *   temporary name and remove it).
 */
export async function compressFile(
  source: string,
  target: string,
  algorithm: CompressionAlgorithm,
  options: CompressFileOptions = {},
): Promise<CompressResult> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const sourceHandle = await openRegularFile(source, READ_FLAGS);
  let out: FileHandle;
  try {
    out = await open(target, CREATE_FLAGS, options.fileMode ?? 0o640);
  } catch (error) {
    await sourceHandle.close();
    throw error;
  }
  // The stream closes the source when it ends or is destroyed.
  const input = sourceHandle.createReadStream({ highWaterMark: chunkBytes });
  try {
    let bytesIn = 0;
    let bytesOut = 0;
    const sink = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
      for await (const chunk of chunks) bytesOut += await writeAll(out, chunk);
    };
    const signal = options.signal ?? new AbortController().signal;
    if (algorithm === 'gzip') {
      // Stream stages only: a generator stage in front of gzip would get an object-mode buffer
      // of 16 chunks (64 MiB) between them.
      await pipeline(input, createGzip({ chunkSize: 256 * 1024 }), sink, { signal });
      bytesIn = input.bytesRead;
    } else {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        signal.throwIfAborted();
        bytesIn += chunk.length;
        const frames: Buffer[] = [];
        // Frames one after another, not at once: one thread-pool thread for compression leaves
        // the others to the writes of the live file.
        for (let at = 0; at < chunk.length; at += LZ4_FRAME_BYTES) {
          const frame = await compressFrame(chunk.subarray(at, at + LZ4_FRAME_BYTES), { contentChecksum: true });
          frames.push(frame);
          nudgeScavenger(frame.length);
        }
        bytesOut += await writeAllv(out, frames);
      }
    }
    options.signal?.throwIfAborted();
    await out.datasync();
    return { bytesIn, bytesOut };
  } finally {
    input.destroy();
    await out.close();
  }
}

async function writeAllv(handle: FileHandle, buffers: Buffer[]): Promise<number> {
  let total = 0;
  for (const b of buffers) total += b.length;
  const { bytesWritten } = await handle.writev(buffers);
  if (bytesWritten === total) return total;
  // A short writev (rare: signals, quotas): finish with plain writes from where it stopped.
  let skip = bytesWritten;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    await writeAll(handle, b.subarray(skip));
    skip = 0;
  }
  return total;
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<number> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done);
    done += bytesWritten;
  }
  return done;
}

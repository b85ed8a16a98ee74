import { readdir, stat } from 'node:fs/promises';
import type { ArchiveNamer } from '@logstream/rotator';
import { type ArchiveCompression } from '@logstream/rotator';
import { QueryError } from './query-error';

/** One rotated file (by sequence number), with the names it exists under right now. */
export interface ArchiveFile {
  seq: number;
  /** Rotation time written in its name (ms since the epoch). */
  timeMs: number;
  /** Complete names for this sequence number, plain first (cheapest to read), then compressed. */
  names: { name: string; compression: ArchiveCompression }[];
}

/** The rotated files of a directory, oldest first, and whether the live file exists. */
export interface DirectoryListing {
  archives: ArchiveFile[];
  live: boolean;
}

const ORDER: Record<ArchiveCompression, number> = { none: 0, lz4: 1, gzip: 2 };

/**
 * Lists the stored files of `directory` by the rotator's own naming ({@link ArchiveNamer}):
 * unfinished compressions (`….tmp`) are left out (the plain file they come from is still there,
 * or the finished archive has replaced it).
 */
export async function listStoredFiles(directory: string, namer: ArchiveNamer): Promise<DirectoryListing> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    throw directoryError(directory, error);
  }
  const bySeq = new Map<number, ArchiveFile>();
  let live = false;
  for (const name of names) {
    if (name === namer.fileName) {
      live = true;
      continue;
    }
    const parsed = namer.parse(name);
    if (parsed === undefined || parsed.temporary) continue;
    let file = bySeq.get(parsed.seq);
    if (file === undefined) {
      file = { seq: parsed.seq, timeMs: parsed.timeMs, names: [] };
      bySeq.set(parsed.seq, file);
    }
    file.names.push({ name, compression: parsed.compression });
  }
  for (const file of bySeq.values()) file.names.sort((a, b) => ORDER[a.compression] - ORDER[b.compression]);
  return { archives: [...bySeq.values()].sort((a, b) => a.seq - b.seq), live };
}

/**
 * Checks that `directory` is a LogStream output directory: it exists, is a directory, and holds
 * the live file or at least one rotated file.
 *
 * @throws QueryError `NOT_A_LOGSTREAM_DIRECTORY` otherwise.
 */
export async function checkDirectory(directory: string, namer: ArchiveNamer): Promise<DirectoryListing> {
  try {
    const s = await stat(directory);
    if (!s.isDirectory()) throw new QueryError('NOT_A_LOGSTREAM_DIRECTORY', `${directory} is not a directory`);
  } catch (error) {
    if (QueryError.is(error)) throw error;
    throw directoryError(directory, error);
  }
  const listing = await listStoredFiles(directory, namer);
  if (!listing.live && listing.archives.length === 0) {
    const stem = namer.fileName.replace(/\.[^.]*$/, '');
    throw new QueryError(
      'NOT_A_LOGSTREAM_DIRECTORY',
      `${directory} is not a LogStream output directory: no ${namer.fileName} and no rotated ${stem}-*.log* files in it`,
    );
  }
  return listing;
}

function directoryError(directory: string, error: unknown): QueryError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new QueryError('NOT_A_LOGSTREAM_DIRECTORY', `${directory}: no such directory`, { cause: error });
  if (code === 'ENOTDIR') return new QueryError('NOT_A_LOGSTREAM_DIRECTORY', `${directory} is not a directory`, { cause: error });
  return new QueryError('IO', `${directory}: ${(error as Error).message}`, { cause: error });
}

// Owns the names of rotated files: formatting and parsing `<stem>-<stamp>-<seq><ext>[.gz|.lz4]`,
// the hidden name of the next live file and of temporaries.
import { extname } from 'node:path';

/** Compression of a rotated file, as its name shows it. */
export type ArchiveCompression = 'none' | 'gzip' | 'lz4';

/** Every {@link ArchiveCompression}. */
export const ARCHIVE_COMPRESSIONS: readonly ArchiveCompression[] = ['none', 'gzip', 'lz4'];

/** What a rotated file's name says about it. */
export interface ArchiveName {
  /** The whole file name. */
  name: string;
  /** Rotation time (UTC, milliseconds since the epoch) written in the name. */
  timeMs: number;
  /** Rotation sequence number; strictly increasing within a directory. */
  seq: number;
  /** Compression of this file. */
  compression: ArchiveCompression;
  /** True for an unfinished compression output (`….gz.tmp`, `….lz4.tmp`). */
  temporary: boolean;
}

const SUFFIX: Record<ArchiveCompression, string> = { none: '', gzip: '.gz', lz4: '.lz4' };
const SEQ_DIGITS = 6;

/**
 * Names the rotated files of one live file, e.g. `current.log` →
 * `current-20261124T193012.123Z-000001.log`, then `….log.gz` or `….log.lz4` once compressed.
 * The time is the UTC rotation time; the sequence number is one more than the highest found in
 * the directory, so names never collide, and since the writer never lets the time go backwards
 * (see `nextTimeMs`), names sort by time as plain strings.
 */
export class ArchiveNamer {
  readonly fileName: string;
  readonly #stem: string;
  readonly #ext: string;
  readonly #pattern: RegExp;

  constructor(fileName: string) {
    this.fileName = fileName;
    this.#ext = extname(fileName);
    this.#stem = fileName.slice(0, fileName.length - this.#ext.length);
    this.#pattern = new RegExp(
      `^${escapeRegExp(this.#stem)}-(\\d{8}T\\d{6}\\.\\d{3}Z)-(\\d{${SEQ_DIGITS},})${escapeRegExp(this.#ext)}(\\.gz|\\.lz4)?(\\.tmp)?$`,
    );
  }

  /** The name of rotated file number `seq`, rotated at `timeMs`, compressed as given. */
  format(timeMs: number, seq: number, compression: ArchiveCompression = 'none'): string {
    const stamp = formatStamp(timeMs);
    return `${this.#stem}-${stamp}-${String(seq).padStart(SEQ_DIGITS, '0')}${this.#ext}${SUFFIX[compression]}`;
  }

  /** The name `archiveName` (an uncompressed rotated file's name) takes once compressed. */
  compressedName(archiveName: string, compression: ArchiveCompression): string {
    return `${archiveName}${SUFFIX[compression]}`;
  }

  /** The temporary name a compression writes to before it renames to `format(…)`. */
  temporaryName(archiveName: string): string {
    return `${archiveName}.tmp`;
  }

  /** The hidden name the next live file is created under before it takes the live name. */
  get nextLiveName(): string {
    return `.${this.fileName}.next`;
  }

  /** Parses a directory entry; `undefined` for anything that is not one of our rotated files. */
  parse(name: string): ArchiveName | undefined {
    const m = this.#pattern.exec(name);
    if (m === null) return undefined;
    const timeMs = parseStamp(m[1] as string);
    if (Number.isNaN(timeMs)) return undefined;
    const compression: ArchiveCompression = m[3] === '.gz' ? 'gzip' : m[3] === '.lz4' ? 'lz4' : 'none';
    const temporary = m[4] !== undefined;
    if (temporary && compression === 'none') return undefined;
    return { name, timeMs, seq: Number(m[2]), compression, temporary };
  }
}

/** `20261124T193012.123Z` for the given time (UTC). */
export function formatStamp(timeMs: number): string {
  const iso = new Date(timeMs).toISOString();
  // 2026-11-24T19:30:12.123Z → 20261124T193012.123Z: no ':' (awkward in file names, invalid on
  // some file systems) and the same lexical order as the time itself.
  return iso.replace(/[-:]/g, '');
}

function parseStamp(stamp: string): number {
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13)}`;
  return Date.parse(iso);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

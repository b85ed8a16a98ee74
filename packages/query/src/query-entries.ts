import { open, stat, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ArchiveNamer, EMPTY_BREAK, decompressedChunks, readArchiveTail, type ArchiveCompression } from '@logstream/rotator';
import { LineMatcher, type EntryFilter } from './entry-filter';
import { FileScan } from './line-scan';
import { QueryError } from './query-error';
import { ReverseSpill } from './reverse-spill';
import { checkDirectory, listStoredFiles, type ArchiveFile, type DirectoryListing } from './stored-files';
import { StoredEntry } from './stored-entry';

/** A file that could be read only in part. */
export interface QueryWarning {
  /** Path of the file. */
  file: string;
  /** What was wrong: decompression errors, lines that are not entries. */
  reason: string;
  /** Lines (or pieces of lines) left out. */
  skippedLines: number;
}

/** Options of {@link queryEntries}. */
export interface QueryOptions {
  /** The output directory (the server's `storage.output_directory`). */
  directory: string;
  /** Name of the live file. Default `current.log`. */
  fileName?: string;
  /** Which entries to yield. */
  filter?: EntryFilter;
  /** Start after the entry with this id (a cursor printed by `--show-cursor`). */
  afterCursor?: string;
  /** Only the last `last` matching entries (journalctl `-n`); with `reverse`, the newest `last`. */
  last?: number;
  /** Newest first. Not with `follow`. */
  reverse?: boolean;
  /** After the stored entries, wait for new ones and yield them as they are written. */
  follow?: boolean;
  /** How often `follow` looks for new data. Default 200 ms. */
  pollIntervalMs?: number;
  /**
   * How far an entry's timestamp may lie from the time it was stored, for choosing files by
   * time: a file rotated at T holds entries stored after the previous rotation and up to T, so a
   * time filter skips it only when its range widened by this much on both sides cannot match.
   * Default 10 minutes.
   */
  clockSkewMs?: number;
  /** Ends the query (the iterator then finishes). */
  signal?: AbortSignal;
  /** Called once per damaged file, after its readable part was used. */
  onWarning?: (warning: QueryWarning) => void;
  /** Where `reverse` may spill matches beyond 16 MiB per file. Default the OS temp dir. */
  tempDirectory?: string;
}

const DEFAULT_POLL_MS = 200;
const DEFAULT_SKEW_MS = 10 * 60_000;

/** What follow mode holds of the live file it reads. */
interface LiveState {
  handle: FileHandle;
  ino: number;
  position: number;
  scan: FileScan;
  /** Sequence number of the newest archive rotated before this live file. */
  lastSeq: number;
  /** The last bytes read from it: they identify its archive once it is rotated and compressed. */
  tail?: Buffer;
}

const TAIL_BYTES = 4096;

/**
 * The stored entries of a LogStream output directory: every rotated file (plain, `.gz`, `.lz4`,
 * and one being compressed right now: its plain original is read) in rotation order, then the
 * live file; within a file, in the order stored. Yields batches (arrays) of entries.
 *
 * Order: files by rotation sequence, lines in the order written. The server writes entries as
 * they arrive, so this is timestamp order for entries stamped by the server and, for entries a
 * client stamped, up to that client's delay (a client that buffered entries while the server was
 * away sends them later: they appear where they were stored). Time filters are exact per entry
 * whatever the order.
 *
 * Files are chosen before they are opened: with a time filter, an archive whose range (from the
 * rotation times in its and its predecessor's names, widened by `clockSkewMs`) cannot match is
 * skipped. Each line is decided from its bytes where possible (see {@link LineMatcher}). Memory
 * stays bounded: files are streamed, `last` keeps `last` entries, `reverse` spills to disk.
 *
 * @throws QueryError `NOT_A_LOGSTREAM_DIRECTORY` for a directory that is not one,
 *   `CURSOR_NOT_FOUND` when `afterCursor` names no stored entry, `BAD_ARGUMENT` for options that
 *   do not go together.
 */
export async function* queryEntryBatches(options: QueryOptions): AsyncGenerator<StoredEntry[]> {
  const run = new QueryRun(options);
  yield* run.batches();
}

/** {@link queryEntryBatches}, one entry at a time. */
export async function* queryEntries(options: QueryOptions): AsyncGenerator<StoredEntry> {
  for await (const batch of queryEntryBatches(options)) yield* batch;
}

class QueryRun {
  readonly #options: QueryOptions;
  readonly #directory: string;
  readonly #namer: ArchiveNamer;
  readonly #livePath: string;
  readonly #matcher: LineMatcher;
  readonly #sinceMs: number;
  readonly #untilMs: number;
  readonly #skewMs: number;
  readonly #pollMs: number;
  readonly #signal: AbortSignal | undefined;
  #cursor: Buffer | undefined;

  constructor(options: QueryOptions) {
    if (options.reverse === true && options.follow === true) throw new QueryError('BAD_ARGUMENT', 'reverse cannot be combined with follow');
    if (options.last !== undefined && !(Number.isInteger(options.last) && options.last >= 0)) {
      throw new QueryError('BAD_ARGUMENT', `last must be a non-negative integer, got ${options.last}`);
    }
    this.#options = options;
    this.#directory = options.directory;
    this.#namer = new ArchiveNamer(options.fileName ?? 'current.log');
    this.#livePath = join(this.#directory, this.#namer.fileName);
    this.#matcher = new LineMatcher(options.filter);
    ({ sinceMs: this.#sinceMs, untilMs: this.#untilMs } = this.#matcher.timeRange);
    this.#skewMs = options.clockSkewMs ?? DEFAULT_SKEW_MS;
    this.#pollMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
    this.#signal = options.signal;
    this.#cursor = options.afterCursor === undefined ? undefined : Buffer.from(options.afterCursor);
  }

  async *batches(): AsyncGenerator<StoredEntry[]> {
    const listing = await checkDirectory(this.#directory, this.#namer);
    const { last, reverse, follow } = this.#options;
    if (reverse === true) {
      const { found, live } = await this.#newestFirst(last ?? Infinity);
      await live.state?.handle.close();
      if (found.length > 0) yield found;
      return;
    }
    if (last !== undefined && this.#cursor === undefined) {
      // The last N: read newest first until N are found (older archives are never opened), then
      // give them back oldest first, and follow from where the live file was read.
      const { found, live } = await this.#newestFirst(last);
      if (found.length > 0) yield found.reverse();
      if (follow === true) yield* this.#follow(live);
      else await live.state?.handle.close();
      return;
    }
    if (last !== undefined) {
      // After a cursor: only the last N of what follows it, in a ring of N entries.
      const ring: StoredEntry[] = [];
      const live = await this.#forward(listing, (batch) => {
        for (const e of batch) {
          if (last === 0) break;
          ring.push(new StoredEntry(Buffer.from(e.line), e.file));
          if (ring.length > last) ring.shift();
        }
      });
      if (ring.length > 0) yield ring;
      if (live !== undefined) yield* this.#follow(live);
      return;
    }
    const live = yield* this.#forwardGen(listing);
    if (live !== undefined) yield* this.#follow(live);
  }

  // --- forward ---------------------------------------------------------------------------

  async #forward(listing: DirectoryListing, sink: (batch: StoredEntry[]) => void): Promise<LiveState | undefined> {
    const gen = this.#forwardGen(listing);
    for (;;) {
      const step = await gen.next();
      if (step.done === true) return step.value;
      sink(step.value);
    }
  }

  async *#forwardGen(first: DirectoryListing): AsyncGenerator<StoredEntry[], LiveState | undefined> {
    let listing = first;
    let lastSeq = -Infinity;
    let lastTimeMs = -Infinity;
    for (;;) {
      for (const archive of listing.archives) {
        if (archive.seq <= lastSeq) continue;
        if (this.#aborted()) return undefined;
        const lowerMs = lastSeq === -Infinity ? -Infinity : lastTimeMs;
        if (!this.#inRange(lowerMs, archive.timeMs)) {
          lastSeq = archive.seq;
          lastTimeMs = archive.timeMs;
          continue;
        }
        yield* this.#readArchive(archive);
        lastSeq = archive.seq;
        lastTimeMs = archive.timeMs;
      }
      const opened = await this.#openLiveConsistently(lastSeq);
      if (opened === 'retry') {
        listing = await listStoredFiles(this.#directory, this.#namer);
        continue;
      }
      if (opened === undefined) {
        if (this.#options.follow !== true) {
          this.#checkCursorFound();
          return undefined;
        }
        await this.#sleep();
        if (this.#aborted()) return undefined;
        listing = await listStoredFiles(this.#directory, this.#namer);
        continue;
      }
      const state: LiveState = { handle: opened.handle, ino: opened.ino, position: 0, scan: this.#newScan(this.#namer.fileName), lastSeq };
      state.scan.cursor = this.#cursor;
      const lowerMs = lastSeq === -Infinity ? -Infinity : lastTimeMs;
      if (this.#options.follow !== true && !this.#inRange(lowerMs, Infinity)) {
        await state.handle.close();
        this.#checkCursorFound();
        return undefined;
      }
      yield* this.#readLive(state);
      this.#cursor = state.scan.cursor;
      if (this.#options.follow !== true) {
        state.scan.finish(true);
        this.#report(state.scan);
        await state.handle.close();
        this.#checkCursorFound();
        return undefined;
      }
      return state;
    }
  }

  #checkCursorFound(): void {
    if (this.#cursor !== undefined) {
      throw new QueryError('CURSOR_NOT_FOUND', `cursor ${this.#cursor.toString()} is not in ${this.#directory}`);
    }
  }

  /**
   * Opens the live file such that the archives listed up to `lastSeq` are exactly those rotated
   * before it: `'retry'` when a rotation got in between (read the new archives first).
   */
  async #openLiveConsistently(lastSeq: number): Promise<{ handle: FileHandle; ino: number } | 'retry' | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.#livePath, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        const listing = await listStoredFiles(this.#directory, this.#namer);
        return listing.archives.some((a) => a.seq > lastSeq) ? 'retry' : undefined;
      }
      throw error;
    }
    const { ino } = await handle.stat();
    const listing = await listStoredFiles(this.#directory, this.#namer);
    const now = await stat(this.#livePath).catch(() => undefined);
    if (now?.ino !== ino || listing.archives.some((a) => a.seq > lastSeq)) {
      await handle.close();
      return 'retry';
    }
    return { handle, ino };
  }

  /** Reads the live file from `state.position` to its current end. */
  async *#readLive(state: LiveState): AsyncGenerator<StoredEntry[]> {
    for await (const chunk of decompressedChunks(state.handle, 'none', () => undefined, state.position)) {
      state.position += chunk.length;
      const keep = chunk.subarray(Math.max(0, chunk.length - TAIL_BYTES));
      state.tail =
        keep.length === TAIL_BYTES || state.tail === undefined
          ? Buffer.from(keep)
          : Buffer.concat([state.tail, keep]).subarray(-TAIL_BYTES);
      const out: StoredEntry[] = [];
      state.scan.feed(chunk, out);
      if (out.length > 0) yield out;
      if (this.#aborted()) return;
    }
  }

  async *#readArchive(archive: ArchiveFile): AsyncGenerator<StoredEntry[]> {
    const opened = await this.#openArchive(archive);
    if (opened === undefined) return;
    const scan = this.#newScan(opened.name);
    scan.cursor = this.#cursor;
    try {
      for await (const chunk of decompressedChunks(opened.handle, opened.compression, (reason) => scan.damage(reason))) {
        if (chunk === EMPTY_BREAK) {
          scan.gap();
          continue;
        }
        const out: StoredEntry[] = [];
        scan.feed(chunk, out);
        if (out.length > 0) yield out;
        if (this.#aborted()) return;
      }
      scan.finish(false);
    } finally {
      await opened.handle.close();
    }
    this.#cursor = scan.cursor;
    this.#report(scan);
  }

  /**
   * Opens a rotated file by any of its names, plain first. The plain file of an archive being
   * compressed is removed once the compressed one is complete: on `ENOENT` the directory is
   * listed again and the compressed name is used. `undefined` when retention removed the file.
   */
  async #openArchive(archive: ArchiveFile): Promise<{ handle: FileHandle; name: string; compression: ArchiveCompression } | undefined> {
    let names = archive.names;
    for (let attempt = 0; attempt < 5; attempt++) {
      for (const { name, compression } of names) {
        try {
          return { handle: await open(join(this.#directory, name), 'r'), name, compression };
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
      const listing = await listStoredFiles(this.#directory, this.#namer);
      const again = listing.archives.find((a) => a.seq === archive.seq);
      if (again === undefined) return undefined;
      names = again.names;
    }
    return undefined;
  }

  // --- follow ----------------------------------------------------------------------------

  /**
   * Keeps reading the live file as it grows. When the name points to a new file (rotation,
   * logrotate + SIGHUP), the old one is read to its end first (it is still open, whatever its
   * name or compression now), then any archive rotated since, then the new live file.
   */
  async *#follow(start: LiveState | { state?: LiveState; lastSeq: number }): AsyncGenerator<StoredEntry[]> {
    let state: LiveState | undefined = 'handle' in start ? start : start.state;
    let lastSeq = start.lastSeq;
    try {
      for (;;) {
        if (this.#aborted()) return;
        if (state === undefined) {
          // No live file open: archives rotated since `lastSeq`, then the live file from its start.
          const listing = await listStoredFiles(this.#directory, this.#namer);
          for (const archive of listing.archives) {
            if (archive.seq <= lastSeq) continue;
            yield* this.#readArchive(archive);
            lastSeq = archive.seq;
          }
          const opened = await this.#openLiveConsistently(lastSeq);
          if (opened === 'retry') continue;
          if (opened === undefined) {
            await this.#sleep();
            continue;
          }
          state = { ...opened, position: 0, scan: this.#newScan(this.#namer.fileName), lastSeq };
        }
        yield* this.#readLive(state);
        if (this.#aborted()) return;
        await this.#sleep();
        if (this.#aborted()) return;
        const now = await stat(this.#livePath).catch(() => undefined);
        if (now !== undefined && now.ino === state.ino) {
          if (now.size < state.position) {
            // Truncated in place (copytruncate): start over at its beginning.
            state.position = 0;
            state.scan.reset();
          }
          continue;
        }
        if (now === undefined) continue; // renamed, not yet replaced: the writer still has it
        // A new live file: finish the old one (still open, whatever its name is now).
        yield* this.#readLive(state);
        state.scan.finish(false);
        this.#report(state.scan);
        await state.handle.close();
        const listing = await listStoredFiles(this.#directory, this.#namer);
        lastSeq = (await this.#archiveOf(state, listing, lastSeq)) ?? lastSeq;
        state = undefined;
      }
    } finally {
      await state?.handle.close().catch(() => undefined);
    }
  }

  /**
   * The sequence number the live file that was being read got when it was rotated: the archive
   * with its inode while still plain, or else the one whose decompressed end is the bytes last
   * read from it. `undefined` when it was renamed by something else (logrotate).
   */
  async #archiveOf(state: LiveState, listing: DirectoryListing, lastSeq: number): Promise<number | undefined> {
    const newer = listing.archives.filter((a) => a.seq > lastSeq);
    for (const archive of newer) {
      const plain = archive.names.find((n) => n.compression === 'none');
      if (plain === undefined) continue;
      const s = await stat(join(this.#directory, plain.name)).catch(() => undefined);
      if (s?.ino === state.ino) return archive.seq;
    }
    const tail = state.tail;
    if (tail === undefined || tail.length === 0) return undefined;
    for (const archive of newer.slice(0, 4)) {
      for (const { name, compression } of archive.names) {
        const end: Buffer | undefined = await readArchiveTail(join(this.#directory, name), compression, tail.length).catch(() => undefined);
        if (end === undefined) continue;
        if (end.equals(tail)) return archive.seq;
        break;
      }
    }
    return undefined;
  }

  // --- newest first ----------------------------------------------------------------------

  /**
   * Collects up to `limit` matching entries newest first: the live file (up to its size when
   * opened), then archives newest first, each read forward into a {@link ReverseSpill}. Returns
   * them with the open live file, positioned after the last whole line read, for `follow`.
   */
  async #newestFirst(limit: number): Promise<{ found: StoredEntry[]; live: { state?: LiveState; lastSeq: number } }> {
    let opened: { handle: FileHandle; ino: number } | undefined;
    let listing: DirectoryListing;
    for (;;) {
      listing = await listStoredFiles(this.#directory, this.#namer);
      const o = await this.#openLiveConsistently(listing.archives.at(-1)?.seq ?? -Infinity);
      if (o === 'retry') continue;
      opened = o;
      break;
    }
    const archives = listing.archives;
    const lastSeq = archives.at(-1)?.seq ?? -Infinity;
    const liveSize = opened === undefined ? 0 : (await opened.handle.stat()).size;
    const found: StoredEntry[] = [];
    let state: LiveState | undefined;
    let cursorMet = false;
    const files: { archive?: ArchiveFile; lowerMs: number; upperMs: number }[] = [];
    if (opened !== undefined) files.push({ lowerMs: archives.at(-1)?.timeMs ?? -Infinity, upperMs: Infinity });
    for (let i = archives.length - 1; i >= 0; i--) {
      const archive = archives[i] as ArchiveFile;
      files.push({ archive, lowerMs: archives[i - 1]?.timeMs ?? -Infinity, upperMs: archive.timeMs });
    }
    const tempParent = this.#options.tempDirectory ?? tmpdir();
    try {
      for (const file of files) {
        if (found.length >= limit || cursorMet || this.#aborted()) break;
        if (!this.#inRange(file.lowerMs, file.upperMs)) {
          // Newest first: once a file is too old, so are all before it.
          if (file.upperMs + this.#skewMs < this.#sinceMs) break;
          continue;
        }
        let source: { handle: FileHandle; name: string; compression: ArchiveCompression; stopAt: number };
        if (file.archive === undefined) {
          const handle = (opened as { handle: FileHandle }).handle;
          source = { handle, name: this.#namer.fileName, compression: 'none', stopAt: liveSize };
        } else {
          const a = await this.#openArchive(file.archive);
          if (a === undefined) continue;
          source = { ...a, stopAt: Infinity };
        }
        const scan = this.#newScan(source.name);
        const spill = new ReverseSpill(source.name, tempParent);
        try {
          let clearing: Promise<void> | undefined;
          if (this.#cursor !== undefined) {
            scan.cursor = this.#cursor;
            scan.onCursor = (out) => {
              // What came before the cursor is not wanted: neither this chunk's nor earlier ones.
              cursorMet = true;
              out.length = 0;
              clearing = spill.clear();
            };
          }
          let read = 0;
          for await (let chunk of decompressedChunks(source.handle, source.compression, (r) => scan.damage(r))) {
            if (chunk === EMPTY_BREAK) {
              scan.gap();
              continue;
            }
            if (read + chunk.length > source.stopAt) chunk = chunk.subarray(0, source.stopAt - read);
            read += chunk.length;
            const out: StoredEntry[] = [];
            scan.feed(chunk, out);
            if (clearing !== undefined) await clearing;
            clearing = undefined;
            await spill.push(out);
            if (read >= source.stopAt) break;
          }
          if (file.archive === undefined) {
            state = {
              handle: source.handle,
              ino: (opened as { ino: number }).ino,
              position: read - scan.carryBytes,
              scan: this.#newScan(source.name),
              lastSeq,
            };
            scan.finish(true);
          } else {
            scan.finish(false);
          }
          this.#report(scan);
          for await (const batch of spill.newestFirst()) {
            for (const e of batch) {
              if (found.length >= limit) break;
              found.push(e);
            }
            if (found.length >= limit) break;
          }
        } finally {
          await spill.dispose();
          if (file.archive !== undefined) await source.handle.close();
        }
      }
      if (this.#cursor !== undefined && !cursorMet) {
        throw new QueryError('CURSOR_NOT_FOUND', `cursor ${this.#cursor.toString()} is not in ${this.#directory}`);
      }
    } catch (error) {
      await opened?.handle.close();
      throw error;
    }
    if (opened !== undefined && state === undefined) {
      state = { ...opened, position: liveSize, scan: this.#newScan(this.#namer.fileName), lastSeq };
    }
    return { found, live: { state, lastSeq } };
  }

  // --- helpers ---------------------------------------------------------------------------

  #newScan(name: string): FileScan {
    return new FileScan(name, this.#matcher);
  }

  /** Whether a file holding entries stored in (lowerMs, upperMs] may match the time filter. */
  #inRange(lowerMs: number, upperMs: number): boolean {
    if (this.#cursor !== undefined) return true;
    return !(this.#untilMs < lowerMs - this.#skewMs || this.#sinceMs > upperMs + this.#skewMs);
  }

  #report(scan: FileScan, path = join(this.#directory, scan.file)): void {
    if (scan.damagedLines === 0 && scan.reasons.length === 0) return;
    const reasons = [...scan.reasons];
    if (scan.damagedLines > 0) reasons.push(`${scan.damagedLines} damaged line${scan.damagedLines === 1 ? '' : 's'} left out`);
    this.#options.onWarning?.({ file: path, reason: reasons.join('; '), skippedLines: scan.damagedLines });
  }

  #aborted(): boolean {
    return this.#signal?.aborted === true;
  }

  async #sleep(): Promise<void> {
    await sleep(this.#pollMs, undefined, { signal: this.#signal }).catch(() => undefined);
  }
}

// Owns the rotated files in the background: listing them (symbolic links left out, reported
// once), removing stale temporaries and uncompressed files whose archive is complete, retention
// (`keepFiles`), compressing them one at a time, and retrying a failed pass with backoff.
import { readdir, rename, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Backoff } from '@logstream/protocol';
import type { ArchiveCompression, ArchiveName, ArchiveNamer } from './archive-names';
import { compressFile } from './compress-file';
import type { RotatorOperation } from './rotator-error';

/** Counters the maintenance adds to (the writer's stats). */
export interface MaintenanceCounters {
  compressions: number;
  compression_ms_total: number;
  compressed_bytes_in: number;
  compressed_bytes_out: number;
  files_deleted: number;
}

/** What an {@link ArchiveMaintenance} works on and reports to. */
export interface MaintenanceOptions {
  directory: string;
  namer: ArchiveNamer;
  fileMode: number;
  compression: ArchiveCompression;
  chunkBytes: number;
  /** Apply retention at all (rotation enabled). */
  retention: boolean;
  keepFiles: number;
  /** The archive the live file already carries the name of: never compressed nor deleted. */
  liveArchive: () => string | undefined;
  counters: MaintenanceCounters;
  /** A failure (counted by the caller); the step is retried. */
  report: (operation: RotatorOperation, path: string, cause: unknown) => void;
  /** A rotated file was compressed. */
  onCompressed: (event: { path: string; source: string; bytesIn: number; bytesOut: number; ms: number }) => void;
}

/** Runs passes over the rotated files, one at a time, until nothing is left to do. */
export class ArchiveMaintenance {
  readonly #o: MaintenanceOptions;
  readonly #abort = new AbortController();
  readonly #backoff = new Backoff();
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  // Symbolic links under archive names already reported, so each is reported once.
  readonly #linksReported = new Set<string>();

  constructor(options: MaintenanceOptions) {
    this.#o = options;
  }

  /** Starts a pass, or asks the one running for another when it ends. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#pass();
      } while (this.#again && !this.#stopped);
    })()
      .catch((error: unknown) => this.#o.report('scan', this.#o.directory, error))
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** Resolves once no pass is running (a failed one may be waiting to retry). */
  async whenIdle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /**
   * Stops for good: no new pass, no retry; a compression under way is abandoned (its temporary
   * removed), so the rotated file stays uncompressed for the next run.
   */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
  }

  /**
   * Our rotated files grouped by sequence number, oldest first. A symbolic link under an
   * archive's name is left out (reported once): it is never read, compressed or deleted, so its
   * target is never touched. A temporary's name is kept whatever it is: only unlink, which never
   * follows a link, is done to temporaries found.
   */
  async scan(): Promise<ArchiveName[][]> {
    const { directory, namer } = this.#o;
    const bySeq = new Map<number, ArchiveName[]>();
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const name = entry.name;
      const archive = namer.parse(name);
      if (archive === undefined) continue;
      if (entry.isSymbolicLink() && !archive.temporary) {
        if (!this.#linksReported.has(name)) {
          this.#linksReported.add(name);
          this.#o.report('scan', join(directory, name), new Error('a symbolic link under an archive name; left alone'));
        }
        continue;
      }
      const group = bySeq.get(archive.seq);
      if (group === undefined) bySeq.set(archive.seq, [archive]);
      else group.push(archive);
    }
    return [...bySeq.entries()].sort((a, b) => a[0] - b[0]).map(([, group]) => group);
  }

  #retryLater(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.kick(), this.#backoff.next());
    this.#timer.unref();
  }

  /**
   * One pass over the rotated files, computed from the directory each time (so the same code
   * finishes the work of a crashed run): remove stale temporaries and uncompressed files whose
   * archive is complete, apply retention, then compress the oldest uncompressed file, and again.
   */
  async #pass(): Promise<void> {
    const { directory, namer, counters } = this.#o;
    const failedDeletes = new Set<string>();
    let failed = false;
    const remove = async (name: string): Promise<void> => {
      if (failedDeletes.has(name)) return;
      try {
        await unlink(join(directory, name));
        counters.files_deleted += 1;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        failedDeletes.add(name);
        failed = true;
        this.#o.report('delete', join(directory, name), error);
      }
    };
    while (!this.#stopped) {
      const groups = await this.scan();
      const kept: ArchiveName[][] = [];
      for (const group of groups) {
        const temporaries = group.filter((a) => a.temporary);
        const whole = group.filter((a) => !a.temporary);
        // Only this loop writes temporaries, one at a time, so any seen here are stale.
        for (const a of temporaries) await remove(a.name);
        const plain = whole.find((a) => a.compression === 'none');
        if (plain !== undefined && whole.length > 1) {
          // Compressed archives are renamed into place only when complete: this one is whole.
          await remove(plain.name);
          kept.push(whole.filter((a) => a !== plain));
        } else if (whole.length > 0) {
          kept.push(whole);
        }
      }
      const liveArchive = this.#o.liveArchive();
      const live = liveArchive === undefined ? undefined : namer.parse(basename(liveArchive));
      const candidates = kept.filter((g) => g[0]?.seq !== live?.seq);
      if (this.#o.retention && candidates.length > this.#o.keepFiles) {
        const excess = candidates.splice(0, candidates.length - this.#o.keepFiles);
        for (const group of excess) for (const a of group) await remove(a.name);
      }
      if (this.#o.compression === 'none') break;
      const todo = candidates.find((g) => g.length === 1 && g[0]?.compression === 'none')?.[0];
      if (todo === undefined) break;
      if (!(await this.#compress(todo))) {
        failed = true;
        break;
      }
    }
    if (failed) this.#retryLater();
    else this.#backoff.reset();
  }

  async #compress(archive: ArchiveName): Promise<boolean> {
    const { directory, namer, counters } = this.#o;
    const algorithm = this.#o.compression === 'gzip' ? 'gzip' : 'lz4';
    const source = join(directory, archive.name);
    const target = join(directory, namer.compressedName(archive.name, algorithm));
    const temporary = namer.temporaryName(target);
    const started = performance.now();
    let result;
    try {
      result = await compressFile(source, temporary, algorithm, {
        fileMode: this.#o.fileMode,
        chunkBytes: this.#o.chunkBytes,
        signal: this.#abort.signal,
      });
      await rename(temporary, target);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      if (this.#stopped) return true;
      this.#o.report('compress', source, error);
      return false;
    }
    const ms = performance.now() - started;
    counters.compressions += 1;
    counters.compression_ms_total += ms;
    counters.compressed_bytes_in += result.bytesIn;
    counters.compressed_bytes_out += result.bytesOut;
    // The archive is complete; if this fails, the pass that follows deletes (and reports) again.
    await unlink(source).catch(() => undefined);
    this.#o.onCompressed({ path: target, source, bytesIn: result.bytesIn, bytesOut: result.bytesOut, ms });
    return true;
  }
}

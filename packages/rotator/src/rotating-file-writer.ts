import { EventEmitter } from 'node:events';
import { writeSync } from 'node:fs';
import { lstat, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ArchiveNamer, type ArchiveCompression, type ArchiveName } from './archive-names';
import { compressFile } from './compress-file';
import { RotatorError, type RotatorOperation } from './rotator-error';
import { APPEND_FLAGS, CREATE_FLAGS, DIRECTORY_FLAGS, openRegularFile, secureDirectory } from './safe-files';

/** When a write is made durable. */
export type SyncPolicy = 'none' | 'batch' | 'always';

/** Compression of rotated files. */
export type Compression = ArchiveCompression;

/** Rotation and retention (spec `[storage.rotation]`). */
export interface RotationOptions {
  /** Rotate at all (by size and by age). Default `true`. */
  enabled?: boolean;
  /**
   * Rotate the live file once it is this old (hours; fractions allowed). An empty live file is
   * not rotated. `0` or `Infinity` turns age rotation off. Default `24`.
   */
  maxAgeHours?: number;
  /** Rotated files to keep (compressed or not); older ones are deleted. Default `7`. */
  keepFiles?: number;
}

/** Options of {@link RotatingFileWriter}. */
export interface RotatingFileWriterOptions {
  /** Directory of the live file and its rotated siblings; created when missing. */
  directory: string;
  /** Name of the live file. Default `current.log`. */
  fileName?: string;
  /** Mode of files this writer creates. Default `0o640`. */
  fileMode?: number;
  /**
   * `none`: a resolved write is in the page cache; `batch` and `always`: it is fsynced before the
   * write resolves (the writer gets one buffer per batch, so the two are the same here); the
   * directory is also fsynced after each rotation. Default `none`.
   */
  sync?: SyncPolicy;
  /**
   * Rotate before a write that would take the live file past this many bytes (spec
   * `storage.max_file_size`). A write is never split: one larger than this goes alone into a
   * fresh file. Default `104857600` (100 MiB).
   */
  maxFileBytes?: number;
  /** Rotation and retention. */
  rotation?: RotationOptions;
  /** Compression of rotated files, in the background. Default `none`. */
  compression?: Compression;
  /** Bytes read per step when compressing (lz4 frames hold 64 KiB of input each). Default 4 MiB. */
  compressionChunkBytes?: number;
  /**
   * Appends go straight from the event loop (`writeSync`: a page-cache write of a batch takes
   * microseconds, and skipping the thread pool's round trip shortens every acknowledgement) as
   * long as each takes at most this many milliseconds; after a slower one (a disk under writeback
   * pressure, a network file system) they go through the thread pool for 10 s, so a slow disk
   * never holds the event loop for long. 0: always through the thread pool. Default 20.
   */
  directWriteBudgetMs?: number;
}

/** How long appends go through the thread pool after a direct write was slow. */
const POOL_WRITES_AFTER_SLOW_MS = 10_000;

/** Counters of a {@link RotatingFileWriter} since it was created; read them at scrape time. */
export interface RotatingFileWriterStats {
  /** Bytes appended to live files. */
  bytes_written: number;
  /** Writes that resolved. */
  writes: number;
  /** Writes that rejected (the file was cut back; nothing partial stays). */
  write_errors: number;
  /** Direct writes that took longer than `directWriteBudgetMs` (each sends writes to the thread pool for 10 s). */
  slow_writes: number;
  /** Rotations done. */
  rotations: number;
  /** Rotations (or directory scans) that failed; they are retried. */
  rotation_errors: number;
  /** Rotated files compressed. */
  compressions: number;
  /** Compressions that failed; they are retried. */
  compression_errors: number;
  /** Time spent compressing, in milliseconds. */
  compression_ms_total: number;
  /** Uncompressed bytes of the files compressed. */
  compressed_bytes_in: number;
  /** Compressed bytes written. */
  compressed_bytes_out: number;
  /** Rotated files deleted by retention (and leftovers removed). */
  files_deleted: number;
  /** Deletes that failed; they are retried. */
  delete_errors: number;
  /** Current size of the live file. */
  live_file_bytes: number;
}

/** Payload of `'rotate'`: the live file `from` was renamed to `to`. */
export interface RotateEvent {
  from: string;
  to: string;
}

/** Payload of `'compressed'`: `source` became `path`. */
export interface CompressedEvent {
  path: string;
  source: string;
  bytesIn: number;
  bytesOut: number;
  ms: number;
}

/** Events of {@link RotatingFileWriter}. */
export interface RotatingFileWriterEvents {
  rotate: [RotateEvent];
  compressed: [CompressedEvent];
  error: [RotatorError];
}

/** Default of {@link RotatingFileWriterOptions.maxFileBytes}: 100 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 104_857_600;
/** Default of {@link RotationOptions.maxAgeHours}. */
export const DEFAULT_MAX_AGE_HOURS = 24;
/** Default of {@link RotationOptions.keepFiles}. */
export const DEFAULT_KEEP_FILES = 7;
/** Default of {@link RotatingFileWriterOptions.sync}. */
export const DEFAULT_SYNC_POLICY: SyncPolicy = 'none';
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;
// setTimeout fires at once for delays above 2^31-1 ms; longer ages are re-checked when it fires.
const MAX_TIMER_MS = 2 ** 31 - 1;
const NEWLINE = Buffer.from('\n');
const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'lz4'];

/**
 * Appends whole-line buffers to `<directory>/<fileName>`, rotates it by size and age, compresses
 * rotated files in the background and keeps the newest `keepFiles` of them.
 *
 * Writes, reopen, rotation and close run one at a time, in call order. Compression and
 * retention run beside them and never hold a write up. Background failures never stop writes:
 * they are counted in {@link stats}, emitted as `'error'` (a {@link RotatorError}; only when a
 * listener is attached, so a missing listener cannot crash the process) and retried with
 * backoff (100 ms, ×2, at most 5 s).
 *
 * Events: `'rotate'` ({@link RotateEvent}), `'compressed'` ({@link CompressedEvent}), `'error'`.
 */
export class RotatingFileWriter extends EventEmitter<RotatingFileWriterEvents> {
  readonly directory: string;
  readonly fileName: string;
  readonly path: string;
  readonly #fileMode: number;
  readonly #sync: SyncPolicy;
  readonly #maxFileBytes: number;
  readonly #rotationEnabled: boolean;
  readonly #maxAgeMs: number;
  readonly #keepFiles: number;
  readonly #compression: Compression;
  readonly #chunkBytes: number;
  readonly #directWriteBudgetMs: number;
  // Until when appends go through the thread pool (after a slow direct write).
  #poolWritesUntil = 0;
  // When the event loop last turned after a direct write (see #letLoopTurn).
  #turnSeenAt = 0;
  #turnProbe = false;
  readonly #namer: ArchiveNamer;
  readonly #abort = new AbortController();
  readonly #stats: RotatingFileWriterStats = {
    bytes_written: 0,
    writes: 0,
    write_errors: 0,
    slow_writes: 0,
    rotations: 0,
    rotation_errors: 0,
    compressions: 0,
    compression_errors: 0,
    compression_ms_total: 0,
    compressed_bytes_in: 0,
    compressed_bytes_out: 0,
    files_deleted: 0,
    delete_errors: 0,
    live_file_bytes: 0,
  };
  #handle: FileHandle | undefined;
  #size = 0;
  // The previous write failed and could not be cut back: the file may end in a partial line.
  #torn = false;
  #liveSinceMs = 0;
  // Set when the live file was renamed to its archive name but no new live file could be put in
  // its place: writes go on into it, and it is neither compressed nor deleted until replaced.
  #liveArchive: string | undefined;
  #lastSeq = 0;
  #lastTimeMs = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #ageTimer: NodeJS.Timeout | undefined;
  #rotationRetryAtMs = 0;
  #rotationBackoffMs = RETRY_FIRST_MS;
  #maintenance: Promise<void> | undefined;
  #maintainAgain = false;
  #maintenanceTimer: NodeJS.Timeout | undefined;
  #maintenanceBackoffMs = RETRY_FIRST_MS;
  // Symbolic links under archive names already reported, so each is reported once.
  readonly #linksReported = new Set<string>();

  /** @throws RangeError for an option out of range. */
  constructor(options: RotatingFileWriterOptions) {
    super();
    this.directory = options.directory;
    this.fileName = options.fileName ?? 'current.log';
    this.path = join(this.directory, this.fileName);
    this.#fileMode = options.fileMode ?? 0o640;
    this.#sync = options.sync ?? DEFAULT_SYNC_POLICY;
    this.#maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.#rotationEnabled = options.rotation?.enabled ?? true;
    const maxAgeHours = options.rotation?.maxAgeHours ?? DEFAULT_MAX_AGE_HOURS;
    this.#maxAgeMs = maxAgeHours * 3_600_000;
    this.#keepFiles = options.rotation?.keepFiles ?? DEFAULT_KEEP_FILES;
    this.#compression = options.compression ?? 'none';
    this.#chunkBytes = options.compressionChunkBytes ?? 4 * 1024 * 1024;
    this.#directWriteBudgetMs = options.directWriteBudgetMs ?? 20;
    this.#namer = new ArchiveNamer(this.fileName);

    if (!(this.#maxFileBytes > 0)) {
      throw new RangeError(`maxFileBytes must be a positive number, got ${this.#maxFileBytes}`);
    }
    if (!(this.#directWriteBudgetMs >= 0)) {
      throw new RangeError(`directWriteBudgetMs must be 0 or more, got ${this.#directWriteBudgetMs}`);
    }
    if (!(maxAgeHours >= 0)) {
      throw new RangeError(`rotation.maxAgeHours must be 0 or more, got ${maxAgeHours}`);
    }
    if (!Number.isInteger(this.#keepFiles) || this.#keepFiles < 0) {
      throw new RangeError(`rotation.keepFiles must be an integer 0 or more, got ${this.#keepFiles}`);
    }
    if (!COMPRESSIONS.includes(this.#compression)) {
      throw new RangeError(`compression must be 'none', 'gzip' or 'lz4', got ${String(this.#compression)}`);
    }
    if (!Number.isInteger(this.#chunkBytes) || this.#chunkBytes < 1024) {
      throw new RangeError(`compressionChunkBytes must be an integer of 1024 or more, got ${this.#chunkBytes}`);
    }
    if (this.fileName.includes('/') || this.fileName.startsWith('.')) {
      throw new RangeError(`fileName must be a plain, non-hidden file name, got ${this.fileName}`);
    }
  }

  /** Size of the live file in bytes, as this writer knows it. */
  get size(): number {
    return this.#size;
  }

  /** A copy of the counters. */
  stats(): RotatingFileWriterStats {
    return { ...this.#stats, live_file_bytes: this.#size };
  }

  /**
   * Creates the directory and opens the live file for appending. Recovers the naming sequence
   * from the rotated files present, removes leftovers of an interrupted rotation, and starts
   * the unfinished background work (compression, retention) of an earlier run.
   *
   * Refuses (see {@link secureDirectory}) a directory that is a symbolic link or that a user
   * other than root and this process's own may write to, and a live file that is a symbolic
   * link, not a regular file, or another user's: no file is opened through a link.
   *
   * @throws RotatorError (operation `open`) for a refused directory or live file; the fs error
   *   when the directory or the live file cannot be made or opened.
   */
  async open(): Promise<void> {
    await secureDirectory(this.directory);
    const names = await readdir(this.directory);
    for (const name of names) {
      const archive = this.#namer.parse(name);
      if (archive === undefined) continue;
      this.#lastSeq = Math.max(this.#lastSeq, archive.seq);
      this.#lastTimeMs = Math.max(this.#lastTimeMs, archive.timeMs);
    }
    if (names.includes(this.#namer.nextLiveName)) {
      // An interrupted rotation: its new live file never took the live name, so it is empty.
      await unlink(join(this.directory, this.#namer.nextLiveName));
    }
    await this.#openFile();
    this.#armAgeTimer();
    this.#kickMaintenance();
  }

  /**
   * Appends `data` (whole lines), rotating first when the rotation policy asks for it. Resolves
   * when written (and fsynced under `sync` other than `none`). On failure the file is cut back
   * to where it was, so a retried write leaves no partial line, and the promise rejects with the
   * fs error (`ENOSPC`, …).
   */
  write(data: Buffer): Promise<void> {
    return this.#serial(() => this.#write(data));
  }

  /**
   * Opens the live file again by name, after it was renamed from outside (logrotate, SIGHUP).
   * Writes after this land in the new file; the old one is closed. If the open fails the writer
   * keeps the file it had and the promise rejects.
   */
  reopen(): Promise<void> {
    return this.#serial(async () => {
      const old = this.#handle;
      this.#handle = undefined;
      try {
        await this.#openFile();
      } catch (error) {
        this.#handle = old;
        throw error;
      }
      this.#armAgeTimer();
      await old?.close();
    });
  }

  /** Resolves once every write issued before it has finished and is fsynced. */
  flush(): Promise<void> {
    return this.#serial(async () => {
      await this.#handle?.datasync();
    });
  }

  /**
   * Resolves once the writes issued before it have finished and background work (compression,
   * retention) has nothing left to do, or is waiting to retry a failure.
   */
  async whenIdle(): Promise<void> {
    await this.#tail;
    while (this.#maintenance !== undefined) await this.#maintenance;
  }

  /**
   * The newest rotated file in the directory (highest sequence number), or `undefined` when
   * there is none. When both its uncompressed and its compressed form are present (a compression
   * just finished), the compressed one: it appears under its final name only once complete,
   * while the uncompressed one is about to be deleted. The uncompressed file returned may still
   * vanish before it is read (its compression finished meanwhile); ask again then.
   *
   * @throws the fs error when the directory cannot be listed.
   */
  async newestArchive(): Promise<(ArchiveName & { path: string }) | undefined> {
    const groups = await this.#scanArchives();
    for (let i = groups.length - 1; i >= 0; i--) {
      const whole = (groups[i] as ArchiveName[]).filter((a) => !a.temporary);
      const newest = whole.find((a) => a.compression !== 'none') ?? whole[0];
      if (newest !== undefined) return { ...newest, path: join(this.directory, newest.name) };
    }
    return undefined;
  }

  /**
   * Finishes pending writes and closes the live file; idempotent. A compression under way is
   * abandoned (its temporary file removed): the rotated file stays uncompressed and the next
   * `open()` compresses it, so shutdown never waits for a large file.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    clearTimeout(this.#ageTimer);
    clearTimeout(this.#maintenanceTimer);
    this.#abort.abort();
    this.#closing = (async () => {
      await this.#serial(async () => {
        const handle = this.#handle;
        this.#handle = undefined;
        await handle?.close();
      });
      await this.whenIdle();
    })();
    return this.#closing;
  }

  async #openFile(): Promise<void> {
    const handle = await openRegularFile(this.path, APPEND_FLAGS, this.#fileMode);
    this.#handle = handle;
    const st = await handle.stat();
    this.#size = st.size;
    this.#torn = false;
    // The live file's age counts from its creation; without a birth time (some file systems),
    // from the last rotation, which is when our live files are created.
    const now = Date.now();
    this.#liveSinceMs = st.size === 0 ? now : st.birthtimeMs > 0 ? st.birthtimeMs : this.#lastTimeMs > 0 ? this.#lastTimeMs : now;
  }

  async #write(data: Buffer): Promise<void> {
    if (this.#handle === undefined) {
      if (this.#closed) throw new Error(`write after close: ${this.path}`);
      await this.#openFile();
    }
    if (this.#rotationEnabled && this.#size > 0 && this.#size + data.length > this.#maxFileBytes) {
      await this.#tryRotate();
    }
    const handle = this.#handle as FileHandle;
    if (this.#torn) data = Buffer.concat([NEWLINE, data]);
    const before = this.#size;
    let done = 0;
    try {
      while (done < data.length) {
        if (this.#directWriteBudgetMs > 0 && Date.now() >= this.#poolWritesUntil) {
          const turn = this.#letLoopTurn();
          if (turn !== undefined) await turn;
          const started = performance.now();
          done += writeSync(handle.fd, data, done, data.length - done);
          if (performance.now() - started > this.#directWriteBudgetMs) {
            this.#stats.slow_writes += 1;
            this.#poolWritesUntil = Date.now() + POOL_WRITES_AFTER_SLOW_MS;
          }
        } else {
          const { bytesWritten } = await handle.write(data, done, data.length - done);
          done += bytesWritten;
        }
      }
      if (this.#sync !== 'none') await handle.datasync();
    } catch (error) {
      this.#stats.write_errors += 1;
      if (done > 0) {
        try {
          await handle.truncate(before);
        } catch {
          // Cannot cut back: end the partial line before the next write so that only it is lost.
          this.#size = before + done;
          this.#torn = true;
        }
      }
      throw error;
    }
    this.#torn = false;
    this.#size = before + done;
    this.#stats.bytes_written += done;
    this.#stats.writes += 1;
  }

  /**
   * A direct write never waits for the event loop, so a caller writing in a loop would starve
   * it (timers, background compression). Each direct write arms a probe for the next turn; when
   * none came for 5 ms, this returns a promise that resolves after one turn, to await before
   * writing; otherwise `undefined`, so the usual write pays for no promise. A server, whose
   * writes come from the event loop, never waits here.
   */
  #letLoopTurn(): Promise<void> | undefined {
    const now = performance.now();
    if (now - this.#turnSeenAt > 5 && this.#turnSeenAt > 0) {
      return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.#turnSeenAt = performance.now();
        this.#armTurnProbe();
      });
    }
    if (this.#turnSeenAt === 0) this.#turnSeenAt = now;
    this.#armTurnProbe();
    return undefined;
  }

  #armTurnProbe(): void {
    if (this.#turnProbe) return;
    this.#turnProbe = true;
    setImmediate(() => {
      this.#turnProbe = false;
      this.#turnSeenAt = performance.now();
    });
  }

  /** Rotates unless a recent failure asks to wait; a failure is reported, never thrown. */
  async #tryRotate(): Promise<void> {
    if (Date.now() < this.#rotationRetryAtMs) return;
    try {
      await this.#rotate();
      this.#rotationBackoffMs = RETRY_FIRST_MS;
      this.#rotationRetryAtMs = 0;
    } catch (error) {
      this.#rotationRetryAtMs = Date.now() + this.#rotationBackoffMs;
      this.#rotationBackoffMs = Math.min(this.#rotationBackoffMs * 2, RETRY_MAX_MS);
      this.#report('rotate', this.path, error);
      this.#armAgeTimer();
    }
  }

  // The new live file is created first, under a hidden name, because creating is what fails
  // (ENOSPC, EDQUOT, EROFS, EMFILE); the two renames that follow need no space. A failure before
  // the second rename leaves the directory as it was. It is opened for appending like every live
  // file: a failed write is cut back with ftruncate, which does not move the file offset, so
  // without O_APPEND the next write would land past the cut, leaving a hole of NUL bytes and a
  // size this writer does not know (a later cut would then fall inside acknowledged lines).
  async #rotate(): Promise<void> {
    const nextPath = join(this.directory, this.#namer.nextLiveName);
    const next = await this.#createNext(nextPath);
    let archivePath = this.#liveArchive;
    let vanished = false;
    try {
      if (archivePath === undefined) {
        archivePath = join(this.directory, await this.#nextArchiveName());
        try {
          await rename(this.path, archivePath);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          vanished = true;
        }
      }
      try {
        await rename(nextPath, this.path);
      } catch (error) {
        if (!vanished) {
          try {
            await rename(archivePath, this.path);
          } catch {
            this.#liveArchive = archivePath;
          }
        }
        throw error;
      }
    } catch (error) {
      await next.close().catch(() => undefined);
      await unlink(nextPath).catch(() => undefined);
      throw error;
    }
    const old = this.#handle;
    this.#handle = next;
    this.#size = 0;
    this.#torn = false;
    this.#liveSinceMs = Date.now();
    this.#liveArchive = undefined;
    try {
      await old?.close();
      if (this.#sync !== 'none') await this.#syncDirectory();
    } catch (error) {
      this.#report('rotate', archivePath, error);
    }
    this.#armAgeTimer();
    if (vanished) {
      // Someone removed the live file: what was written to it since is gone with it.
      this.#report('rotate', this.path, new Error('live file was removed from outside; created a new one'));
      return;
    }
    this.#stats.rotations += 1;
    this.#kickMaintenance();
    this.emit('rotate', { from: this.path, to: archivePath });
  }

  /**
   * Creates the new live file, exclusively and without following a link. A name left over (a
   * failed clean-up, or a link someone planted) is removed first: unlink removes a link, never
   * its target.
   */
  async #createNext(nextPath: string): Promise<FileHandle> {
    try {
      return await open(nextPath, CREATE_FLAGS, this.#fileMode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    await unlink(nextPath);
    return open(nextPath, CREATE_FLAGS, this.#fileMode);
  }

  async #nextArchiveName(): Promise<string> {
    // Never let the time in names go backwards (clock steps), so that names sort by rotation.
    const timeMs = Math.max(Date.now(), this.#lastTimeMs);
    for (;;) {
      this.#lastSeq += 1;
      const name = this.#namer.format(timeMs, this.#lastSeq);
      // A sequence is recovered at open() and only grows, but another process may share the
      // directory: never let a rename replace a file.
      const taken = await Promise.all(
        COMPRESSIONS.map((compression) => exists(join(this.directory, this.#namer.compressedName(name, compression)))),
      );
      if (!taken.includes(true)) {
        this.#lastTimeMs = timeMs;
        return name;
      }
    }
  }

  async #syncDirectory(): Promise<void> {
    const dir = await open(this.directory, DIRECTORY_FLAGS);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  #armAgeTimer(): void {
    clearTimeout(this.#ageTimer);
    this.#ageTimer = undefined;
    if (this.#closed || !this.#rotationEnabled || !(this.#maxAgeMs > 0) || this.#maxAgeMs === Infinity) return;
    const now = Date.now();
    const due = Math.max(this.#liveSinceMs + this.#maxAgeMs, this.#rotationRetryAtMs);
    const delay = Math.min(Math.max(0, due - now), MAX_TIMER_MS);
    this.#ageTimer = setTimeout(() => this.#onAgeTimer(), delay);
    this.#ageTimer.unref();
  }

  #onAgeTimer(): void {
    this.#ageTimer = undefined;
    void this.#serial(async () => {
      if (this.#closed || this.#handle === undefined) return;
      if (Date.now() - this.#liveSinceMs >= this.#maxAgeMs) {
        if (this.#size > 0) await this.#tryRotate();
        else this.#liveSinceMs = Date.now();
      }
      this.#armAgeTimer();
    }).catch((error: unknown) => this.#report('rotate', this.path, error));
  }

  #kickMaintenance(): void {
    if (this.#closed) return;
    if (this.#maintenance !== undefined) {
      this.#maintainAgain = true;
      return;
    }
    clearTimeout(this.#maintenanceTimer);
    this.#maintenanceTimer = undefined;
    this.#maintenance = (async () => {
      do {
        this.#maintainAgain = false;
        await this.#maintain();
      } while (this.#maintainAgain && !this.#closed);
    })()
      .catch((error: unknown) => this.#report('scan', this.directory, error))
      .finally(() => {
        this.#maintenance = undefined;
      });
  }

  #retryMaintenanceLater(): void {
    if (this.#closed) return;
    clearTimeout(this.#maintenanceTimer);
    this.#maintenanceTimer = setTimeout(() => this.#kickMaintenance(), this.#maintenanceBackoffMs);
    this.#maintenanceTimer.unref();
    this.#maintenanceBackoffMs = Math.min(this.#maintenanceBackoffMs * 2, RETRY_MAX_MS);
  }

  /**
   * One pass over the rotated files, computed from the directory each time (so the same code
   * finishes the work of a crashed run): remove stale temporaries and uncompressed files whose
   * archive is complete, apply retention, then compress the oldest uncompressed file, and again.
   */
  async #maintain(): Promise<void> {
    const failedDeletes = new Set<string>();
    let failed = false;
    const remove = async (name: string): Promise<void> => {
      if (failedDeletes.has(name)) return;
      try {
        await unlink(join(this.directory, name));
        this.#stats.files_deleted += 1;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        failedDeletes.add(name);
        failed = true;
        this.#report('delete', join(this.directory, name), error);
      }
    };
    while (!this.#closed) {
      const groups = await this.#scanArchives();
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
      const live = this.#liveArchive === undefined ? undefined : this.#namer.parse(basename(this.#liveArchive));
      const candidates = kept.filter((g) => g[0]?.seq !== live?.seq);
      if (this.#rotationEnabled && candidates.length > this.#keepFiles) {
        const excess = candidates.splice(0, candidates.length - this.#keepFiles);
        for (const group of excess) for (const a of group) await remove(a.name);
      }
      if (this.#compression === 'none') break;
      const todo = candidates.find((g) => g.length === 1 && g[0]?.compression === 'none')?.[0];
      if (todo === undefined) break;
      if (!(await this.#compress(todo))) {
        failed = true;
        break;
      }
    }
    if (failed) this.#retryMaintenanceLater();
    else this.#maintenanceBackoffMs = RETRY_FIRST_MS;
  }

  /**
   * Our rotated files grouped by sequence number, oldest first. A symbolic link under an
   * archive's name is left out (reported once): it is never read, compressed or deleted, so its
   * target is never touched. A temporary's name is kept whatever it is: only unlink, which never
   * follows a link, is done to temporaries found.
   */
  async #scanArchives(): Promise<ArchiveName[][]> {
    const bySeq = new Map<number, ArchiveName[]>();
    for (const entry of await readdir(this.directory, { withFileTypes: true })) {
      const name = entry.name;
      const archive = this.#namer.parse(name);
      if (archive === undefined) continue;
      if (entry.isSymbolicLink() && !archive.temporary) {
        if (!this.#linksReported.has(name)) {
          this.#linksReported.add(name);
          this.#report('scan', join(this.directory, name), new Error('a symbolic link under an archive name; left alone'));
        }
        continue;
      }
      const group = bySeq.get(archive.seq);
      if (group === undefined) bySeq.set(archive.seq, [archive]);
      else group.push(archive);
    }
    return [...bySeq.entries()].sort((a, b) => a[0] - b[0]).map(([, group]) => group);
  }

  async #compress(archive: ArchiveName): Promise<boolean> {
    const algorithm = this.#compression === 'gzip' ? 'gzip' : 'lz4';
    const source = join(this.directory, archive.name);
    const target = join(this.directory, this.#namer.compressedName(archive.name, algorithm));
    const temporary = this.#namer.temporaryName(target);
    const started = performance.now();
    let result;
    try {
      result = await compressFile(source, temporary, algorithm, {
        fileMode: this.#fileMode,
        chunkBytes: this.#chunkBytes,
        signal: this.#abort.signal,
      });
      await rename(temporary, target);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      if (this.#closed) return true;
      this.#report('compress', source, error);
      return false;
    }
    const ms = performance.now() - started;
    this.#stats.compressions += 1;
    this.#stats.compression_ms_total += ms;
    this.#stats.compressed_bytes_in += result.bytesIn;
    this.#stats.compressed_bytes_out += result.bytesOut;
    // The archive is complete; if this fails, the pass that follows deletes (and reports) again.
    await unlink(source).catch(() => undefined);
    this.emit('compressed', { path: target, source, bytesIn: result.bytesIn, bytesOut: result.bytesOut, ms });
    return true;
  }

  #report(operation: RotatorOperation, path: string, cause: unknown): void {
    this.#stats[REPORT_COUNTER[operation]] += 1;
    if (this.listenerCount('error') > 0) this.emit('error', new RotatorError(operation, path, cause));
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

const REPORT_COUNTER: Record<RotatorOperation, keyof RotatingFileWriterStats> = {
  open: 'rotation_errors',
  rotate: 'rotation_errors',
  scan: 'rotation_errors',
  compress: 'compression_errors',
  delete: 'delete_errors',
};

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

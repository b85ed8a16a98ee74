// Owns the writer's public face and the order of its work: options, the one-at-a-time queue of
// writes, reopen, rotation and close, the counters and the events. The live file, the direct-write
// policy, when to rotate, the rotate steps and the archives' upkeep live in their own modules.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { BackendMetric } from '@logstream/protocol';
import { AppendFile } from './append-file';
import { ArchiveMaintenance } from './archive-maintenance';
import { ARCHIVE_COMPRESSIONS, ArchiveNamer, type ArchiveCompression, type ArchiveName } from './archive-names';
import { DirectWritePolicy } from './direct-write-policy';
import { RotateSequence } from './rotate-sequence';
import { RotationTrigger } from './rotation-trigger';
import { RotatorError, type RotatorOperation } from './rotator-error';
import { secureDirectory } from './safe-files';
import { writerMetrics } from './writer-metrics';

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

/**
 * Appends whole-line buffers to `<directory>/<fileName>`, rotates it by size and age, compresses
 * rotated files in the background and keeps the newest `keepFiles` of them.
 *
 * Writes, reopen, rotation and close run one at a time, in call order. Compression and
 * retention run beside them and never hold a write up. Background failures never stop writes:
 * they are counted in {@link stats}, emitted as `'error'` (a {@link RotatorError}; only when a
 * listener is attached, so a missing listener cannot crash the process) and retried with
 * LogStream's one retry policy (`Backoff`: 100 ms, ×2, at most 5 s, with jitter).
 *
 * Events: `'rotate'` ({@link RotateEvent}), `'compressed'` ({@link CompressedEvent}), `'error'`.
 */
export class RotatingFileWriter extends EventEmitter<RotatingFileWriterEvents> {
  readonly directory: string;
  readonly fileName: string;
  readonly path: string;
  readonly #fileMode: number;
  readonly #sync: SyncPolicy;
  readonly #policy: DirectWritePolicy;
  readonly #trigger: RotationTrigger;
  readonly #sequence: RotateSequence;
  readonly #maintenance: ArchiveMaintenance;
  readonly #stats: Omit<RotatingFileWriterStats, 'live_file_bytes' | 'slow_writes'> = {
    bytes_written: 0,
    writes: 0,
    write_errors: 0,
    rotations: 0,
    rotation_errors: 0,
    compressions: 0,
    compression_errors: 0,
    compression_ms_total: 0,
    compressed_bytes_in: 0,
    compressed_bytes_out: 0,
    files_deleted: 0,
    delete_errors: 0,
  };
  #file: AppendFile | undefined;
  // The live file's size when it was closed, so that stats stay put after close().
  #sizeAtClose = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  /** @throws RangeError for an option out of range. */
  constructor(options: RotatingFileWriterOptions) {
    super();
    this.directory = options.directory;
    this.fileName = options.fileName ?? 'current.log';
    this.path = join(this.directory, this.fileName);
    this.#fileMode = options.fileMode ?? 0o640;
    this.#sync = options.sync ?? DEFAULT_SYNC_POLICY;
    const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    const enabled = options.rotation?.enabled ?? true;
    const maxAgeHours = options.rotation?.maxAgeHours ?? DEFAULT_MAX_AGE_HOURS;
    const keepFiles = options.rotation?.keepFiles ?? DEFAULT_KEEP_FILES;
    const compression = options.compression ?? 'none';
    const chunkBytes = options.compressionChunkBytes ?? 4 * 1024 * 1024;
    const directWriteBudgetMs = options.directWriteBudgetMs ?? 20;

    if (!(maxFileBytes > 0)) {
      throw new RangeError(`maxFileBytes must be a positive number, got ${maxFileBytes}`);
    }
    if (!(directWriteBudgetMs >= 0)) {
      throw new RangeError(`directWriteBudgetMs must be 0 or more, got ${directWriteBudgetMs}`);
    }
    if (!(maxAgeHours >= 0)) {
      throw new RangeError(`rotation.maxAgeHours must be 0 or more, got ${maxAgeHours}`);
    }
    if (!Number.isInteger(keepFiles) || keepFiles < 0) {
      throw new RangeError(`rotation.keepFiles must be an integer 0 or more, got ${keepFiles}`);
    }
    if (!ARCHIVE_COMPRESSIONS.includes(compression)) {
      throw new RangeError(`compression must be 'none', 'gzip' or 'lz4', got ${String(compression)}`);
    }
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1024) {
      throw new RangeError(`compressionChunkBytes must be an integer of 1024 or more, got ${chunkBytes}`);
    }
    if (this.fileName.includes('/') || this.fileName.startsWith('.')) {
      throw new RangeError(`fileName must be a plain, non-hidden file name, got ${this.fileName}`);
    }

    const namer = new ArchiveNamer(this.fileName);
    this.#policy = new DirectWritePolicy(directWriteBudgetMs);
    this.#trigger = new RotationTrigger({ enabled, maxFileBytes, maxAgeMs: maxAgeHours * 3_600_000 }, () => this.#onAge());
    this.#sequence = new RotateSequence(this.directory, this.path, namer, this.#fileMode);
    this.#maintenance = new ArchiveMaintenance({
      directory: this.directory,
      namer,
      fileMode: this.#fileMode,
      compression,
      chunkBytes,
      retention: enabled,
      keepFiles,
      liveArchive: () => this.#sequence.liveArchive,
      counters: this.#stats,
      report: (operation, path, cause) => this.#report(operation, path, cause),
      onCompressed: (event) => this.emit('compressed', event),
    });
  }

  /** Size of the live file in bytes, as this writer knows it. */
  get size(): number {
    return this.#file?.size ?? this.#sizeAtClose;
  }

  /** A copy of the counters. */
  stats(): RotatingFileWriterStats {
    return { ...this.#stats, slow_writes: this.#policy.slowWrites, live_file_bytes: this.size };
  }

  /**
   * The counters as typed Prometheus samples (see `Backend.metrics` in `@logstream/protocol`):
   * counters under their own names, the live file's size as the gauge `logstream_live_file_bytes`.
   */
  metrics(): BackendMetric[] {
    return writerMetrics(this.stats());
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
    await this.#sequence.recover();
    await this.#openFile();
    this.#maintenance.kick();
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
      const old = this.#file;
      await this.#openFile();
      await old?.close();
    });
  }

  /** Resolves once every write issued before it has finished and is fsynced. */
  flush(): Promise<void> {
    return this.#serial(async () => {
      await this.#file?.datasync();
    });
  }

  /**
   * Resolves once the writes issued before it have finished and background work (compression,
   * retention) has nothing left to do, or is waiting to retry a failure.
   */
  async whenIdle(): Promise<void> {
    await this.#tail;
    await this.#maintenance.whenIdle();
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
    const groups = await this.#maintenance.scan();
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
    this.#trigger.stop();
    this.#maintenance.stop();
    this.#closing = (async () => {
      await this.#serial(async () => {
        const file = this.#file;
        this.#file = undefined;
        this.#sizeAtClose = file?.size ?? 0;
        await file?.close();
      });
      await this.whenIdle();
    })();
    return this.#closing;
  }

  /** Opens the live file by name in place of the one held (kept when the open fails). */
  async #openFile(): Promise<void> {
    this.#file = await AppendFile.open(this.path, this.#fileMode, this.#sequence.lastTimeMs);
    this.#trigger.arm(this.#file.bornMs);
  }

  async #write(data: Buffer): Promise<void> {
    if (this.#file === undefined) {
      if (this.#closed) throw new Error(`write after close: ${this.path}`);
      await this.#openFile();
    }
    if (this.#trigger.bySize(this.size, data.length)) await this.#tryRotate();
    const file = this.#file as AppendFile;
    let written: number;
    try {
      written = await file.append(data, this.#policy, this.#sync !== 'none');
    } catch (error) {
      this.#stats.write_errors += 1;
      throw error;
    }
    this.#stats.bytes_written += written;
    this.#stats.writes += 1;
  }

  /** Rotates unless a recent failure asks to wait; a failure is reported, never thrown. */
  async #tryRotate(): Promise<void> {
    if (!this.#trigger.mayTry()) return;
    try {
      await this.#rotate();
      this.#trigger.succeeded();
    } catch (error) {
      this.#trigger.failed();
      this.#report('rotate', this.path, error);
      this.#trigger.arm((this.#file as AppendFile).bornMs);
    }
  }

  async #rotate(): Promise<void> {
    const { next, archivePath, vanished } = await this.#sequence.rotate();
    const old = this.#file;
    this.#file = next;
    try {
      await old?.close();
      if (this.#sync !== 'none') await this.#sequence.syncDirectory();
    } catch (error) {
      this.#report('rotate', archivePath, error);
    }
    this.#trigger.arm(next.bornMs);
    if (vanished) {
      // Someone removed the live file: what was written to it since is gone with it.
      this.#report('rotate', this.path, new Error('live file was removed from outside; created a new one'));
      return;
    }
    this.#stats.rotations += 1;
    this.#maintenance.kick();
    this.emit('rotate', { from: this.path, to: archivePath });
  }

  #onAge(): void {
    void this.#serial(async () => {
      const file = this.#file;
      if (this.#closed || file === undefined) return;
      if (this.#trigger.byAge(file.bornMs)) {
        if (file.size > 0) await this.#tryRotate();
        else file.bornMs = Date.now();
      }
      this.#trigger.arm((this.#file ?? file).bornMs);
    }).catch((error: unknown) => this.#report('rotate', this.path, error));
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

const REPORT_COUNTER: Record<RotatorOperation, 'rotation_errors' | 'compression_errors' | 'delete_errors'> = {
  open: 'rotation_errors',
  rotate: 'rotation_errors',
  scan: 'rotation_errors',
  compress: 'compression_errors',
  delete: 'delete_errors',
};

import { EventEmitter } from 'node:events';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** When a write is made durable. */
export type SyncPolicy = 'none' | 'batch' | 'always';

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
   * write resolves (the writer gets one buffer per batch, so the two are the same here).
   * Default `none`.
   */
  sync?: SyncPolicy;
}

/**
 * Appends whole-line buffers to `<directory>/<fileName>`. Each `write` is one buffer of whole
 * lines and is written with one positioned write loop; writes never overlap.
 */
export class RotatingFileWriter extends EventEmitter {
  readonly directory: string;
  readonly fileName: string;
  readonly path: string;
  readonly #fileMode: number;
  readonly #sync: SyncPolicy;
  #handle: FileHandle | undefined;
  #size = 0;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: RotatingFileWriterOptions) {
    super();
    this.directory = options.directory;
    this.fileName = options.fileName ?? 'current.log';
    this.path = join(this.directory, this.fileName);
    this.#fileMode = options.fileMode ?? 0o640;
    this.#sync = options.sync ?? 'none';
  }

  /** Size of the live file in bytes, as this writer knows it. */
  get size(): number {
    return this.#size;
  }

  /** Creates the directory and opens the live file for appending. */
  async open(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    await this.#openFile();
  }

  /**
   * Appends `data` (whole lines). Resolves when written (and fsynced under `sync` other than
   * `none`). On failure the file is cut back to where it was, so a retried write leaves no
   * partial line, and the promise rejects.
   */
  write(data: Buffer): Promise<void> {
    return this.#serial(() => this.#write(data));
  }

  /** Closes and reopens the live file by name (after an external rename, e.g. logrotate). */
  reopen(): Promise<void> {
    return this.#serial(async () => {
      const old = this.#handle;
      this.#handle = undefined;
      await old?.close();
      await this.#openFile();
    });
  }

  /** Resolves once every write issued before it has finished. */
  flush(): Promise<void> {
    return this.#serial(async () => {
      await this.#handle?.datasync();
    });
  }

  /** Finishes pending writes and closes the file; idempotent. */
  close(): Promise<void> {
    if (this.#closed) return this.#tail.then(() => undefined);
    this.#closed = true;
    return this.#serial(async () => {
      const handle = this.#handle;
      this.#handle = undefined;
      await handle?.close();
    });
  }

  async #openFile(): Promise<void> {
    const handle = await open(this.path, 'a', this.#fileMode);
    this.#handle = handle;
    this.#size = (await handle.stat()).size;
  }

  async #write(data: Buffer): Promise<void> {
    if (this.#handle === undefined) {
      if (this.#closed) throw new Error(`write after close: ${this.path}`);
      await this.#openFile();
    }
    const handle = this.#handle as FileHandle;
    const before = this.#size;
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await handle.write(data, done, data.length - done);
        done += bytesWritten;
      }
      if (this.#sync !== 'none') await handle.datasync();
    } catch (error) {
      if (done > 0) await handle.truncate(before).catch(() => undefined);
      throw error;
    }
    this.#size = before + done;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

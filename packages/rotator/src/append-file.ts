// Owns one live file: opening it for appending (O_APPEND, never through a link, ours only) or
// creating it exclusively, its size and age, and the all-or-nothing append: a failed write is cut
// back, and when it cannot be, the next write starts on a new line so only the torn one is lost.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { DirectWritePolicy } from './direct-write-policy';
import { APPEND_FLAGS, CREATE_FLAGS, openRegularFile } from './safe-files';

const NEWLINE = Buffer.from('\n');

/**
 * A live file open for appending. Every open uses O_APPEND: a failed write is cut back with
 * ftruncate, which does not move the file offset, so without O_APPEND the next write would land
 * past the cut, leaving a hole of NUL bytes and a size this writer does not know (a later cut
 * would then fall inside acknowledged lines).
 */
export class AppendFile {
  readonly #handle: FileHandle;
  #size: number;
  // The previous write failed and could not be cut back: the file may end in a partial line.
  #torn = false;
  /** When the file's age counts from (its creation, or when an empty file's age was reset). */
  bornMs: number;

  private constructor(handle: FileHandle, size: number, bornMs: number) {
    this.#handle = handle;
    this.#size = size;
    this.bornMs = bornMs;
  }

  /**
   * Opens (or creates) `path` for appending; refuses a symbolic link, a file that is not
   * regular, or another user's (see `openRegularFile`).
   * @param lastRotationMs when the last rotation was, the age of a file system without birth times
   */
  static async open(path: string, mode: number, lastRotationMs: number): Promise<AppendFile> {
    const handle = await openRegularFile(path, APPEND_FLAGS, mode);
    const st = await handle.stat();
    // The live file's age counts from its creation; without a birth time (some file systems),
    // from the last rotation, which is when our live files are created.
    const now = Date.now();
    const bornMs = st.size === 0 ? now : st.birthtimeMs > 0 ? st.birthtimeMs : lastRotationMs > 0 ? lastRotationMs : now;
    return new AppendFile(handle, st.size, bornMs);
  }

  /**
   * Creates `path`, exclusively and without following a link. A name left over (a failed
   * clean-up, or a link someone planted) is removed first: unlink removes a link, never its target.
   */
  static async create(path: string, mode: number): Promise<AppendFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, CREATE_FLAGS, mode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      await unlink(path);
      handle = await open(path, CREATE_FLAGS, mode);
    }
    return new AppendFile(handle, 0, Date.now());
  }

  /** Size in bytes, as this writer knows it. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends `data` through `policy`, then fsyncs when `sync`; returns the bytes written. On
   * failure the file is cut back to where it was (when it cannot be, the next append first ends
   * the torn line) and the fs error is thrown.
   */
  async append(data: Buffer, policy: DirectWritePolicy, sync: boolean): Promise<number> {
    if (this.#torn) data = Buffer.concat([NEWLINE, data]);
    const before = this.#size;
    let done = 0;
    try {
      while (done < data.length) done += await policy.write(this.#handle, data, done);
      if (sync) await this.#handle.datasync();
    } catch (error) {
      if (done > 0) {
        try {
          await this.#handle.truncate(before);
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
    return done;
  }

  /** fsyncs the data written so far. */
  datasync(): Promise<void> {
    return this.#handle.datasync();
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}

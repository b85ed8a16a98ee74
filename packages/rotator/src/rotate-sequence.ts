// Owns one rotation of the live file and the names it gives: the naming sequence recovered from
// the directory at open, an archive name no file has, and the steps that put a new live file in
// place (create it under a hidden name, rename the live file to its archive name, rename the new
// one into place) with their undo on failure.
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AppendFile } from './append-file';
import { ARCHIVE_COMPRESSIONS, type ArchiveNamer } from './archive-names';
import { DIRECTORY_FLAGS } from './safe-files';

/** What a rotation left: the new live file, and where the old one went. */
export interface Rotated {
  /** The new, empty live file, open for appending. */
  next: AppendFile;
  /** The archive name the old live file got. */
  archivePath: string;
  /** The old live file had been removed from outside: nothing was archived. */
  vanished: boolean;
}

/** Rotates the live file `<directory>/<fileName>`; one rotation at a time. */
export class RotateSequence {
  readonly #directory: string;
  readonly #livePath: string;
  readonly #namer: ArchiveNamer;
  readonly #fileMode: number;
  #lastSeq = 0;
  #lastTimeMs = 0;
  // Set when the live file was renamed to its archive name but no new live file could be put in
  // its place: writes go on into it, and it is neither compressed nor deleted until replaced.
  #liveArchive: string | undefined;

  constructor(directory: string, livePath: string, namer: ArchiveNamer, fileMode: number) {
    this.#directory = directory;
    this.#livePath = livePath;
    this.#namer = namer;
    this.#fileMode = fileMode;
  }

  /** When the newest rotation was (from the archive names), 0 before any. */
  get lastTimeMs(): number {
    return this.#lastTimeMs;
  }

  /** The archive the live file already carries the name of (a half-done rotation), if any. */
  get liveArchive(): string | undefined {
    return this.#liveArchive;
  }

  /**
   * Recovers the naming sequence from the rotated files present and removes the leftover of an
   * interrupted rotation.
   */
  async recover(): Promise<void> {
    const names = await readdir(this.#directory);
    for (const name of names) {
      const archive = this.#namer.parse(name);
      if (archive === undefined) continue;
      this.#lastSeq = Math.max(this.#lastSeq, archive.seq);
      this.#lastTimeMs = Math.max(this.#lastTimeMs, archive.timeMs);
    }
    if (names.includes(this.#namer.nextLiveName)) {
      // An interrupted rotation: its new live file never took the live name, so it is empty.
      await unlink(join(this.#directory, this.#namer.nextLiveName));
    }
  }

  /**
   * Puts a new live file in place of the old one, which gets the next archive name. The new
   * live file is created first, under a hidden name, because creating is what fails (ENOSPC,
   * EDQUOT, EROFS, EMFILE); the two renames that follow need no space. A failure before the
   * second rename leaves the directory as it was.
   *
   * @throws the fs error of the step that failed
   */
  async rotate(): Promise<Rotated> {
    const nextPath = join(this.#directory, this.#namer.nextLiveName);
    const next = await AppendFile.create(nextPath, this.#fileMode);
    let archivePath = this.#liveArchive;
    let vanished = false;
    try {
      if (archivePath === undefined) {
        archivePath = join(this.#directory, await this.#nextArchiveName());
        try {
          await rename(this.#livePath, archivePath);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          vanished = true;
        }
      }
      try {
        await rename(nextPath, this.#livePath);
      } catch (error) {
        if (!vanished) {
          try {
            await rename(archivePath, this.#livePath);
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
    this.#liveArchive = undefined;
    return { next, archivePath, vanished };
  }

  /** fsyncs the directory, so that the renames survive a crash. */
  async syncDirectory(): Promise<void> {
    const dir = await open(this.#directory, DIRECTORY_FLAGS);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
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
        ARCHIVE_COMPRESSIONS.map((compression) => exists(join(this.#directory, this.#namer.compressedName(name, compression)))),
      );
      if (!taken.includes(true)) {
        this.#lastTimeMs = timeMs;
        return name;
      }
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

// Owns the open flags (O_APPEND, O_NOFOLLOW, O_EXCL, O_NONBLOCK) and the ownership checks of
// every file and directory the rotator opens, and cutting a torn last line at start.
import { constants } from 'node:fs';
import { lstat, mkdir, open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RotatorError } from './rotator-error';

const { O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } = constants;

// O_NOFOLLOW everywhere: a symbolic link planted under one of our names is refused (ELOOP), never
// followed. O_NONBLOCK: a FIFO planted under one of our names fails the open instead of blocking a
// thread-pool thread forever (it changes nothing for regular files). O_APPEND: every write lands at
// the end of the file whatever the file offset, so cutting a failed write back needs no seek.

/** Flags to open (or create) a live file for appending. */
export const APPEND_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK;
/** Flags to create a file that must not exist yet (a new live file, a temporary archive). */
export const CREATE_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW;
/** Flags to read a file. */
export const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
/** Flags to read and cut a file. */
export const READ_WRITE_FLAGS = O_RDWR | O_NOFOLLOW | O_NONBLOCK;
/** Flags to open a directory (to fsync it). */
export const DIRECTORY_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

function refusal(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Opens `path` with `flags` (one of the flag sets above) and checks that it is a regular file
 * owned by root or by this process's user.
 *
 * @throws RotatorError (operation `open`, `code` `ELOOP`) when `path` is a symbolic link;
 *   (`code` `EPERM`) when it is not a regular file or another user owns it; the fs error else.
 */
export async function openRegularFile(path: string, flags: number, mode?: number): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, flags, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new RotatorError(
        'open',
        path,
        refusal('ELOOP', 'it is a symbolic link; refusing to follow it (its target is left alone: remove the link)'),
      );
    }
    throw error;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new RotatorError('open', path, refusal('EPERM', 'not a regular file; left alone'));
    const uid = process.geteuid?.();
    if (uid !== undefined && st.uid !== 0 && st.uid !== uid) {
      throw new RotatorError(
        'open',
        path,
        refusal('EPERM', `owned by uid ${st.uid}, neither root nor this process's uid ${uid}; left alone`),
      );
    }
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/**
 * Creates `directory` when missing (mode 0o755, parents too) and checks that nobody but root and
 * this process's user can put files in it, so that no other user can plant a link or a file
 * under a name the writer uses. Refused: a symbolic link; a directory owned by a uid other than
 * root's and this process's; one writable by its group unless that group is root's; one writable
 * by everyone unless sticky (like /tmp). The directory's parents are not checked: they are the
 * administrator's to secure.
 *
 * @throws RotatorError (operation `open`, `code` `ELOOP`, `ENOTDIR` or `EPERM`) naming the
 *   directory and the rule; the fs error when it cannot be created or examined.
 */
export async function secureDirectory(directory: string): Promise<void> {
  const path = resolve(directory);
  await mkdir(path, { recursive: true, mode: 0o755 });
  const st = await lstat(path);
  const refuse = (code: string, why: string): RotatorError =>
    new RotatorError('open', path, refusal(code, `unsafe output directory: ${why}`));
  if (st.isSymbolicLink()) throw refuse('ELOOP', 'it is a symbolic link (give the real directory)');
  if (!st.isDirectory()) throw refuse('ENOTDIR', 'not a directory');
  const uid = process.geteuid?.();
  if (uid === undefined) return;
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  if (st.uid !== 0 && st.uid !== uid) {
    throw refuse('EPERM', `owned by uid ${st.uid}, neither root nor this process's uid ${uid} (that user could plant links in it)`);
  }
  if ((st.mode & 0o020) !== 0 && st.gid !== 0) {
    throw refuse('EPERM', `writable by group ${st.gid} (mode ${mode}; its members could plant links in it: chmod g-w)`);
  }
  if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
    throw refuse('EPERM', `writable by every user and not sticky (mode ${mode}: chmod o-w)`);
  }
}

/**
 * Cuts `path` after its last newline (a line torn by a crash in the middle of a write) and
 * returns the bytes removed; 0 when the file ends cleanly or does not exist. The file is opened
 * as {@link openRegularFile} does, never through a link.
 *
 * @throws RotatorError (operation `open`) when `path` is a symbolic link, not a regular file or
 *   another user's; the fs error when it cannot be read or cut.
 */
export async function cutTornLine(path: string): Promise<number> {
  let handle: FileHandle;
  try {
    handle = await openRegularFile(path, READ_WRITE_FLAGS);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return 0;
    const chunk = Buffer.allocUnsafe(Math.min(size, 1024 * 1024));
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const nl = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl !== -1) {
        const keep = start + nl + 1;
        if (keep < size) await handle.truncate(keep);
        return size - keep;
      }
      end = start;
    }
    await handle.truncate(0);
    return size;
  } finally {
    await handle.close();
  }
}

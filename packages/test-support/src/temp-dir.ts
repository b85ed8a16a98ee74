// Fresh temp dirs for tests, and their removal.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/** A temp dir and the function that removes it (with everything in it). */
export interface TempDir {
  dir: string;
  cleanup: () => Promise<void>;
}

/**
 * A fresh directory under the system temp dir, named `<prefix>XXXXXX`. The path stays short on
 * purpose: a Unix socket path (sun_path) holds at most 107 bytes.
 */
export async function tempDir(prefix = 'ls-'): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Per test: a fresh temp dir handed to `use` before the test, removed after it. Call it before
 * registering a file's own afterEach hooks: Vitest runs afterEach hooks in reverse order, so
 * those run first, while the dir is still there.
 */
export function useTempDir(use: (dir: string) => void, prefix = 'ls-'): void {
  let made: TempDir | undefined;
  beforeEach(async () => {
    made = await tempDir(prefix);
    use(made.dir);
  });
  afterEach(async () => {
    await made?.cleanup();
    made = undefined;
  });
}

// Fresh temp dirs for tests, and their removal.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

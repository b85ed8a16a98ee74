// Builds bench/loadgen.c and bench/logcheck.c with the system C compiler into bench/.build/
// (gitignored), once per change of the source.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './procs.mjs';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(benchDir, '.build');

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

async function build(name, extraFlags) {
  const src = join(benchDir, `${name}.c`);
  const bin = join(buildDir, name);
  if (mtime(bin) > mtime(src)) return bin;
  mkdirSync(buildDir, { recursive: true });
  const cc = process.env.CC || 'cc';
  try {
    await runCommand(cc, ['-O2', ...extraFlags, '-o', bin, src], { timeoutMs: 60_000 });
  } catch (error) {
    throw new Error(`cannot compile ${src} with ${cc} (a C compiler is needed for the end-to-end benchmarks): ${error.message}`);
  }
  return bin;
}

/** Paths of the compiled `loadgen` and `logcheck`. */
export async function nativeTools() {
  return { loadgen: await build('loadgen', ['-pthread']), logcheck: await build('logcheck', []) };
}

// Node scripts run as an application would run them: with the built packages and npm's pino/winston.
import { spawn } from 'node:child_process';
import { chmod, mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = join(PACKAGES, 'client', 'dist');

/**
 * Gives `dir` a node_modules in which an application finds what it would after `npm install`:
 * `@logstream/client`, `@logstream/pino`, `@logstream/winston` (these packages, built) and the
 * real `pino` and `winston` from npm (symlinks: each resolves its own dependencies where it is).
 */
export async function linkPackages(dir: string): Promise<void> {
  await mkdir(join(dir, 'node_modules', '@logstream'), { recursive: true });
  for (const name of ['client', 'pino', 'winston']) {
    await symlink(join(PACKAGES, name), join(dir, 'node_modules', '@logstream', name));
  }
  await symlink(await realpath(join(PACKAGES, 'pino', 'node_modules', 'pino')), join(dir, 'node_modules', 'pino'));
  await symlink(await realpath(join(PACKAGES, 'winston', 'node_modules', 'winston')), join(dir, 'node_modules', 'winston'));
}

/** The built client as a script imports it: `import … from ESM_CLIENT` / `require(CJS_CLIENT)`. */
export const ESM_CLIENT = JSON.stringify(join(DIST, 'index.js'));
export const CJS_CLIENT = JSON.stringify(join(DIST, 'index.cjs'));

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the script did not exit by itself within `killAfterMs` and was SIGKILLed. */
  killed: boolean;
}

/**
 * Writes `source` to `dir/name` and runs it with node as a child process (as `user` through
 * runuser when given), SIGKILLing it after `killAfterMs`.
 */
export async function runScript(
  dir: string,
  name: string,
  source: string,
  options: { env?: NodeJS.ProcessEnv; killAfterMs?: number; user?: string } = {},
): Promise<ScriptResult> {
  const file = join(dir, name);
  await writeFile(file, source);
  await chmod(file, 0o644);
  const argv = options.user === undefined ? [process.execPath, file] : ['runuser', '-u', options.user, '--', process.execPath, file];
  return new Promise((resolve, reject) => {
    const proc = spawn(argv[0] as string, argv.slice(1), { env: { ...process.env, ...options.env }, cwd: dir });
    let stdout = '';
    let stderr = '';
    let killed = false;
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      killed = true;
      proc.kill('SIGKILL');
    }, options.killAfterMs ?? 30_000);
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, killed });
    });
  });
}

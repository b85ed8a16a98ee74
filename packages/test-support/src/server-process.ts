// The built logstream-server as a child process: start, stop, run to completion, read what it stored.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';
import { tempDir, type TempDir } from './temp-dir';
import { until } from './until';

/** The built server executable, apps/server/dist/cli.js (tests run against what ships). */
export const SERVER_CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'apps', 'server', 'dist', 'cli.js');

// Servers started by the current test; useServerDir() SIGKILLs them after it.
const started: ServerProcess[] = [];

/**
 * Per test: a fresh temp dir, with `sock` (`DIR/s.sock`) and `out` (`DIR/out`) in it, handed to
 * `use` before the test; after it, every server the test started is SIGKILLed and the dir removed
 * (LS_KEEP=1 keeps the dir of a failed test, to look at what reached the disk).
 *
 * Call it before registering a file's own afterEach hooks: Vitest runs afterEach hooks in reverse
 * order, so those then run first, while the servers still run and the dir is still there.
 */
export function useServerDir(use: (paths: { dir: string; sock: string; out: string }) => void): void {
  let made: TempDir | undefined;
  beforeEach(async () => {
    made = await tempDir();
    use({ dir: made.dir, sock: join(made.dir, 's.sock'), out: join(made.dir, 'out') });
  });
  afterEach(async (ctx) => {
    await Promise.all(started.splice(0).map((s) => s.stop('SIGKILL')));
    if (process.env.LS_KEEP && ctx.task.result?.state === 'fail') console.info(`kept ${made?.dir}`);
    else await made?.cleanup();
    made = undefined;
  });
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** A logstream-server child process. */
export interface ServerProcess {
  proc: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code (and signal) once the process has exited. */
  exited: Promise<Exit>;
  /** Sends `signal` (unless it has exited) and resolves with the exit code (and signal). */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/**
 * Starts the built server (or `options.cli`) with `args` and waits for its start-up line; a
 * server that exits first is an error with its stderr.
 */
export async function startServer(args: string[], options: { cli?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ServerProcess> {
  const proc = spawn(process.execPath, [options.cli ?? SERVER_CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let err = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => (err += d));
  proc.stdout?.resume();
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let dead = false;
  void exited.then(() => (dead = true));
  await until(() => err.includes('listening on') || dead, 20_000, 'server start-up line');
  if (dead) throw new Error(`server exited at start: ${err}`);
  const server: ServerProcess = {
    proc,
    stderr: () => err,
    exited,
    async stop(signal = 'SIGTERM') {
      if (!dead) proc.kill(signal);
      return exited;
    },
  };
  started.push(server);
  return server;
}

/**
 * Runs the CLI to completion. A run still going after `timeoutMs` (a server that started when it
 * should have refused) is SIGKILLed and reported with code null.
 */
export function runCli(
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [SERVER_CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    let stdout = '';
    let stderr = '';
    // Decoded as UTF-8 by the streams, so a character split across chunks stays whole.
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON entries of a json-format log file. */
export async function readEntries(path: string): Promise<Record<string, unknown>[]> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  // The server may be writing as we read: only lines that end in a newline are complete.
  const lines = text.split('\n');
  lines.pop();
  return lines.filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
}

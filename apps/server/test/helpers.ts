import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';

/** The built server executable (tests run against what ships). */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

/** A fresh temp dir with a short path (sun_path is 108 bytes). */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ls-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function until(predicate: () => boolean | Promise<boolean>, ms = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

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
  let made: { dir: string; cleanup: () => Promise<void> } | undefined;
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

/** Starts the built server with `args` and waits for its start-up line. */
export async function startServer(args: string[], options: { cli?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ServerProcess> {
  const proc = spawn(process.execPath, [options.cli ?? CLI, ...args], {
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
  await until(() => err.includes('listening on') || dead, 15_000, 'server start-up line');
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
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
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

/** One sample of a Prometheus text page. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = v as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Fetches and parses the metrics page of a server on `http://127.0.0.1:PORT/metrics`. */
export async function scrapeMetrics(port: number): Promise<MetricSample[]> {
  return parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

/** The value of the one sample with this name and exactly these labels. */
export function metric(samples: MetricSample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
  return (found[0] as MetricSample).value;
}

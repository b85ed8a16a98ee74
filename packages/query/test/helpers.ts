import { execFile, spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { rotatingFileToml, tempDir as sharedTempDir } from '@logstream/test-support';

const here = dirname(fileURLToPath(import.meta.url));
/** The built query command (tests run what ships). */
export const QUERY_CLI = join(here, '..', 'dist', 'cli.js');
const execFileP = promisify(execFile);
const ARCHIVE = /^current-\d{8}T\d{6}\.\d{3}Z-(\d{6,})\.log(\.gz|\.lz4)?$/;

/** A fresh temp dir (remove it with {@link removeDir}). */
export async function tempDir(): Promise<string> {
  return (await sharedTempDir('lsq-')).dir;
}

/** A config with rotation at `maxFileSize` bytes and the given compression. */
export async function writeConfig(dir: string, compression: 'gzip' | 'lz4', maxFileSize: number): Promise<string> {
  const path = join(dir, `c-${compression}.toml`);
  await writeFile(path, rotatingFileToml({ socketPath: join(dir, 's.sock'), outputDirectory: join(dir, 'out'), compression, maxFileSize }));
  return path;
}

/**
 * Sends raw NDJSON lines over the socket as daemon `daemon` and resolves once the server has
 * acknowledged every one (so each is stored).
 */
export async function sendLines(sock: string, daemon: string, lines: string[]): Promise<void> {
  const socket = connect(sock);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  const acked = new Promise<void>((resolve, reject) => {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      const acks = [...text.matchAll(/"type":"ack","seq":(\d+)/g)];
      if (text.includes('"type":"error"')) reject(new Error(`server refused a line: ${text}`));
      if (acks.length > 0 && Number(acks[acks.length - 1]?.[1]) >= lines.length) resolve();
    });
    socket.once('error', reject);
  });
  socket.write(`${daemon}\n`);
  for (let i = 0; i < lines.length; i += 200) socket.write(`${lines.slice(i, i + 200).join('\n')}\n`);
  await acked;
  socket.end();
}

/** Runs logstream-query to completion. */
export function runQuery(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [QUERY_CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TZ: 'UTC', ...env },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The rotated files of `out`, in sequence order. */
export async function archiveNames(out: string): Promise<string[]> {
  const names = (await readdir(out)).filter((n) => ARCHIVE.test(n));
  return names.sort((a, b) => Number(ARCHIVE.exec(a)?.[1]) - Number(ARCHIVE.exec(b)?.[1]));
}

/**
 * Every stored line of `out`, computed independently of the package: archives in sequence
 * order, opened with the real zcat / lz4 tools, then current.log; only newline-terminated lines.
 * With `tolerant`, a tool that fails (a damaged archive) contributes what it printed.
 */
export async function storedLines(out: string, tolerant = false): Promise<string[]> {
  // A running server compresses and removes plain archives as we read: read again on ENOENT.
  for (let attempt = 0; ; attempt++) {
    try {
      return await storedLinesOnce(out, tolerant);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 10) throw error;
    }
  }
}

async function storedLinesOnce(out: string, tolerant: boolean): Promise<string[]> {
  let text = '';
  const tool = async (cmd: string, args: string[]): Promise<string> => {
    try {
      return (await execFileP(cmd, args, { maxBuffer: 1 << 28 })).stdout;
    } catch (error) {
      if (!tolerant) throw error;
      const stdout = (error as { stdout?: string }).stdout ?? '';
      return stdout.slice(0, stdout.lastIndexOf('\n') + 1);
    }
  };
  for (const name of await archiveNames(out)) {
    const path = join(out, name);
    if (name.endsWith('.gz')) text += await tool('zcat', [path]);
    else if (name.endsWith('.lz4')) text += await tool('lz4', ['-dc', path]);
    else text += await readFile(path, 'utf8');
  }
  text += await readFile(join(out, 'current.log'), 'utf8').catch(() => '');
  const lines = text.split('\n');
  lines.pop();
  return lines.filter((l) => l.length > 0);
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

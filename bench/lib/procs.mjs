// Processes and temp dirs for bench cases: every child and directory made here is tracked and
// removed on the way out, also when the bench is interrupted. Children are stopped by their PID
// only (SIGTERM, then SIGKILL), never by name.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const live = new Set();
const dirs = new Set();
let hooked = false;

function hookExit() {
  if (hooked) return;
  hooked = true;
  // Synchronous last resort: 'exit' handlers cannot wait, so whatever is still running is killed.
  process.on('exit', () => {
    for (const p of live) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      process.exitCode = 130;
      process.exit();
    });
  }
}

/** A fresh temp directory (short path: socket paths must stay under 108 bytes). */
export function makeTempDir(prefix = 'lsb-') {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/**
 * Starts a long-running child with stdout/stderr going to files in `logDir`. Returns
 * `{ pid, child, exited, name, stderrPath }`; `exited` resolves with `{ code, signal }`.
 */
export function startProcess(name, cmd, args, { logDir, env, cwd } = {}) {
  hookExit();
  const outPath = join(logDir, `${name}.out`);
  const errPath = join(logDir, `${name}.err`);
  const out = openSync(outPath, 'a');
  const err = openSync(errPath, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', out, err], env: env ?? process.env, cwd });
  closeSync(out);
  closeSync(err);
  const proc = { name, pid: child.pid, child, stdoutPath: outPath, stderrPath: errPath };
  proc.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(proc);
      proc.exit = { code, signal };
      resolve(proc.exit);
    });
    child.once('error', (error) => {
      live.delete(proc);
      proc.exit = { code: null, signal: null, error };
      resolve(proc.exit);
    });
  });
  if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
  live.add(proc);
  return proc;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
export async function stopProcess(proc, graceMs = 5000) {
  if (proc.exit) return proc.exit;
  try {
    process.kill(proc.pid, 'SIGTERM');
  } catch {
    // already gone: the exit handler settles proc.exit
  }
  const timer = setTimeout(() => {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // exited within the grace period
    }
  }, graceMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  return exit;
}

/** The last `bytes` of a file, for error messages. */
export function tail(path, bytes = 600) {
  try {
    const buf = readFileSync(path);
    return buf
      .subarray(Math.max(0, buf.length - bytes))
      .toString('utf8')
      .trim();
  } catch {
    return '';
  }
}

/** The first line of a log file that names an error (else its last line), for short reports. */
export function errorLine(path) {
  const lines = tail(path, 64 * 1024)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? '';
  return line.length > 240 ? `${line.slice(0, 240)}…` : line;
}

/** Waits until `path` is a socket (or the process exits, or the time runs out). */
export async function waitForSocket(path, proc, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exit) throw new Error(`${proc.name} exited (${JSON.stringify(proc.exit)}) before listening: ${errorLine(proc.stderrPath)}`);
    try {
      if (statSync(path).isSocket()) return;
    } catch {
      // not there yet
    }
    await sleep(20);
  }
  throw new Error(`${proc.name} did not create ${path} within ${timeoutMs} ms: ${errorLine(proc.stderrPath)}`);
}

const CLK_TCK = 100; // USER_HZ; Linux reports /proc times in these units on every mainstream arch

/**
 * CPU seconds (user + system, all threads) and peak RSS (VmHWM, bytes) of a live process, from
 * /proc. Undefined fields when the process is gone.
 */
export function procStats(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return { cpuS, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : undefined };
  } catch {
    return { cpuS: undefined, peakRssBytes: undefined };
  }
}

/**
 * Microseconds during which some runnable task of the machine waited for a CPU (Linux PSI,
 * /proc/pressure/cpu "some" total), or undefined where the kernel does not expose it. The
 * difference over a run says how contended the machine was while it ran.
 */
export function cpuWaitUs() {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a short-lived command to completion with a timeout; resolves with `{ stdout, stderr }`,
 * rejects (with `stdout` on the error) on a non-zero exit. The child is tracked like the
 * long-running ones, so an interrupted bench does not leave it behind; `.kill()` ends it early.
 */
export function runCommand(cmd, args, { timeoutMs = 120_000, env } = {}) {
  hookExit();
  let proc;
  const done = new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20, env: env ?? process.env },
      (error, stdout, stderr) => {
        live.delete(proc);
        if (error) {
          error.message += `\n${stderr.trim()}`;
          error.stdout = stdout;
          error.stderr = stderr;
          reject(error);
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    proc = { name: cmd, pid: child.pid, child };
    live.add(proc);
  });
  /** Ends the command early (SIGKILL); its promise then rejects. */
  done.kill = () => {
    if (!live.has(proc)) return; // already exited: its PID may belong to someone else by now
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // exited between the check and the kill
    }
  };
  return done;
}

/** Parses `key=value key=value` output into an object of strings. */
export function parseKv(text) {
  const out = {};
  for (const m of text.matchAll(/([A-Za-z_]+)=(\S+)/g)) out[m[1]] = m[2];
  return out;
}

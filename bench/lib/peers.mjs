// Real peers the ingest case's output rows send to: a private rsyslogd that receives syslog over
// TCP and writes each message to one file, and a private systemd-journald started by the
// repository's test peer script. Both live in a temp dir and are stopped by their PID.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { errorLine, runCommand, stopProcess } from './procs.mjs';
import { startWithFileLimit } from './targets.mjs';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(benchDir, '..');

/**
 * The journald peer scripts: in the shared test-support package when it exists, else beside the
 * journald backend's tests (where they were before test-support took them over).
 */
function journaldScripts() {
  const shared = join(repoRoot, 'packages', 'test-support', 'peers');
  if (existsSync(join(shared, 'start-journald.sh')) && existsSync(join(shared, 'stop-peer.sh'))) {
    return {
      start: join(shared, 'start-journald.sh'),
      stop: (pid, base) => [join(shared, 'stop-peer.sh'), 'systemd-journal', String(pid), base],
    };
  }
  const helpers = join(repoRoot, 'packages', 'backend-journald', 'test', 'helpers');
  return { start: join(helpers, 'start-journald.sh'), stop: (pid, base) => [join(helpers, 'stop-journald.sh'), String(pid), base] };
}

/** Why journald cannot run here, or undefined. */
export function journaldSkipReason() {
  if (process.getuid?.() !== 0) return 'journald rows skipped: systemd-journald needs root';
  if (!['/lib/systemd/systemd-journald', '/usr/lib/systemd/systemd-journald'].some((p) => existsSync(p))) {
    return 'journald rows skipped: systemd-journald is not installed (apt-get install systemd)';
  }
  return undefined;
}

/** Starts a private journald; resolves with `{ pid, socket, directory, base, stop() }`. */
export async function startJournald() {
  const scripts = journaldScripts();
  const { stdout } = await runCommand('bash', [scripts.start, `lsb${process.pid}`], { timeoutMs: 30_000 });
  const env = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  if (!env.JOURNALD_PID || !env.JOURNALD_SOCKET)
    throw new Error(`start-journald.sh printed no JOURNALD_PID/JOURNALD_SOCKET: ${stdout.trim()}`);
  const pid = Number(env.JOURNALD_PID);
  return {
    pid,
    socket: env.JOURNALD_SOCKET,
    directory: env.JOURNALD_DIRECTORY,
    base: env.JOURNALD_BASE,
    stop: async () => {
      const [cmd, ...args] = scripts.stop(pid, env.JOURNALD_BASE);
      await runCommand('bash', [cmd, ...args], { timeoutMs: 30_000 });
    },
  };
}

/** User+system CPU ticks of a process, or undefined when it is gone. */
function cpuTicks(pid) {
  try {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = rest.slice(rest.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

/**
 * Waits until journald has read its queue (its CPU time stopped growing for `quietMs`), then
 * exports the LOGSTREAM_ID of every entry to `outPath`, one JSON object a line; repeats until the
 * journal holds `want` entries or `timeoutMs` passes. Resolves with the count seen last.
 */
export async function exportJournal(journald, outPath, want, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let count = 0;
  for (;;) {
    let last = cpuTicks(journald.pid);
    let quietSince = Date.now();
    while (Date.now() - quietSince < 400 && Date.now() < deadline) {
      await sleep(100);
      const now = cpuTicks(journald.pid);
      if (now !== last) {
        last = now;
        quietSince = Date.now();
      }
    }
    // _TRANSPORT=journal: the entries sent to the native socket, not journald's own messages.
    const args = [
      '--directory',
      journald.directory,
      '-o',
      'json',
      '--output-fields=LOGSTREAM_ID',
      '--no-pager',
      '-q',
      '_TRANSPORT=journal',
    ];
    // Straight to the file: the export of a large journal is more than a pipe buffer should hold.
    await runCommand('sh', ['-c', 'exec journalctl "$@" > "$0"', outPath, ...args], { timeoutMs: 120_000 });
    const text = readFileSync(outPath);
    count = 0;
    for (let at = text.indexOf(10); at !== -1; at = text.indexOf(10, at + 1)) count++;
    if (count >= want || Date.now() >= deadline) return count;
  }
}

/**
 * Starts a private rsyslogd listening with imtcp on 127.0.0.1 (a free port; octet counting and LF
 * framing) that writes each message's raw bytes to `dir/sink.log`, one a line (peers/rsyslog-tcp-sink.conf).
 * Resolves with `{ proc, port, out }`.
 */
export async function startRsyslogSink(dir) {
  const out = join(dir, 'sink.log');
  const portFile = join(dir, 'sink.port');
  const conf = join(dir, 'rsyslog-sink.conf');
  const text = readFileSync(join(benchDir, 'peers', 'rsyslog-tcp-sink.conf'), 'utf8')
    .replaceAll('@DIR@', dir)
    .replaceAll('@OUT@', out)
    .replaceAll('@PORTFILE@', portFile);
  writeFileSync(conf, text);
  const proc = startWithFileLimit('rsyslogd-sink', '/usr/sbin/rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslog-sink.pid')], {
    logDir: dir,
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exit) throw new Error(`rsyslogd (TCP sink) exited before listening: ${errorLine(proc.stderrPath)}`);
    let port = '';
    try {
      port = readFileSync(portFile, 'utf8').trim();
    } catch {
      // not listening yet
    }
    if (/^\d+$/.test(port)) return { proc, port: Number(port), out };
    if (Date.now() > deadline) {
      await stopProcess(proc);
      throw new Error(`rsyslogd (TCP sink) did not listen within 15 s: ${errorLine(proc.stderrPath)}`);
    }
    await sleep(20);
  }
}

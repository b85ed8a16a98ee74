// Syslog backend throughput: entries/s sent to a real rsyslogd over TCP (octet counting, RFC
// 5424) against appending the same entries' NDJSON to a file, in one run. The rsyslogd is
// started and stopped here through the backend's test peer script
// (packages/test-support/peers/start-rsyslog.sh, which apt-get installs rsyslog if it is
// missing and the bench runs as root).
import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeTempDir, parseKv, removeTempDir, runCommand } from '../lib/procs.mjs';
import { median } from '../lib/stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const helpers = join(root, 'packages', 'test-support', 'peers');
const ENTRIES = 50_000;
const BATCH = 500;
const RUNS = 3;

/** Starts the peer; resolves with its KEY=VALUE lines (RSYSLOG_PID, RSYSLOG_TCP_PORT, …). */
async function startRsyslog() {
  const { stdout } = await runCommand(join(helpers, 'start-rsyslog.sh'), []);
  return parseKv(stdout);
}

async function stopRsyslog(env) {
  await runCommand(join(helpers, 'stop-peer.sh'), ['rsyslogd', env.RSYSLOG_PID, env.RSYSLOG_BASE]);
}

/** The version `rsyslogd -v` prints (as start-rsyslog.sh finds the binary), or undefined. */
async function rsyslogVersion() {
  for (const bin of ['rsyslogd', '/usr/sbin/rsyslogd']) {
    try {
      const { stdout } = await runCommand(bin, ['-v'], { timeoutMs: 10_000 });
      const m = /^rsyslogd\s+(\S+)/m.exec(stdout);
      if (m) return m[1];
    } catch {
      // not on PATH: try the next
    }
  }
  return undefined;
}

function makeLines(protocol) {
  const lines = [];
  const levels = [];
  for (let i = 0; i < ENTRIES; i++) {
    const level = i % 8;
    lines.push(
      Buffer.from(
        protocol.encodeEntry({
          id: randomUUID(),
          timestamp: new Date(1_705_314_645_123 + i).toISOString(),
          level,
          daemon: 'web-server',
          message: `GET /api/items/${i} 200 in ${i % 97} ms "curl/8.5" [req ${i}]`,
          fields: { user_id: String(10_000 + (i % 500)), route: '/api/items/:id', trace_id: randomUUID() },
          pid: 4242,
          hostname: 'server01',
        }),
      ),
    );
    levels.push(level);
  }
  return { lines, levels };
}

// Fresh batches for each timed loop, built before its clock starts: a batch caches its decoded
// entries, and the server hands backends undecoded ones.
function batches(protocol, { lines, levels }) {
  const out = [];
  for (let i = 0; i < lines.length; i += BATCH) {
    out.push(new protocol.EntryBatch(lines.slice(i, i + BATCH), levels.slice(i, i + BATCH)));
  }
  return out;
}

/**
 * Counts the lines of a file that only grows (rsyslogd's output): each `count()` reads only what
 * was appended since the last one, so polling it stays cheap while the file grows.
 */
async function lineCounter(path) {
  const fh = await open(path, 'r');
  const buf = Buffer.alloc(1 << 20);
  let offset = 0;
  let lines = 0;
  return {
    async count() {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) return lines;
        offset += bytesRead;
        const got = buf.subarray(0, bytesRead);
        for (let at = got.indexOf(10); at !== -1; at = got.indexOf(10, at + 1)) lines++;
      }
    },
    close: () => fh.close(),
  };
}

export async function run(ctx) {
  const protocol = await import(pathToFileURL(join(root, 'packages', 'protocol', 'dist', 'index.js')).href);
  const { SyslogBackend } = await import(pathToFileURL(join(root, 'packages', 'backend-syslog', 'dist', 'index.js')).href);
  const data = makeLines(protocol);
  const dir = makeTempDir('ls-bench-syslog-');
  const times = { file: [], format: [], tcpSent: [], tcpStored: [] };
  let dropped = 0;
  let received = 0;
  let version;
  let stored;
  const env = await startRsyslog();
  try {
    version = await rsyslogVersion();
    stored = await lineCounter(env.RSYSLOG_JSON);
    for (let r = 0; r < RUNS; r++) {
      // Baseline: plain append of each batch's NDJSON.
      const fh = await open(join(dir, `baseline-${r}.ndjson`), 'a');
      let work = batches(protocol, data);
      let t0 = performance.now();
      for (const b of work) await fh.write(b.ndjson());
      await fh.close();
      times.file.push(performance.now() - t0);

      // Formatting alone (decode + RFC 5424), no I/O.
      work = batches(protocol, data);
      t0 = performance.now();
      let bytes = 0;
      for (const b of work) {
        for (const e of b.entries()) bytes += protocol.formatRfc5424(e, { facility: 1 }).length;
      }
      times.format.push(performance.now() - t0);
      if (bytes === 0) throw new Error('nothing formatted');

      // TCP to rsyslogd: write() every batch, then flush() (all handed to the kernel).
      const before = await stored.count();
      const backend = new SyslogBackend({
        server: `tcp://127.0.0.1:${env.RSYSLOG_TCP_PORT}`,
        maxBufferedEntries: ENTRIES,
        maxBufferedBytes: 256 * 1024 * 1024,
        flushTimeoutMs: 60_000,
      });
      await backend.open();
      while (!backend.connected) await sleep(5);
      work = batches(protocol, data);
      t0 = performance.now();
      for (const b of work) await backend.write(b);
      await backend.flush();
      times.tcpSent.push(performance.now() - t0);
      // ... and until rsyslogd has written every one to its output file.
      const deadline = Date.now() + 30_000;
      let got = 0;
      while ((got = (await stored.count()) - before) < ENTRIES && Date.now() < deadline) await sleep(10);
      times.tcpStored.push(performance.now() - t0);
      received += got;
      dropped += backend.stats().dropped_aborted + backend.stats().dropped_on_close;
      await backend.close();
    }
  } finally {
    await stored?.close();
    await stopRsyslog(env).catch(() => {});
    removeTempDir(dir);
  }
  const rate = (ms) => (ENTRIES / median(ms)) * 1000;
  const base = rate(times.file);
  const row = (name, ms) => [name, median(ms), rate(ms), `${(rate(ms) / base).toFixed(2)}x`];
  return {
    title: `${ctx?.name ?? 'syslog'}: ${ENTRIES.toLocaleString('en-US')} entries in batches of ${BATCH}, median of ${RUNS}`,
    columns: ['path', 'ms', 'entries/s', 'vs file append'],
    rows: [
      row('file append of batch.ndjson() (baseline)', times.file),
      row('RFC 5424 formatting only (decode + format, no I/O)', times.format),
      row('SyslogBackend tcp:// rsyslogd, write + flush (in kernel)', times.tcpSent),
      row('SyslogBackend tcp:// rsyslogd, until rsyslogd wrote all', times.tcpStored),
    ],
    notes: [
      `rsyslogd ${version ?? '(version unknown)'} started by the case (imtcp, octet counting, rate limits off) writes every message to three files (JSON, RFC 5424, raw), which bounds the last row. write() resolves once its messages are in the kernel (the TCP socket), so write + flush is the time to hand everything to the kernel.`,
      `received by rsyslogd: ${received} of ${ENTRIES * RUNS}; dropped (aborted or on close): ${dropped}.`,
    ],
  };
}

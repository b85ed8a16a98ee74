// Bad input at full speed: for FLOOD_MS, 4 connections send the server nothing but lines it must
// refuse (garbage, wrong types, 60 KB of garbage) while one well-behaved @logstream/client, in a
// process of its own (bench/lib/client-driver.mjs), logs 10,000 entries/s beside them. What it
// costs the server (CPU per refused line, peak RSS) and the good client (ack latency), with no
// Node flags and with the flags the systemd unit gives the server.
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { performance } from 'node:perf_hooks';
import { runClientDriver } from '../lib/driver.mjs';
import { makeTempDir, removeTempDir, stopProcess } from '../lib/procs.mjs';
import { SERVER_NODE_FLAGS, startLogstream } from '../lib/targets.mjs';

const CONNS = 4;
const FLOOD_MS = 3000;
const GOOD_RATE = 10_000;
const DRIVER_TIMEOUT_MS = FLOOD_MS + 60_000; // the good client's run, then its flush
const KINDS = [
  { name: 'garbage (~180 B)', line: `{"message": oops ${'x'.repeat(160)}\n` },
  { name: 'wrong types', line: '{"message":5,"level":"loud","fields":{"a":1},"pid":-1}\n' },
  { name: 'garbage (60 KB)', line: `{"message": oops ${'x'.repeat(60_000)}\n` },
];

const ERROR_MARK = '"type":"error"';

/** Writes copies of `line` on each of CONNS connections for FLOOD_MS, reading every answer. */
async function flood(sock, line) {
  const copies = Math.max(1, Math.floor(262_144 / line.length));
  const chunk = Buffer.from(line.repeat(copies));
  let frames = 0;
  let lines = 0;
  const until = performance.now() + FLOOD_MS;
  await Promise.all(
    Array.from(
      { length: CONNS },
      (_, i) =>
        new Promise((resolve, reject) => {
          const s = createConnection(sock);
          s.on('error', reject);
          // Acks and the ready line come back too: count only error frames (a marker split
          // between two reads is found through the carried tail of the previous one).
          let carry = '';
          s.on('data', (d) => {
            const text = carry + d.toString('latin1');
            for (let at = text.indexOf(ERROR_MARK); at !== -1; at = text.indexOf(ERROR_MARK, at + 1)) frames++;
            carry = text.slice(-(ERROR_MARK.length - 1));
          });
          s.on('close', resolve);
          s.on('connect', async () => {
            s.write(`flood-${i}\n`);
            while (performance.now() < until) {
              lines += copies;
              if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
            }
            s.end();
          });
        }),
    ),
  );
  return { frames, lines };
}

async function runOne(kind, flags) {
  const dir = makeTempDir();
  let server;
  try {
    server = startLogstream(dir, '', flags);
    // The server is measured once both the good client and the flood are done (every flood
    // connection closed after the server read all it sent): its CPU and RSS cover the whole flood.
    const run = await runClientDriver(server, dir, ['latency', 1, GOOD_RATE, FLOOD_MS], {
      timeoutMs: DRIVER_TIMEOUT_MS,
      async during() {
        const t0 = performance.now();
        const sent = await flood(server.sock, kind.line);
        return { ...sent, seconds: (performance.now() - t0) / 1000 };
      },
    });
    const g = run.result;
    const { frames, lines: bad, seconds } = run.during;
    await stopProcess(server.proc);
    const stored = readFileSync(server.out, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"daemon":"client-0"')).length;
    const problems = [];
    if (stored !== g.entries) problems.push(`${stored} of ${g.entries} good entries stored`);
    if (g.stats.acked !== g.entries) problems.push(`${g.entries - g.stats.acked} good entries not acked`);
    return {
      seconds,
      bad,
      serverUsPerBad: (run.serverCpuS / bad) * 1e6,
      rssMb: run.serverRssBytes / 1e6,
      good: g,
      frames,
      check: problems.length ? problems.join('; ') : `ok (${stored.toLocaleString('en-US')} good entries stored)`,
    };
  } catch (error) {
    return { failed: String(error?.message ?? error).split('\n')[0] };
  } finally {
    if (server) await stopProcess(server.proc);
    removeTempDir(dir);
  }
}

export async function run() {
  const variants = [{ label: 'none', flags: [] }];
  if (SERVER_NODE_FLAGS.length > 0) variants.push({ label: SERVER_NODE_FLAGS.join(' '), flags: SERVER_NODE_FLAGS });
  const rows = [];
  for (const kind of KINDS) {
    for (const v of variants) {
      const r = await runOne(kind, v.flags);
      if (r.failed) {
        rows.push([kind.name, v.label, '–', '–', '–', '–', '–', '–', '–', r.failed]);
        continue;
      }
      rows.push([
        kind.name,
        v.label,
        r.bad,
        r.bad / r.seconds,
        r.frames,
        r.serverUsPerBad,
        r.rssMb.toFixed(0),
        r.good.p50Ms,
        r.good.p99Ms,
        r.check,
      ]);
    }
  }
  return {
    title: `flood: ${CONNS} connections of lines the server must refuse for ${FLOOD_MS / 1000} s, beside one good client at ${GOOD_RATE.toLocaleString('en-US')} entries/s`,
    columns: [
      'bad lines',
      'server node flags',
      'lines',
      'refused lines/s',
      'error frames',
      'server µs/line',
      'server peak RSS MB',
      'good p50 ms',
      'good p99 ms',
      'check',
    ],
    rows,
    notes: [
      'The flood connections read their answers; a connection whose answers pile up unread gets no more error frames until it catches up (its lines are still refused and counted), so "error frames" can be fewer than lines. The good client (its own process) logs through the flood; latency is from log() to the ack covering the entry, the first 0.5 s left out. Server CPU and peak RSS (VmHWM) cover the whole run.',
      `"server node flags": none, and the flags the systemd unit (NODE_OPTIONS) and \`pnpm start\` give the server. A young generation of 4 MiB semi-spaces (V8's default here is 16 MiB) collects the flood's garbage before it is promoted, which keeps the heap from growing.`,
    ],
  };
}

// End-to-end through the real @logstream/client: 1, 10 and 100 clients in one separate Node
// process log into logstream-server (json file backend). First the acknowledged throughput
// (every flush() resolved), then the ack latency of single entries at half of the measured
// peak rate: from log() to the 'acked' event that covers the entry.
import { readFileSync } from 'node:fs';
import { runClientDriver } from '../lib/driver.mjs';
import { makeTempDir, removeTempDir, stopProcess } from '../lib/procs.mjs';
import { fmtK, median } from '../lib/stats.mjs';
import { startLogstream } from '../lib/targets.mjs';

const CLIENT_COUNTS = [1, 10, 100];
const TOTAL = Number(process.env.BENCH_CLIENT_TOTAL) || 400_000;
const RUNS = Number(process.env.BENCH_RUNS) || 3;
// A p99 moves with every scheduling stall of the VM far more than a throughput does: more runs
// give its median a steadier footing.
const LATENCY_RUNS = Number(process.env.BENCH_LATENCY_RUNS) || Math.max(RUNS, 5);
const LATENCY_MS = 5000;
const DRIVER_TIMEOUT_MS = 120_000;

/** Checks current.log: as many lines as entries, every id once. */
function checkOutput(path, expected) {
  let buf;
  try {
    buf = readFileSync(path);
  } catch (error) {
    return { lines: 0, problem: `no output: ${error.code ?? error.message}` };
  }
  const ids = new Set();
  let lines = 0;
  let dup = 0;
  let bad = 0;
  const key = Buffer.from('{"id":"');
  for (let start = 0; start < buf.length;) {
    let end = buf.indexOf(10, start);
    if (end === -1) end = buf.length;
    lines++;
    if (buf.compare(key, 0, key.length, start, start + key.length) === 0) {
      const close = buf.indexOf(34, start + key.length);
      const id = buf.toString('latin1', start + key.length, close);
      if (ids.has(id)) dup++;
      else ids.add(id);
    } else {
      bad++;
    }
    start = end + 1;
  }
  const problems = [];
  if (lines !== expected) problems.push(`${lines} lines for ${expected} entries`);
  if (dup) problems.push(`${dup} repeated ids`);
  if (bad) problems.push(`${bad} lines without a leading id`);
  return { lines, bytes: buf.length, problem: problems.join('; ') };
}

/** One server on a fresh directory, one driver run against it. */
async function runDriver(args, expectEntries) {
  const dir = makeTempDir();
  let server;
  try {
    server = startLogstream(dir);
    const run = await runClientDriver(server, dir, args, { timeoutMs: DRIVER_TIMEOUT_MS });
    const { result } = run;
    await stopProcess(server.proc);
    const check = checkOutput(server.out, expectEntries ?? result.entries);
    const problems = [];
    if (check.problem) problems.push(check.problem);
    const s = result.stats;
    if (s.acked !== s.logged) problems.push(`${s.logged - s.acked} not acked`);
    for (const k of ['rejected', 'droppedFull', 'resent', 'reconnects']) if (s[k]) problems.push(`${k} ${s[k]}`);
    return {
      ...result,
      serverCpuS: run.serverCpuS,
      serverRssBytes: run.serverRssBytes,
      cpuWaitShare: run.cpuWaitShare,
      lineBytes: check.bytes / check.lines,
      lines: check.lines,
      problems,
    };
  } catch (error) {
    return { failed: String(error.message ?? error).split('\n')[0], problems: [] };
  } finally {
    if (server) await stopProcess(server.proc);
    removeTempDir(dir);
  }
}

const PER_CALL = Number(process.env.BENCH_PER_CALL) || 200_000;
const PER_CALL_ROUNDS = Number(process.env.BENCH_PER_CALL_ROUNDS) || 5;

/** µs of CPU per logging call: the client against pino to /dev/null (sync) and to a file (async). */
async function perCallTable() {
  const dir = makeTempDir();
  let server;
  let row;
  try {
    server = startLogstream(dir);
    const run = await runClientDriver(server, dir, ['per-call', PER_CALL, PER_CALL_ROUNDS, dir], { timeoutMs: DRIVER_TIMEOUT_MS });
    const r = run.result;
    const problems = [];
    if (r.stats.acked !== r.stats.logged) problems.push(`${r.stats.logged - r.stats.acked} not acked`);
    for (const k of ['rejected', 'droppedFull']) if (r.stats[k]) problems.push(`${k} ${r.stats[k]}`);
    const fmt = (xs) => xs.map((x) => x.toFixed(2)).join(' / ');
    row = [
      [`@logstream/client (acked)`, median(r.client), fmt(r.client), median(r.client) / median(r.pinoAsync), problems.join('; ') || 'ok'],
      [`pino ${r.pinoVersion} → /dev/null (sync)`, median(r.pinoSync), fmt(r.pinoSync), median(r.pinoSync) / median(r.pinoAsync), ''],
      [`pino ${r.pinoVersion} → file (async)`, median(r.pinoAsync), fmt(r.pinoAsync), 1, ''],
    ];
  } catch (error) {
    row = [['failed', '–', '–', '–', String(error.message ?? error).split('\n')[0]]];
  } finally {
    if (server) await stopProcess(server.proc);
    removeTempDir(dir);
  }
  return {
    title: `client: CPU µs per logging call against pino, ${PER_CALL.toLocaleString('en-US')} calls a round (median of ${PER_CALL_ROUNDS} alternating rounds, one process)`,
    columns: ['logger', 'µs/call', 'rounds', '× pino to a file', 'check'],
    rows: row,
    notes: [
      'Same message and two string fields for each; process CPU (user + system) over the round divided by the calls. The client round lasts until every entry is acknowledged (encode, send, acks read); pino to /dev/null writes each line synchronously; pino to a file buffers (sonic-boom, async, minLength 4096) and the round ends once the file is flushed and closed. The server runs in another process and its CPU is not counted.',
    ],
  };
}

export async function run() {
  if (process.env.BENCH_CLIENT_ONLY === 'per-call') return [await perCallTable()];
  const runs = new Map(CLIENT_COUNTS.map((n) => [n, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const n of CLIENT_COUNTS) {
      const total = Math.floor(TOTAL / n) * n;
      const r = await runDriver(['throughput', n, total], total);
      r.rate = r.failed ? NaN : r.entries / r.seconds;
      runs.get(n).push(r);
    }
  }
  const peak = new Map();
  const rows = CLIENT_COUNTS.map((n) => {
    const rs = runs.get(n);
    const ok = rs.filter((r) => !r.failed);
    const rate = median(rs.map((r) => r.rate));
    peak.set(n, rate);
    const problems = [...new Set([...rs.flatMap((r) => r.problems), ...rs.filter((r) => r.failed).map((r) => r.failed)])];
    const serverCpu = median(ok.map((r) => r.serverCpuS));
    const entries = ok[0]?.entries ?? Math.floor(TOTAL / n) * n;
    return [
      String(n),
      entries,
      Number.isFinite(rate) ? rate : 'fail',
      rs.map((r) => fmtK(r.rate)).join(' / '),
      Number.isFinite(rate) ? (rate * median(ok.map((r) => r.lineBytes))) / 1e6 : '–',
      Number.isFinite(serverCpu) ? serverCpu : '–',
      Number.isFinite(serverCpu) ? (serverCpu / entries) * 1e6 : '–',
      ok.length ? (Math.max(...ok.map((r) => r.serverRssBytes)) / 1e6).toFixed(0) : '–',
      ok.length ? median(ok.map((r) => r.clientCpuS)) : '–',
      ok.length ? (Math.max(...ok.map((r) => r.peakRssBytes)) / 1e6).toFixed(0) : '–',
      problems.length ? problems.join('; ') : `ok (${ok[0].lines.toLocaleString('en-US')} lines)`,
    ];
  });

  const latencyRows = [];
  for (const n of [1, 10]) {
    const rate = Math.round((peak.get(n) ?? NaN) / 2);
    if (!Number.isFinite(rate) || rate <= 0) {
      latencyRows.push([String(n), '–', '–', '–', '–', '–', '–', '–', '–', '–', '–', 'no peak measured']);
      continue;
    }
    // Each row is the median of LATENCY_RUNS runs (a fresh server each): on a shared machine one
    // run's tail can be a neighbour's, not the pipeline's.
    const rs = [];
    for (let round = 0; round < LATENCY_RUNS; round++) rs.push(await runDriver(['latency', n, rate, LATENCY_MS]));
    const ok = rs.filter((r) => !r.failed);
    if (ok.length === 0) {
      latencyRows.push([String(n), rate, '–', '–', '–', '–', '–', '–', '–', '–', '–', rs[0].failed]);
      continue;
    }
    const problems = [...new Set([...rs.flatMap((r) => r.problems), ...rs.filter((r) => r.failed).map((r) => r.failed)])];
    const med = (key) => median(ok.map((r) => r[key]));
    latencyRows.push([
      String(n),
      rate,
      median(ok.map((r) => r.entries / r.seconds)),
      med('samples'),
      med('p50Ms'),
      med('p90Ms'),
      med('p99Ms'),
      ok.map((r) => r.p99Ms.toFixed(1)).join(' / '),
      med('maxMs'),
      median(ok.map((r) => r.serverCpuS / r.seconds)),
      ok.map((r) => (Number.isFinite(r.cpuWaitShare) ? `${Math.round(r.cpuWaitShare * 100)}` : '–')).join(' / '),
      problems.length ? problems.join('; ') : 'ok',
    ]);
  }

  const lineBytes = median(
    [...runs.values()]
      .flat()
      .filter((r) => !r.failed)
      .map((r) => r.lineBytes),
  );
  const perCall = await perCallTable();
  return [
    {
      title: `client: acknowledged throughput through @logstream/client, ~${TOTAL.toLocaleString('en-US')} entries per run (median of ${RUNS})`,
      columns: [
        'clients',
        'entries',
        'acked entries/s',
        'runs',
        'MB/s',
        'server CPU s',
        'server µs/entry',
        'server peak RSS MB',
        'client CPU s',
        'client peak RSS MB',
        'output check',
      ],
      rows,
      notes: [
        `All clients live in one Node process (bench/lib/client-driver.mjs), separate from the server; each client logs its share (total ${TOTAL.toLocaleString('en-US')}, fewer than 1M to keep the case short) with LogClient defaults (bufferSize 10000, whenFull block), awaiting drain() only when log() returns false (past half the buffer), then flush().`,
        `acked entries/s = entries / seconds from the first log() until the last flush() resolved (every entry acknowledged: in the page cache, file sync none). Lines are ~${Math.round(lineBytes)} B. Each run has a fresh server (json file backend, defaults); its CPU s is user+system during the run, its peak RSS is VmHWM.`,
        'The check counts the lines of current.log and that every id occurs once, and that the clients saw no rejection, drop, resend or reconnect. One client is bounded by its 10000-entry window (send, wait for acks, send); more clients keep the server busy.',
      ],
    },
    {
      title: `client: ack latency at half of the measured peak rate (median of ${LATENCY_RUNS} runs of ${LATENCY_MS / 1000} s)`,
      columns: [
        'clients',
        'offered entries/s',
        'achieved entries/s',
        'samples',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'p99 runs',
        'max ms',
        'server CPU (cores)',
        'CPU wait % runs',
        'check',
      ],
      rows: latencyRows,
      notes: [
        "Offered rate = 50% of the median acked throughput above for that many clients, paced by a 1 ms timer and spread round-robin over the clients. Latency = time from the log() call to the 'acked' event that covers the entry (client and server batching included); the first 0.5 s is left out as warm-up. Achieved below offered means the pipeline fell behind: a client whose buffer is full makes the generator wait (nothing is dropped).",
        'Each figure is the median over the runs (a fresh server each); "p99 runs" lists every run\'s p99. On a machine shared with other work a single run\'s p99 and max can be a scheduling stall of the whole VM (the hot-path case of the same bench shows how much the machine itself varies): read the median, and p50 for the pipeline. "CPU wait %" is, for each run, the share of its time during which some task of the machine was runnable but waited for a CPU (Linux /proc/pressure/cpu): the higher it is, the more of that run\'s tail is the machine\'s.',
      ],
    },
    perCall,
  ];
}

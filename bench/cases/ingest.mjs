// End-to-end ingest: raw NDJSON from a C load generator (4 connections x 250k entries of
// ~213 B) into logstream-server (json file backend) and into the peers an operator might run
// instead — a naive Node server, rsyslog's JSON path, syslog-ng's when present — all in the
// same run, rounds interleaved so that noise hits every target alike. Timing: from the first
// write until the output file holds every line (page cache, no fsync). Every output is checked
// for lost and repeated ids.
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { nativeTools } from '../lib/native.mjs';
import { makeTempDir, parseKv, procStats, removeTempDir, runCommand, stopProcess, tail, errorLine, waitForSocket } from '../lib/procs.mjs';
import { fmtK, median } from '../lib/stats.mjs';
import { ingestTargets } from '../lib/targets.mjs';

const CONNS = 4;
const PER_CONN = Number(process.env.BENCH_INGEST_PER_CONN) || 250_000;
const MSG_BYTES = 20; // "message" field bytes: lines of about 213 B, like DESIGN.md's example entry
const RUNS = Number(process.env.BENCH_RUNS) || 3;
const TIMEOUT_S = 90; // per run, for all lines to arrive; a target that takes longer is reported as such
const N = CONNS * PER_CONN;

async function runOnce(target, tools) {
  const dir = makeTempDir();
  let started;
  try {
    started = target.start(dir);
    const { proc, sock, out } = started;
    await waitForSocket(sock, proc);
    await sleep(300); // a socket file exists slightly before some peers accept
    const problems = [];
    const before = procStats(proc.pid);
    const waitCmd = runCommand(tools.logcheck, ['wait', out, String(N), String(TIMEOUT_S)], { timeoutMs: (TIMEOUT_S + 15) * 1000 });
    const waiting = waitCmd.then(
      (r) => r.stdout,
      (e) => e.stdout ?? '',
    );
    const lgArgs = ['-s', sock, '-c', String(CONNS), '-n', String(PER_CONN), '-m', String(MSG_BYTES), '-t', String(TIMEOUT_S)];
    if (target.handshake) lgArgs.push('-H');
    if (target.acks) lgArgs.push('-A');
    const sendCmd = runCommand(tools.loadgen, lgArgs, { timeoutMs: (TIMEOUT_S * 2 + 30) * 1000 });
    const sending = sendCmd.then(
      (r) => ({ out: r.stdout, err: r.stderr }),
      (e) => ({ out: e.stdout ?? '', err: `${e.message}` }),
    );
    // A receiver that dies mid-run will not write the rest: stop waiting for it at once.
    let finished = false;
    void proc.exited.then(() => {
      if (finished) return;
      waitCmd.kill();
      sendCmd.kill();
    });
    const [waited, sent] = await Promise.all([waiting, sending]);
    const after = procStats(proc.pid);
    finished = true;
    const diedEarly = Boolean(proc.exit);
    if (diedEarly) problems.push(`${proc.name} exited during the run (${JSON.stringify(proc.exit)}): ${errorLine(proc.stderrPath)}`);
    const exit = await stopProcess(proc);
    const w = parseKv(waited);
    const lg = parseKv(sent.out);
    let v = {};
    try {
      v = parseKv((await runCommand(tools.logcheck, ['verify', out, String(CONNS), String(PER_CONN)], { timeoutMs: 60_000 })).stdout);
    } catch (error) {
      v = parseKv(error.stdout ?? ''); // exit status 1 means something was lost or repeated
    }
    let outBytes = NaN;
    try {
      outBytes = statSync(out).size;
    } catch {
      // no output file: the size stays NaN and the report shows it
    }
    const timedOut = w.timed_out !== '0' || !lg.start_epoch;
    const seconds = Number(w.done_epoch) - Number(lg.start_epoch);
    const bytesIn = Number(lg.bytes);
    if (timedOut) problems.push(`only ${w.lines ?? v.lines ?? 0} of ${N} lines${diedEarly ? '' : ` within ${TIMEOUT_S} s`}`);
    if (Number(lg.errors) > 0 || !lg.sent) problems.push(`loadgen: ${sent.err.trim().split('\n').slice(-2).join(' / ')}`);
    if (Number(lg.error_frames) > 0) problems.push(`${lg.error_frames} error frames`);
    for (const k of ['lost', 'dup', 'bad']) if (Number(v[k]) > 0) problems.push(`${k} ${v[k]}`);
    if (v.lines === undefined) problems.push('output not verified');
    if (target.verbatim && !timedOut && outBytes !== bytesIn) problems.push(`output ${outBytes} B != input ${bytesIn} B`);
    if (!diedEarly && exit.signal === 'SIGKILL') problems.push('did not stop on SIGTERM');
    return {
      ok: !timedOut,
      rate: timedOut ? NaN : N / seconds,
      mbps: timedOut ? NaN : bytesIn / seconds / 1e6,
      ackedRate: Number(lg.acked_elapsed) > 0 ? N / Number(lg.acked_elapsed) : NaN,
      cpuS: after.cpuS - before.cpuS,
      peakRssBytes: after.peakRssBytes,
      lines: Number(v.lines),
      problems,
      warning: warningLine(proc.stderrPath),
    };
  } catch (error) {
    return { ok: false, rate: NaN, problems: [String(error.message ?? error).split('\n')[0]] };
  } finally {
    if (started) await stopProcess(started.proc);
    removeTempDir(dir);
  }
}

/** The first warning or error a receiver printed (rsyslog's informational notes left out). */
function warningLine(path) {
  const line = tail(path, 16 * 1024)
    .split('\n')
    .find((l) => /\b(error|warn)/i.test(l) && !/rsyslog internal message \(6,/.test(l));
  return line?.trim().slice(0, 240);
}

export async function run() {
  const tools = await nativeTools();
  const notes = [];
  const targets = [];
  for (const t of ingestTargets) {
    const reason = t.skip();
    if (reason) notes.push(reason);
    else targets.push(t);
  }
  const results = new Map(targets.map((t) => [t.key, []]));
  // Rounds, not one target after another: a burst of load from elsewhere then costs every
  // target one run instead of costing one target all three.
  for (let round = 0; round < RUNS; round++) {
    for (const t of targets) results.get(t.key).push(await runOnce(t, tools));
  }

  const summary = targets.map((t) => {
    const runs = results.get(t.key);
    return {
      t,
      runs,
      median: median(runs.map((r) => r.rate)),
      mbps: median(runs.map((r) => r.mbps)),
      ackedRate: median(runs.map((r) => r.ackedRate)),
      cpuS: median(runs.map((r) => r.cpuS)),
      rssMb: Math.max(...runs.map((r) => r.peakRssBytes ?? NaN).filter(Number.isFinite)) / 1e6,
      problems: [...new Set(runs.flatMap((r) => r.problems))],
    };
  });
  const ls = summary.find((s) => s.t.key === 'logstream');
  const rows = summary.map((s) => [
    s.t.label,
    Number.isFinite(s.median) ? s.median : 'fail',
    Number.isFinite(s.mbps) ? s.mbps : '–',
    s.runs.map((r) => fmtK(r.rate)).join(' / '),
    Number.isFinite(s.cpuS) ? s.cpuS : '–',
    Number.isFinite(s.cpuS) && Number.isFinite(s.median) ? (s.cpuS / N) * 1e6 : '–',
    Number.isFinite(s.rssMb) ? s.rssMb.toFixed(0) : '–',
    s.problems.length === 0 ? `ok (${s.runs[0]?.lines?.toLocaleString('en-US')} lines)` : s.problems.join('; '),
    s === ls ? '1.00' : ls && Number.isFinite(ls.median / s.median) ? (ls.median / s.median).toFixed(2) : '–',
  ]);
  if (ls && Number.isFinite(ls.ackedRate)) {
    notes.push(
      `logstream-server acknowledged throughput (until the load generator held the last ack of every connection): median ${Math.round(ls.ackedRate).toLocaleString('en-US')} entries/s.`,
    );
  }
  for (const s of summary) {
    const warning = s.runs.map((r) => r.warning).find(Boolean);
    if (warning) notes.push(`${s.t.key} stderr: ${warning}`);
  }
  notes.push(
    `Load: ${CONNS} connections x ${PER_CONN.toLocaleString('en-US')} complete entries (~213 B, canonical key order, unique ids) = ${N.toLocaleString('en-US')} per run, pre-built by bench/loadgen.c and written in 256 KiB chunks; ${RUNS} runs per target, interleaved. ` +
      'LogStream gets the daemon-name handshake and its ack frames are read (and discarded); the peers do not speak the handshake and get the entries alone.',
    '"Done" = the output file holds all N lines, seen through the page cache: nothing is fsynced (LogStream file sync = none, its default; rotation size raised to 8 GiB so one run stays in current.log). ' +
      'entries/s = N / seconds from the first write to done; MB/s = input bytes / those seconds. The check counts lines and ids (logcheck verify: none lost, none repeated); for LogStream also that the file holds the input bytes unchanged.',
    'CPU s = user+system seconds of the receiver process during the run (all its threads); µs/entry = CPU s / N; peak RSS = VmHWM of the receiver. "LogStream ×" = LogStream median / this median (above 1: LogStream is faster). The load generator, the checker and the receiver share the machine\'s cores.',
  );
  return {
    title: `ingest: raw NDJSON over a Unix socket to a file, ${CONNS} conns x ${PER_CONN.toLocaleString('en-US')} entries (median of ${RUNS})`,
    columns: ['target', 'entries/s', 'MB/s', 'runs (entries/s)', 'CPU s', 'CPU µs/entry', 'peak RSS MB', 'output check', 'LogStream ×'],
    rows,
    notes,
  };
}

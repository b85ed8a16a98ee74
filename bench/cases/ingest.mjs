// End-to-end ingest: raw NDJSON from a C load generator into logstream-server, and the same input
// into the receivers an operator might run instead (rsyslog's JSON path, a naive Node server,
// syslog-ng's JSON path when present), in one run, rounds interleaved so that noise hits every
// target alike. Four groups of rows (`--rows shapes,conns,outputs,settings`): input shapes (4
// connections, json file), connection counts (canonical ~208 B lines, json file), outputs
// (canonical ~208 B lines, 4 connections: json, human and syslog file formats, syslog over TCP to
// a real rsyslogd, a real journald) and server settings that cost CPU per entry (the rate limit,
// the dedupe window). Every output is checked for lost and repeated entries. `--compare-dir`
// adds the server of another built checkout as one more receiver, measured in the same rounds.
// `--profile` instead runs one canonical row with the server under `node --cpu-prof` and prints
// the functions with the most self time.
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { nativeTools } from '../lib/native.mjs';
import { exportJournal, journaldSkipReason, startJournald, startRsyslogSink } from '../lib/peers.mjs';
import {
  cpuWaitUs,
  errorLine,
  makeTempDir,
  parseKv,
  procStats,
  removeTempDir,
  runCommand,
  stopProcess,
  tail,
  waitForSocket,
} from '../lib/procs.mjs';
import { fmtK, median } from '../lib/stats.mjs';
import { SERVER_NODE_FLAGS, ingestTargets, startLogstream } from '../lib/targets.mjs';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const TIMEOUT_S = 120; // per run, for every line to arrive; a target that takes longer is reported as such
const DEFAULT_CONNS = 4;
const QUICK_DIVISOR = 20;

// Entry counts per run, chosen so that a full run (3 rounds, every group) stays around ten
// minutes on a loaded 2-core machine: each run lasts a few seconds of load plus ~1 s of start-up.
// BENCH_INGEST_SCALE multiplies them (0.1: a tenth).
const SHAPES = [
  { key: 'canonical-208', label: '~208 B canonical', shape: 'canonical', lineBytes: 208, entries: 250_000 },
  { key: 'reorder-208', label: '~208 B other key order', shape: 'reorder', lineBytes: 208, entries: 250_000 },
  { key: 'partial-97', label: '~97 B partial (message, level)', shape: 'partial', lineBytes: 97, entries: 250_000 },
  { key: 'canonical-1k', label: '~1 KB canonical', shape: 'canonical', lineBytes: 1024, entries: 80_000 },
  { key: 'canonical-8k', label: '~8 KB canonical', shape: 'canonical', lineBytes: 8192, entries: 12_000 },
];
const CONN_COUNTS = [1, 16, 256, 1000];
const CONN_ENTRIES = 250_000;
const OUTPUTS = [
  { key: 'json', label: 'json file' },
  { key: 'human', label: 'human file format', marker: 'fields', config: '\n[backends.file]\nformat = "human"\n' },
  { key: 'syslog-file', label: 'syslog file format (RFC 5424)', marker: 'fields', config: '\n[backends.file]\nformat = "syslog"\n' },
  { key: 'syslog-tcp', label: 'syslog over TCP to rsyslogd', marker: 'fields' },
  // Few entries: journald takes them at a few thousand a second here.
  { key: 'journald', label: 'journald (native socket)', marker: '"LOGSTREAM_ID":"', entries: 15_000 },
];
// Settings rows: canonical ~208 B lines, 4 connections, json file, with `server` added to the
// `[server]` table; each beside the defaults (the json output row).
const SETTINGS = [
  {
    key: 'json+rate-limit',
    label: 'rate limit on, no sender over its burst (interval 30 s, burst 100,000,000)',
    server: 'rate_limit_interval_ms = 30000\nrate_limit_burst = 100000000\n',
  },
  { key: 'json+no-dedupe', label: 'dedupe off (dedupe_window = 0)', server: 'dedupe_window = 0\n' },
];
const GROUPS = ['shapes', 'conns', 'outputs', 'settings'];
/** The receiver `--compare-dir` adds: the server of another checkout, fed like this one's. */
const COMPARE_KEY = 'logstream-compare';
// --profile: enough entries that start-up is a small part of the profile.
const PROFILE_ENTRIES = 1_000_000;

/** Parses `--rows`: the groups to run, in their fixed order. */
function parseRows(text) {
  if (text === undefined || text === true) return GROUPS;
  const wanted = String(text)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((g) => !GROUPS.includes(g));
  if (unknown.length > 0 || wanted.length === 0) {
    throw new Error(`--rows ${text}: expected a comma-separated list of ${GROUPS.join(', ')}`);
  }
  return GROUPS.filter((g) => wanted.includes(g));
}

function loadText() {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

/** An input: shape, line size, connections and entries per connection (N = conns x perConn). */
function input(shape, lineBytes, conns, entries, scale) {
  const perConn = Math.max(1, Math.ceil((entries * scale) / conns));
  const marker = shape === 'partial' ? 'ref=' : undefined;
  return { shape, lineBytes, conns, perConn, n: perConn * conns, marker, key: `${shape}/${lineBytes}/${conns}/${perConn}` };
}

/** The rows of the chosen groups, and the distinct measurements they need. */
function plan(groups, scale, baselines) {
  const rows = [];
  const measurements = new Map();
  const need = (target, inp, output = OUTPUTS[0]) => {
    const id = `${target}|${inp.key}|${output.key}`;
    if (!measurements.has(id)) measurements.set(id, { id, target, input: inp, output });
    return id;
  };
  // The peers have no outputs to choose; the compared server gets the row's output (but not its
  // settings: a settings row compares with the compared server's defaults).
  const baselineIds = (inp, output = OUTPUTS[0], compared = inp) =>
    Object.fromEntries(baselines.map((b) => [b.key, b.key === COMPARE_KEY ? need(b.key, compared, output) : need(b.key, inp)]));
  const canonical = input('canonical', 208, DEFAULT_CONNS, SHAPES[0].entries, scale);
  for (const group of groups) {
    if (group === 'shapes') {
      for (const s of SHAPES) {
        const inp = input(s.shape, s.lineBytes, DEFAULT_CONNS, s.entries, scale);
        rows.push({ group, label: s.label, inp, ls: need('logstream', inp), base: baselineIds(inp) });
      }
    } else if (group === 'conns') {
      for (const c of CONN_COUNTS) {
        const inp = input('canonical', 208, c, CONN_ENTRIES, scale);
        rows.push({
          group,
          label: `${c.toLocaleString('en-US')} connection${c === 1 ? '' : 's'}`,
          inp,
          ls: need('logstream', inp),
          base: baselineIds(inp),
        });
      }
    } else if (group === 'outputs') {
      for (const o of OUTPUTS) {
        const inp = o.entries === undefined ? canonical : input('canonical', 208, DEFAULT_CONNS, o.entries, scale);
        const skip =
          o.key === 'journald'
            ? journaldSkipReason()
            : o.key === 'syslog-tcp' && !rsyslogPresent()
              ? 'syslog-tcp row skipped: /usr/sbin/rsyslogd is missing'
              : undefined;
        rows.push({
          group,
          label: o.label,
          output: o,
          inp,
          skip,
          ls: skip ? undefined : need('logstream', inp, o),
          base: skip ? {} : baselineIds(canonical, o, inp),
        });
      }
    } else {
      const label = 'defaults (dedupe_window 65,536, rate limit off)';
      rows.push({ group, label, inp: canonical, ls: need('logstream', canonical), base: baselineIds(canonical) });
      for (const setting of SETTINGS) {
        rows.push({ group, label: setting.label, inp: canonical, ls: need('logstream', canonical, setting), base: baselineIds(canonical) });
      }
    }
  }
  return { rows, measurements: [...measurements.values()] };
}

function rsyslogPresent() {
  try {
    return statSync('/usr/sbin/rsyslogd').isFile();
  } catch {
    return false;
  }
}

/** Runs one measurement: a fresh receiver (and peer) on a fresh directory, one load, the checks. */
async function runOnce(m, tools, opts) {
  const dir = makeTempDir();
  const { input: inp, output } = m;
  const isLs = m.target === 'logstream' || m.target === COMPARE_KEY;
  const serverDir = m.target === COMPARE_KEY ? opts.compareDir : opts.serverDir;
  const cleanups = [];
  let proc;
  let peer; // the process an output row sends to, whose CPU is reported too
  try {
    let done = { kind: 'file' };
    let extra = output.config ?? '';
    if (isLs && output.key === 'syslog-tcp') {
      const sink = await startRsyslogSink(dir);
      cleanups.push(() => stopProcess(sink.proc));
      peer = { name: 'rsyslogd (TCP sink)', pid: sink.proc.pid };
      extra = `\n[backends.file]\nenabled = false\n\n[backends.syslog]\nenabled = true\nserver = "tcp://127.0.0.1:${sink.port}"\n`;
      done = { kind: 'file', path: sink.out };
    } else if (isLs && output.key === 'journald') {
      const journald = await startJournald();
      cleanups.push(() => journald.stop());
      peer = { name: 'journald', pid: journald.pid };
      extra = `\n[backends.file]\nenabled = false\n\n[backends.journald]\nenabled = true\nsocket_path = ${JSON.stringify(journald.socket)}\n`;
      done = { kind: 'journald', journald, path: join(dir, 'journal.jsonl') };
    }
    const started = isLs
      ? startLogstream(dir, extra, opts.nodeFlags ?? SERVER_NODE_FLAGS, { serverDir, serverSettings: output.server })
      : ingestTargets.find((t) => t.key === m.target).start(dir);
    proc = started.proc;
    done.path ??= started.out;
    const marker = isLs ? (output.marker ?? inp.marker) : inp.marker;
    await waitForSocket(started.sock, proc);
    await sleep(300); // a socket file exists slightly before some peers accept
    const problems = [];
    const before = procStats(proc.pid);
    const peerBefore = peer ? procStats(peer.pid) : undefined;
    const n = inp.n;
    const waitCmd =
      done.kind === 'file'
        ? runCommand(tools.logcheck, ['wait', done.path, String(n), String(TIMEOUT_S)], { timeoutMs: (TIMEOUT_S + 15) * 1000 })
        : undefined;
    const waiting = waitCmd?.then(
      (r) => r.stdout,
      (e) => e.stdout ?? '',
    );
    const lgArgs = ['-s', started.sock, '-c', String(inp.conns), '-n', String(inp.perConn), '-L', String(inp.lineBytes), '-k', inp.shape];
    lgArgs.push('-t', String(TIMEOUT_S));
    if (isLs) lgArgs.push('-H', '-A');
    const sendCmd = runCommand(tools.loadgen, lgArgs, { timeoutMs: (TIMEOUT_S * 2 + 60) * 1000 });
    const sending = sendCmd.then(
      (r) => ({ out: r.stdout, err: r.stderr }),
      (e) => ({ out: e.stdout ?? '', err: `${e.message}` }),
    );
    // A receiver that dies mid-run will not write the rest: stop waiting for it at once.
    let finished = false;
    void proc.exited.then(() => {
      if (finished) return;
      waitCmd?.kill();
      sendCmd.kill();
    });
    const [waited, sent] = await Promise.all([waiting ?? '', sending]);
    const after = procStats(proc.pid);
    let peerAfter = peer ? procStats(peer.pid) : undefined;
    finished = true;
    const diedEarly = Boolean(proc.exit);
    if (diedEarly) problems.push(`${proc.name} exited during the run (${JSON.stringify(proc.exit)}): ${errorLine(proc.stderrPath)}`);
    const exit = await stopProcess(proc);
    const lg = parseKv(sent.out);
    const ackedS = Number(lg.acked_elapsed);
    let seconds;
    let timedOut;
    if (done.kind === 'file') {
      const w = parseKv(waited);
      timedOut = w.timed_out !== '0' || !lg.start_epoch;
      seconds = Number(w.done_epoch) - Number(lg.start_epoch);
      if (timedOut) problems.push(`only ${w.lines ?? 0} of ${n} lines${diedEarly ? '' : ` within ${TIMEOUT_S} s`}`);
    } else {
      // journald: done when the server acknowledged every entry, i.e. when each was sent to
      // journald's socket; the journal is read back (untimed) for the check below.
      timedOut = !(ackedS > 0);
      seconds = ackedS;
      if (timedOut) problems.push(`not every entry acknowledged within ${TIMEOUT_S} s`);
      const count = await exportJournal(done.journald, done.path, n);
      if (count !== n) problems.push(`journal holds ${count} of ${n} entries`);
      peerAfter = procStats(peer.pid); // journald has read its queue by now
    }
    if (Number(lg.errors) > 0 || !lg.sent) problems.push(`loadgen: ${sent.err.trim().split('\n').slice(-2).join(' / ')}`);
    if (Number(lg.error_frames) > 0) problems.push(`${lg.error_frames} error frames`);
    let v = {};
    try {
      const args = ['verify', done.path, String(inp.conns), String(inp.perConn)];
      if (marker) args.push(marker);
      v = parseKv((await runCommand(tools.logcheck, args, { timeoutMs: 120_000 })).stdout);
    } catch (error) {
      v = parseKv(error.stdout ?? ''); // exit status 1 means something was lost or repeated
    }
    for (const k of ['lost', 'dup', 'bad']) if (Number(v[k]) > 0) problems.push(`${k} ${v[k]}`);
    if (v.lines === undefined) problems.push('output not verified');
    // Complete canonical entries are stored as sent (unless the server adds the sender as "peer").
    if (isLs && inp.shape === 'canonical' && output.key.startsWith('json') && !timedOut) {
      const outBytes = sizeOf(done.path);
      if (outBytes !== Number(lg.bytes) && !tail(done.path, 4096).includes('"peer":'))
        problems.push(`output ${outBytes} B != input ${lg.bytes} B`);
    }
    if (!diedEarly && exit.signal === 'SIGKILL') problems.push('did not stop on SIGTERM');
    return {
      rate: timedOut ? NaN : n / seconds,
      ackedRate: ackedS > 0 ? n / ackedS : NaN,
      cpuUsPerEntry: ((after.cpuS - before.cpuS) / n) * 1e6,
      peakRssBytes: after.peakRssBytes,
      peer: peer?.name,
      peerCpuUsPerEntry: peer ? ((peerAfter.cpuS - peerBefore.cpuS) / n) * 1e6 : NaN,
      problems,
      warning: warningLine(proc.stderrPath),
    };
  } catch (error) {
    return { rate: NaN, ackedRate: NaN, cpuUsPerEntry: NaN, problems: [String(error.message ?? error).split('\n')[0]] };
  } finally {
    if (proc) await stopProcess(proc);
    for (const c of cleanups.reverse()) await c().catch(() => {});
    removeTempDir(dir);
  }
}

function sizeOf(path) {
  try {
    return statSync(path).size;
  } catch {
    return NaN;
  }
}

/** The first warning or error a receiver printed (rsyslog's informational notes left out). */
function warningLine(path) {
  const line = tail(path, 16 * 1024)
    .split('\n')
    .find((l) => /\b(error|warn)/i.test(l) && !/rsyslog internal message \(6,/.test(l));
  return line?.trim().slice(0, 240);
}

function summarize(runs) {
  if (!runs || runs.length === 0) return undefined;
  const rss = runs.map((r) => r.peakRssBytes).filter(Number.isFinite);
  return {
    runs,
    rate: median(runs.map((r) => r.rate)),
    ackedRate: median(runs.map((r) => r.ackedRate)),
    cpu: median(runs.map((r) => r.cpuUsPerEntry)),
    rssMb: rss.length > 0 ? Math.max(...rss) / 1e6 : NaN,
    peer: runs.map((r) => r.peer).find(Boolean),
    peerCpu: median(runs.map((r) => r.peerCpuUsPerEntry)),
    problems: [...new Set(runs.flatMap((r) => r.problems))],
    warning: runs.map((r) => r.warning).find(Boolean),
  };
}

const num = (x, digits) => (Number.isFinite(x) ? (digits === undefined ? x : x.toFixed(digits)) : '–');
const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const ratio = (a, b) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '–');

function tableFor(group, rows, results, baselines, rounds) {
  const firstCol = {
    shapes: 'input (4 connections, json file)',
    conns: 'connections (~208 B canonical, json file)',
    outputs: 'output (~208 B canonical, 4 connections)',
    settings: 'server settings (~208 B canonical, 4 connections, json file)',
  }[group];
  const columns = [firstCol, 'LogStream entries/s', 'runs', 'acked/s', 'CPU µs/entry', 'peak RSS MB'];
  for (const b of baselines) columns.push(`${b.short} entries/s`, 'CPU µs/entry', 'peak RSS MB');
  for (const b of baselines) columns.push(`LogStream ÷ ${b.short}`);
  if (group === 'outputs') columns.push('÷ json file');
  if (group === 'conns') columns.push('÷ 16 connections');
  if (group === 'settings') columns.push('÷ defaults');
  if (group === 'shapes') columns.push('CPU ns/byte');
  columns.push('check');
  const jsonRow = rows.find((r) => r.output?.key === 'json') ?? (group === 'settings' ? rows[0] : undefined);
  const jsonRate = jsonRow ? summarize(results.get(jsonRow.ls))?.rate : NaN;
  const row16 = rows.find((r) => r.inp.conns === 16);
  const rate16 = row16 ? summarize(results.get(row16.ls))?.rate : NaN;
  const out = rows.map((row) => {
    if (row.skip) return [row.label, row.skip, ...Array(columns.length - 2).fill('')];
    const ls = summarize(results.get(row.ls));
    const cells = [
      row.label,
      num(ls.rate),
      ls.runs.map((r) => fmtK(r.rate)).join(' / '),
      num(ls.ackedRate),
      num(ls.cpu, 2),
      num(ls.rssMb, 0),
    ];
    const bs = baselines.map((b) => summarize(results.get(row.base[b.key])));
    for (const s of bs) cells.push(num(s?.rate), num(s?.cpu, 2), num(s?.rssMb, 0));
    for (const s of bs) cells.push(ratio(ls.rate, s?.rate));
    if (group === 'outputs') cells.push(ratio(ls.rate, jsonRate));
    if (group === 'conns') cells.push(ratio(ls.rate, rate16));
    if (group === 'settings') cells.push(ratio(ls.rate, jsonRate));
    if (group === 'shapes') cells.push(num((ls.cpu * 1000) / row.inp.lineBytes, 2));
    const problems = [
      ...ls.problems.map((p) => `LogStream: ${p}`),
      ...baselines.flatMap((b, i) => (bs[i]?.problems ?? []).map((p) => `${b.short}: ${p}`)),
    ];
    cells.push(problems.length === 0 ? 'ok' : problems.join('; '));
    return cells;
  });
  const title = {
    shapes: 'ingest by input shape',
    conns: 'ingest by connection count',
    outputs: 'ingest by output',
    settings: 'ingest by server setting',
  }[group];
  const counts = rows
    .filter((r) => !r.skip)
    .map((r) => `${r.label}: ${r.inp.n.toLocaleString('en-US')}`)
    .join(', ');
  const notes = [`Entries per run: ${counts}.`];
  const peers = rows
    .filter((r) => !r.skip)
    .map((r) => summarize(results.get(r.ls)))
    .filter((x) => x?.peer)
    .map((x) => `${x.peer} ${num(x.peerCpu, 2)}`);
  if (peers.length > 0) notes.push(`CPU µs/entry of the peer the server sends to (median): ${peers.join(', ')}.`);
  return {
    title: `${title} (median of ${rounds} interleaved round${rounds === 1 ? '' : 's'})`,
    columns,
    rows: out,
    notes,
  };
}

async function runRows(ctx, tools) {
  const opts = ctx.options ?? {};
  const quick = Boolean(opts.quick);
  const scale = (Number(process.env.BENCH_INGEST_SCALE) || 1) / (quick ? QUICK_DIVISOR : 1);
  const rounds = quick ? 1 : Number(process.env.BENCH_RUNS) || 3;
  const groups = parseRows(opts.rows);
  const notes = [];
  const baselines = [];
  for (const t of ingestTargets) {
    if (t.key === 'logstream') continue;
    const reason = t.skip();
    if (reason) notes.push(reason);
    else baselines.push(t);
  }
  if (opts.compareDir) baselines.unshift({ key: COMPARE_KEY, short: 'compared server' });
  const { rows, measurements } = plan(groups, scale, baselines);
  const results = new Map(measurements.map((m) => [m.id, []]));
  const loads = [`start ${loadText()}`];
  const waitStart = cpuWaitUs();
  const started = Date.now();
  // Rounds, not one target after another: a burst of load from elsewhere then costs every
  // target one run instead of costing one target all three.
  for (let round = 0; round < rounds; round++) {
    for (const m of measurements) results.get(m.id).push(await runOnce(m, tools, opts));
    loads.push(`${round + 1 === rounds ? 'end' : `after round ${round + 1}`} ${loadText()}`);
  }
  const wallUs = (Date.now() - started) * 1000;
  const waitEnd = cpuWaitUs();

  const tables = GROUPS.filter((g) => groups.includes(g)).map((g) =>
    tableFor(
      g,
      rows.filter((r) => r.group === g),
      results,
      baselines,
      rounds,
    ),
  );
  const warnings = [];
  for (const m of measurements) {
    const w = summarize(results.get(m.id))?.warning;
    if (w && !warnings.some((x) => x.startsWith(`${m.target} `))) warnings.push(`${m.target} stderr: ${w}`);
  }
  const pressure =
    waitStart !== undefined && waitEnd !== undefined
      ? ` Some task of the machine waited for a CPU ${(((waitEnd - waitStart) / wallUs) * 100).toFixed(0)} % of the time (/proc/pressure/cpu).`
      : '';
  const last = tables.at(-1);
  last.notes.push(
    ...notes,
    ...warnings,
    `Load average (1/5/15 min): ${loads.join('; ')}.${pressure} Figures are comparable only within this run.`,
    `Server: ${opts.serverDir ? `${opts.serverDir}/apps/server/dist/cli.js` : 'apps/server/dist/cli.js of this checkout'}${opts.compareDir ? `; compared server: ${opts.compareDir}/apps/server/dist/cli.js (same config and output per row; settings rows compare with its defaults)` : ''}, Node flags ${(opts.nodeFlags ?? SERVER_NODE_FLAGS).join(' ') || '(none)'}; default config except the socket, the output directory, max_file_size 8 GiB (no rotation during a run) and the row's backend. ` +
      'Input: bench/loadgen.c pre-builds every entry (unique ids; partial entries carry a unique reference in the message), then writes them in 256 KiB chunks with blocking writes; LogStream gets the daemon-name handshake and its acks are read. The peers get the entries alone.',
    "entries/s = N / seconds from the first write until the output holds all N lines (json, human, syslog file: the file; syslog TCP: the file rsyslogd writes each received message to; journald: until the server acknowledged every entry, i.e. sent it to journald's socket). acked/s = N / seconds until the last ack. " +
      'CPU µs/entry = the receiver\'s user+system CPU (all threads) during the run / N; peak RSS = its VmHWM. "LogStream ÷ X" above 1: LogStream is faster. The load generator, the checker and the receiver share the machine\'s cores. ' +
      'The check counts lines and entries (logcheck verify: none lost, none repeated; journald: read back with journalctl) and, for canonical input to the json file, that LogStream stored the input bytes unchanged.',
  );
  return tables;
}

/** Top functions by self time in a .cpuprofile (V8's format: nodes with hit counts). */
function topFunctions(profile, count, root) {
  const byKey = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const cf = node.callFrame;
    const url = cf.url.startsWith('file://') ? relative(root, fileURLToPath(cf.url)) : cf.url;
    const where = url ? `${url}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`;
    const entry = byKey.get(key) ?? { name: cf.functionName || '(anonymous)', where, hits: 0 };
    entry.hits += hits;
    byKey.set(key, entry);
  }
  const idle = [...byKey.values()].filter((e) => e.name === '(idle)').reduce((a, e) => a + e.hits, 0);
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  const top = [...byKey.values()].sort((a, b) => b.hits - a.hits).slice(0, count);
  return { top, total, idle, durationMs };
}

async function runProfile(ctx, tools) {
  const opts = ctx.options ?? {};
  const scale = (Number(process.env.BENCH_INGEST_SCALE) || 1) / (opts.quick ? QUICK_DIVISOR : 1);
  const inp = input('canonical', 208, DEFAULT_CONNS, PROFILE_ENTRIES, scale);
  const profDir = makeTempDir('lsb-prof-');
  try {
    const nodeFlags = [...(opts.nodeFlags ?? SERVER_NODE_FLAGS), '--cpu-prof', `--cpu-prof-dir=${profDir}`];
    mkdirSync(profDir, { recursive: true });
    const load = loadText();
    const r = await runOnce({ target: 'logstream', input: inp, output: OUTPUTS[0] }, tools, { ...opts, nodeFlags });
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0)
      throw new Error(`the server wrote no CPU profile to ${profDir} (it must exit on SIGTERM, not be killed): ${r.problems.join('; ')}`);
    // One file per thread; the main thread's has the most samples.
    const profiles = files.map((f) => JSON.parse(readFileSync(join(profDir, f), 'utf8')));
    const main = profiles.reduce((a, b) => (b.samples.length > a.samples.length ? b : a));
    const { top, total, idle, durationMs } = topFunctions(main, 15, opts.serverDir ?? repoRoot);
    const busy = total - idle;
    return {
      title: `ingest --profile: the server's main thread under node --cpu-prof, ~208 B canonical, ${DEFAULT_CONNS} connections x ${inp.perConn.toLocaleString('en-US')} entries, json file`,
      columns: ['function', 'where', 'self ms', 'self % of samples', 'self % of non-idle'],
      rows: top.map((e) => [
        e.name,
        e.where,
        (e.hits / total) * durationMs,
        ((e.hits / total) * 100).toFixed(1),
        e.name === '(idle)' ? '–' : ((e.hits / busy) * 100).toFixed(1),
      ]),
      notes: [
        `While profiled: ${int(r.rate)} entries/s (acked ${int(r.ackedRate)}), ${num(r.cpuUsPerEntry, 2)} CPU µs/entry, peak RSS ${num((r.peakRssBytes ?? NaN) / 1e6, 0)} MB; check: ${r.problems.join('; ') || 'ok'}. The profiler itself slows the server.`,
        `Profile: ${total.toLocaleString('en-US')} samples over ${(durationMs / 1000).toFixed(1)} s of the server's life (start-up and shutdown included), ${((idle / total) * 100).toFixed(0)} % idle; ${files.length} profile file(s) (one per thread), the main thread shown. Self time = samples in the function itself, not its callees. Load average at start ${load}, at end ${loadText()}.`,
      ],
    };
  } finally {
    removeTempDir(profDir);
  }
}

export async function run(ctx = {}) {
  const tools = await nativeTools();
  if (ctx.options?.profile) return runProfile(ctx, tools);
  return runRows(ctx, tools);
}

// NATS JetStream backend: entries/s acknowledged end to end (every entry stored by every backend
// before logstream-server acks it) from the C load generator (4 connections, -A) into
// logstream-server with only the file backend, with only the nats backend on an R1 stream, and
// on an R3 stream, in one run, plus the server's peak RSS. A real 3-node nats-server cluster on
// 127.0.0.1 is started and stopped here through the backend's test peer scripts
// (packages/test-support/peers/start-nats-cluster.sh, which apt-get installs nats-server
// if it is missing and the bench runs as root). Each stream is read back: its message count
// must equal the entries sent (Nats-Msg-Id dedupe, nothing lost).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeTools } from '../lib/native.mjs';
import { makeTempDir, parseKv, procStats, removeTempDir, runCommand, stopProcess, waitForSocket, errorLine } from '../lib/procs.mjs';
import { median } from '../lib/stats.mjs';
import { startLogstream } from '../lib/targets.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const helpers = join(root, 'packages', 'test-support', 'peers');
const CONNS = 4;
const PER_CONN = Number(process.env.BENCH_NATS_PER_CONN) || 12_500;
const LINE_BYTES = 213; // as before: lines of about 213 B
const RUNS = Number(process.env.BENCH_RUNS) || 1;
const TIMEOUT_S = 180;
const N = CONNS * PER_CONN;

async function startCluster() {
  const { stdout } = await runCommand(join(helpers, 'start-nats-cluster.sh'), ['3'], { timeoutMs: 180_000 });
  const env = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

/** Messages stored in `stream` now (its state, read through the `nats` client). */
async function streamMessages(nats, servers, stream) {
  const nc = await nats.connect({ servers, timeout: 10_000 });
  try {
    return (await (await nc.jetstreamManager()).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

async function runOnce(target, tools, nats, servers) {
  const dir = makeTempDir('lsb-nats-');
  let started;
  try {
    started = startLogstream(dir, target.config);
    const { proc, sock } = started;
    await waitForSocket(sock, proc);
    const lgArgs = ['-s', sock, '-c', String(CONNS), '-n', String(PER_CONN), '-L', String(LINE_BYTES), '-t', String(TIMEOUT_S), '-H', '-A'];
    let lg;
    try {
      lg = parseKv((await runCommand(tools.loadgen, lgArgs, { timeoutMs: (TIMEOUT_S * 2 + 30) * 1000 })).stdout);
    } catch (error) {
      lg = parseKv(error.stdout ?? '');
    }
    const stats = procStats(proc.pid);
    const problems = [];
    if (proc.exit) problems.push(`server exited: ${errorLine(proc.stderrPath)}`);
    const acked = Number(lg.acked_elapsed) > 0;
    if (!acked) problems.push(`not every entry acknowledged within ${TIMEOUT_S} s`);
    let stored = NaN;
    if (target.stream) {
      stored = await streamMessages(nats, servers, target.stream);
      if (stored !== N) problems.push(`stream ${target.stream} holds ${stored} of ${N}`);
    }
    return { rate: acked ? N / Number(lg.acked_elapsed) : NaN, rssMb: (stats.peakRssBytes ?? NaN) / 1e6, problems };
  } catch (error) {
    return { rate: NaN, rssMb: NaN, problems: [String(error.message ?? error).split('\n')[0]] };
  } finally {
    if (started) await stopProcess(started.proc);
    removeTempDir(dir);
  }
}

export async function run() {
  const tools = await nativeTools();
  const require = createRequire(join(root, 'packages', 'backend-nats', 'package.json'));
  const nats = require('nats');
  const env = await startCluster();
  const servers = env.NATS_URLS.split(',');
  const results = new Map();
  let version = '';
  try {
    version = (await runCommand(env.NATS_BIN, ['--version'], { timeoutMs: 10_000 })).stdout.trim();
    const nat = (stream, replicas) =>
      `\n[backends.file]\nenabled = false\n\n[backends.nats]\nenabled = true\nservers = ${JSON.stringify(servers)}\nstream = "${stream}"\nsubject_prefix = "${stream.toLowerCase()}"\nreplicas = ${replicas}\n`;
    const targets = [
      { key: 'file', label: 'file backend only (json, sync none)', config: '' },
      // A stream (and subject prefix: two streams may not share subjects) per run, so counts are exact.
      { key: 'r1', label: 'nats backend only, R1 stream', replicas: 1 },
      { key: 'r3', label: 'nats backend only, R3 stream', replicas: 3 },
    ];
    for (const t of targets) results.set(t.key, []);
    for (let round = 0; round < RUNS; round++) {
      for (const t of targets) {
        const stream = t.replicas === undefined ? undefined : `BENCH_${t.key.toUpperCase()}_${round}`;
        const target = { ...t, stream, config: stream === undefined ? t.config : nat(stream, t.replicas) };
        results.get(t.key).push(await runOnce(target, tools, nats, servers));
      }
    }
    const rows = targets.map((t) => {
      const runs = results.get(t.key);
      const problems = [...new Set(runs.flatMap((r) => r.problems))];
      const rate = median(runs.map((r) => r.rate));
      return [t.label, Number.isFinite(rate) ? rate : 'fail', Math.max(...runs.map((r) => r.rssMb)), problems.join('; ') || 'ok'];
    });
    return {
      title: `nats: ${N.toLocaleString('en-US')} entries (${CONNS} connections, ~213 B), acknowledged end to end; ${RUNS} run(s), median`,
      columns: ['target', 'entries/s acked', 'server peak RSS MB', 'check'],
      rows,
      notes: [
        `3-node JetStream cluster on 127.0.0.1 (${version}), file store; the nats backend publishes each batch with up to 256 PubAcks outstanding.`,
        "A write resolves only once JetStream (a majority of the stream's replicas) acknowledged each entry: every entry costs one JetStream request and its PubAck, in the server and in nats-server.",
      ],
    };
  } finally {
    await runCommand(join(helpers, 'stop-peer.sh'), ['nats-server', env.NATS_PIDS ?? '', env.NATS_DIR ?? '']);
  }
}

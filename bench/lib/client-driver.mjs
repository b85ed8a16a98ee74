#!/usr/bin/env node
// The client side of the client and flood cases (bench/cases/client.mjs and flood.mjs), started
// by lib/driver.mjs as its own process so that the clients never share an event loop (or a CPU
// account) with the server. All clients live in this one process, as they would in a daemon that
// opens several. Prints one JSON line with the result.
//
//   node client-driver.mjs throughput SOCK CLIENTS TOTAL
//     Each client logs TOTAL/CLIENTS entries as fast as log() admits them (awaiting log() only
//     when the buffer is full), then flush(). Reports seconds until the last flush resolved.
//   node client-driver.mjs per-call SOCK CALLS ROUNDS DIR
//     CPU µs per logging call of one client (entries acknowledged), of pino to /dev/null (sync)
//     and of pino to a file in DIR (async), in alternating rounds in this one process.
//   node client-driver.mjs latency SOCK CLIENTS RATE DURATION_MS
//     Logs RATE entries/s in total, spread round-robin over the clients, for DURATION_MS, and
//     times each entry from its log() call to the 'acked' event that covers it. When a client's
//     buffer is full the pacing loop waits for room, so nothing is dropped.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { percentile } from './stats.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { LogClient } = await import(pathToFileURL(join(repoRoot, 'packages', 'client', 'dist', 'index.js')).href);

const MESSAGE = 'Request processed xx'; // 20 bytes, as the load generator's -m 20: lines of ~213 B
const WARMUP_MS = 500; // latency samples from the first half second (connections warming up) are left out

const [mode, socketPath, clientsArg, ...rest] = process.argv.slice(2);
const clientCount = Number(clientsArg);

async function connectAll() {
  return Promise.all(
    Array.from({ length: clientCount }, (_, i) =>
      LogClient.withConfig({ socketPath, daemonName: `client-${i}`, timeout: 120_000, autoReconnect: false }),
    ),
  );
}

function summary(clients) {
  const s = { logged: 0, acked: 0, rejected: 0, droppedFull: 0, resent: 0, reconnects: 0 };
  for (const c of clients) for (const k of Object.keys(s)) s[k] += c.stats[k];
  return s;
}

async function throughput(total) {
  const clients = await connectAll();
  const perClient = Math.floor(total / clientCount);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c, i) => {
      const conn = String(i);
      for (let s = 0; s < perClient; s++) {
        // log() returns false past half the buffer; awaiting only then keeps this loop from
        // paying a microtask per entry, and yields to I/O exactly when it must.
        if (!c.log(s % 8, MESSAGE, { seq: String(s), conn })) await c.drain();
      }
      await c.flush();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stats = summary(clients);
  await Promise.all(clients.map((c) => c.close()));
  return {
    entries: perClient * clientCount,
    seconds,
    clientCpuS: (cpu.user + cpu.system) / 1e6,
    stats,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

async function latency(rate, durationMs) {
  const clients = await connectAll();
  const expected = Math.ceil((rate * durationMs) / 1000) + clientCount;
  const perClient = Math.ceil(expected / clientCount) + 1;
  const logAt = clients.map(() => new Float64Array(perClient));
  const logged = new Uint32Array(clientCount);
  const ackedUpTo = new Uint32Array(clientCount);
  const samples = new Float64Array(expected);
  let nSamples = 0;
  let t0 = 0;
  clients.forEach((c, i) => {
    c.on('acked', (count) => {
      const now = performance.now();
      const times = logAt[i];
      for (let k = 0; k < count; k++) {
        const at = times[ackedUpTo[i]++];
        if (at - t0 >= WARMUP_MS && nSamples < samples.length) samples[nSamples++] = now - at;
      }
    });
  });
  t0 = performance.now();
  let sent = 0;
  for (;;) {
    const elapsed = performance.now() - t0;
    if (elapsed >= durationMs) break;
    const due = Math.min(expected, Math.floor((rate * elapsed) / 1000));
    while (sent < due) {
      const i = sent % clientCount;
      const c = clients[i];
      const s = logged[i]++;
      logAt[i][s] = performance.now();
      sent++;
      // Behind schedule with a full buffer: wait for room rather than have the client drop
      // entries (which would also break the log-order-to-ack-order mapping above). The
      // achieved rate then shows the shortfall, and the wait counts in these entries' latency.
      if (!c.log(s % 8, MESSAGE, { seq: String(s), conn: String(i) })) await c.drain();
    }
    await sleep(1);
  }
  await Promise.all(clients.map((c) => c.flush()));
  const seconds = (performance.now() - t0) / 1000;
  const stats = summary(clients);
  await Promise.all(clients.map((c) => c.close()));
  const sorted = samples.subarray(0, nSamples).sort();
  return {
    entries: sent,
    seconds,
    offeredRate: rate,
    samples: nSamples,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[nSamples - 1],
    stats,
  };
}

/** CPU µs (user + system) of `fn`, which logs `calls` entries and resolves once they are out. */
async function cpuUsPerCall(calls, fn) {
  const cpu0 = process.cpuUsage();
  await fn();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / calls;
}

/**
 * µs of CPU per call in this one process, same message and fields, alternating rounds: the
 * client (every entry acknowledged: encode, send and the acks counted), pino to /dev/null
 * (sync, sonic-boom writeSync per line) and pino to a file (async, sonic-boom buffering, flushed
 * and closed at the end). `clientsArg` is the number of calls a round; `rest[0]` the file dir.
 */
async function perCall(calls, rounds, fileDir) {
  const require = createRequire(join(repoRoot, 'packages', 'pino', 'package.json'));
  const pino = require('pino');
  const [client] = await Promise.all([
    LogClient.withConfig({ socketPath, daemonName: 'per-call', timeout: 120_000, autoReconnect: false }),
  ]);
  const fields = { user_id: '12345', route: '/api/items' };
  const out = { client: [], pinoSync: [], pinoAsync: [] };
  for (let round = 0; round < rounds; round++) {
    out.client.push(
      await cpuUsPerCall(calls, async () => {
        for (let i = 0; i < calls; i++) if (!client.info(MESSAGE, fields)) await client.drain();
        await client.flush();
      }),
    );
    const devNull = pino.destination({ dest: '/dev/null', sync: true });
    const syncLogger = pino(devNull);
    out.pinoSync.push(
      await cpuUsPerCall(calls, async () => {
        for (let i = 0; i < calls; i++) syncLogger.info(fields, MESSAGE);
      }),
    );
    devNull.end();
    const file = pino.destination({ dest: join(fileDir, `pino-${round}.log`), sync: false, minLength: 4096 });
    await new Promise((resolve) => file.once('ready', resolve));
    const asyncLogger = pino(file);
    out.pinoAsync.push(
      await cpuUsPerCall(calls, async () => {
        for (let i = 0; i < calls; i++) asyncLogger.info(fields, MESSAGE);
        await new Promise((resolve) => {
          file.once('finish', resolve);
          file.end();
        });
      }),
    );
  }
  const stats = summary([client]);
  await client.close();
  return { calls, rounds, ...out, stats, pinoVersion: pino.version };
}

let result;
if (mode === 'throughput') result = await throughput(Number(rest[0]));
else if (mode === 'latency') result = await latency(Number(rest[0]), Number(rest[1]));
else if (mode === 'per-call') result = await perCall(clientCount, Number(rest[0]), rest[1]);
else {
  process.stderr.write(
    'usage: client-driver.mjs throughput SOCK CLIENTS TOTAL | latency SOCK CLIENTS RATE DURATION_MS | per-call SOCK CALLS ROUNDS DIR\n',
  );
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);

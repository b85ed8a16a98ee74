import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LogClient } from '@logstream/client';
import {
  addStream,
  metric,
  readEntries,
  readStream,
  runCli,
  scrapeMetrics,
  startNatsCluster,
  startServer,
  streamLeader,
  until,
  useServerDir,
  type NatsCluster,
  type ServerProcess,
} from '@logstream/test-support';
import { freePort, spawnClients, type StreamClients } from './fixtures/fault-helpers';
// A real 3-node nats-server cluster.

let dir: string;
let sock: string;
let out: string;
let cluster: NatsCluster;
const children: StreamClients[] = [];
const clients: LogClient[] = [];

useServerDir((paths) => ({ dir, sock, out } = paths));
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(children.splice(0).map((c) => c.kill()));
});

// No skip: a machine without nats-server gets it from apt (as for rsyslog), or the suite fails.
beforeAll(async () => {
  cluster = await startNatsCluster(3);
}, 180_000);
afterAll(async () => {
  await cluster?.stop();
});

async function serve(toml: string, args: string[] = []): Promise<ServerProcess> {
  await writeFile(join(dir, 'c.toml'), toml);
  return startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out, ...args]);
}

const natsConfig = (stream: string, prefix: string, extra = '') =>
  `[backends.nats]\nenabled = true\nservers = ${JSON.stringify(cluster.urls)}\nstream = "${stream}"\nsubject_prefix = "${prefix}"\n${extra}`;

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('logstream-server with [backends.nats] on a real 3-node JetStream cluster', () => {
  it('30,000 entries from 4 connections into an R3 stream; a NATS node and the server are SIGKILLed mid-stream: every acknowledged entry is in the stream exactly once', async () => {
    const CLIENTS = 4;
    const ENTRIES = 7500;
    const config = '[backends.file]\nenabled = false\n' + natsConfig('FLEET', 'fleet', 'replicas = 3\npublish_timeout_ms = 2000\n');
    let server = await serve(config);
    const load = spawnClients({ socketPath: sock, clients: CLIENTS, entries: ENTRIES });
    children.push(load);
    const total = CLIENTS * ENTRIES;

    await until(() => sum(load.acked) >= 0.2 * total, 90_000, '20% acked');
    // The stream's leader: its loss forces an election while publishes are in flight.
    const victim = await streamLeader(cluster.urls, 'FLEET');
    await cluster.kill(victim);
    await until(() => sum(load.acked) >= 0.4 * total, 90_000, '40% acked with a node down');
    await cluster.restart(victim);

    await until(() => sum(load.acked) >= 0.6 * total, 90_000, '60% acked');
    const killed = await server.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    const metricsPort = await freePort();
    server = await serve(config, ['--metrics-port', String(metricsPort)]);

    const stats = await load.done;
    expect(stats.every((s) => s.acked === ENTRIES && s.droppedFull === 0)).toBe(true);
    // The restarted server's metrics: what it published (and what JetStream already had), no lag left.
    const samples = await scrapeMetrics(metricsPort);
    expect(metric(samples, 'logstream_backend_events_total', { backend: 'nats', event: 'published' })).toBeGreaterThan(0);
    expect(metric(samples, 'logstream_backend_lag_entries', { backend: 'nats' })).toBe(0);

    const stored = await readStream(cluster.urls, 'FLEET', 90_000);
    // Exactly once by Nats-Msg-Id, and each client's numbered entries all there, once each.
    const ids = new Map<string, number>();
    for (const m of stored) ids.set(m.msgId as string, (ids.get(m.msgId as string) ?? 0) + 1);
    expect([...ids.values()].filter((n) => n !== 1)).toEqual([]);
    const seen = Array.from({ length: CLIENTS }, () => new Uint8Array(ENTRIES));
    for (const m of stored) {
      const entry = JSON.parse(m.data) as { id: string; daemon: string; fields: { c: string; i: string } };
      expect(entry.id).toBe(m.msgId);
      expect(m.subject).toBe(`fleet.${entry.daemon}`);
      (seen[Number(entry.fields.c)] as Uint8Array)[Number(entry.fields.i)]! += 1;
    }
    const wrong = seen.flatMap((row, c) => [...row].flatMap((n, i) => (n === 1 ? [] : [{ c, i, n }])));
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(stored).toHaveLength(total);
    console.info(`nats done-when: ${total} entries once each in R3 stream FLEET after killing node n${victim} and the server`);
  }, 240_000);

  it('a stream that cannot be created (subjects overlap another stream) stops start-up with an error naming the stream', async () => {
    await addStream(cluster.urls, 'OWNER', ['clash.>']);
    await writeFile(join(dir, 'c.toml'), natsConfig('CLASH', 'clash'));
    const result = await runCli(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/backend nats failed to open: nats: stream CLASH: cannot create it with subjects "clash\.>".*overlap/);
  });

  it('bad [backends.nats] values stop start-up with one line per key', async () => {
    await writeFile(join(dir, 'c.toml'), '[backends.nats]\nenabled = true\nstream = "a.b"\nsubject_prefix = "logs.*"\nservers = []\n');
    const result = await runCli(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('backends.nats.stream: expected a stream name (no space, ".", "*", ">", "/"), got "a.b"');
    expect(result.stderr).toContain('backends.nats.subject_prefix: expected a literal subject such as "logs", got "logs.*"');
    expect(result.stderr).toContain('backends.nats.servers: expected');
  });

  it('a cluster that is down at start does not stop the file backend: the server starts, reports it, and stores and acknowledges entries', async () => {
    const dead = await freePort();
    const server = await serve(
      `[backends.nats]\nenabled = true\nservers = ["nats://127.0.0.1:${dead}"]\nwhen_full = "drop_newest"\nconnect_timeout_ms = 500\n`,
    );
    const client = await LogClient.withConfig({ socketPath: sock, daemonName: 'still-serving' });
    clients.push(client);
    for (let i = 0; i < 100; i++) void client.info(`m${i}`);
    await client.flush();
    expect(await readEntries(join(out, 'current.log'))).toHaveLength(100);
    await until(() => server.stderr().includes(`nats: cannot reach nats://127.0.0.1:${dead}`), 15_000, 'the unreachable cluster reported');
  });
});

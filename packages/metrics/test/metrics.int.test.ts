import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer as createTcpServer } from 'node:net';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { LogServer, MemoryBackend } from '@logstream/core';
import { FileBackend } from '@logstream/backend-file';
import { parseServerFrame, type BackendMetric } from '@logstream/protocol';
import { createMetricsRegistry, serveMetrics } from '../src/index';
import { helpOf, metric, parseMetrics, rawConnect, tempDir, until } from '@logstream/test-support';

/** A third-party-style backend with typed metrics: a counter, a labelled counter, a gauge, drops. */
class TypedBackend extends MemoryBackend {
  pending = 0;
  extra: BackendMetric[] = [];
  throwing = false;

  metrics(): readonly BackendMetric[] {
    if (this.throwing) throw new Error('metrics exploded');
    return [
      { name: 'logstream_test_batches_total', help: 'Batches written.', type: 'counter', value: this.writes },
      {
        name: 'logstream_test_entries_total',
        help: 'Entries by parity.',
        type: 'counter',
        labels: { parity: 'even' },
        value: this.#count(0),
      },
      {
        name: 'logstream_test_entries_total',
        help: 'Entries by parity.',
        type: 'counter',
        labels: { parity: 'odd' },
        value: this.#count(1),
      },
      { name: 'logstream_test_pending_entries', help: 'Entries waiting now.', type: 'gauge', value: this.pending },
      { name: 'logstream_dropped_entries_total', help: '', type: 'counter', labels: { reason: 'too_big' }, value: 4 },
      ...this.extra,
    ];
  }

  #count(parity: number): number {
    return this.entries.filter((e) => Number(e.fields.i) % 2 === parity).length;
  }
}

/** A backend that only has the older untyped stats(), with keys the built-in backends use. */
class StatsBackend extends MemoryBackend {
  stats(): Readonly<Record<string, number>> {
    return {
      rotations: 2,
      compression_ms_total: 1500,
      live_file_bytes: 10 * this.entries.length,
      dropped_aborted: 3,
      writes: this.writes,
    };
  }
}

let dir: string;
let cleanup: () => Promise<void>;
let server: LogServer | undefined;
let http: Server | undefined;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  http = undefined;
  await server?.close();
  server = undefined;
  await cleanup();
});

/** Sends `n` entries over a raw connection (handshake first) and waits for their ack. */
async function send(socketPath: string, from: number, n: number): Promise<void> {
  const conn = await rawConnect(socketPath, parseServerFrame);
  conn.send('metrics-test\n');
  await conn.waitFrame((f) => f.type === 'ready', 15_000);
  let lines = '';
  for (let i = from; i < from + n; i++) lines += `${JSON.stringify({ message: `entry ${i}`, level: 'info', fields: { i: String(i) } })}\n`;
  conn.send(lines);
  await until(() => conn.acked() >= n, 15_000, `ack of ${n}`);
  conn.end();
}

async function start(backends: MemoryBackend[]) {
  const socketPath = join(dir, 's.sock');
  server = new LogServer({ socketPath, backends: backends.map((backend) => ({ backend })) });
  await server.listen();
  return socketPath;
}

async function scrape(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, m: parseMetrics(text) };
}

describe('createMetricsRegistry + serveMetrics on a real LogServer', () => {
  it('keeps two file backends of one server apart by their names: each live file its own gauge', async () => {
    const app = new FileBackend({ directory: join(dir, 'app'), name: 'app' });
    const audit = new FileBackend({ directory: join(dir, 'audit'), name: 'audit', format: 'human' });
    const socketPath = join(dir, 's.sock');
    server = new LogServer({ socketPath, backends: [{ backend: app }, { backend: audit }] });
    await server.listen();
    http = await serveMetrics(createMetricsRegistry(server), { port: 0 });
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`;
    await send(socketPath, 0, 20);
    const { m, text } = await scrape(url);
    const appBytes = (await stat(join(dir, 'app', 'current.log'))).size;
    const auditBytes = (await stat(join(dir, 'audit', 'current.log'))).size;
    expect(appBytes).not.toBe(auditBytes);
    expect(metric(m, 'logstream_live_file_bytes', { backend: 'app' })).toBe(appBytes);
    expect(metric(m, 'logstream_live_file_bytes', { backend: 'audit' })).toBe(auditBytes);
    expect(text).toContain('# TYPE logstream_live_file_bytes gauge');
    expect(metric(m, 'logstream_backend_events_total', { backend: 'app', event: 'bytes_written' })).toBe(appBytes);
    expect(metric(m, 'logstream_backend_events_total', { backend: 'audit', event: 'bytes_written' })).toBe(auditBytes);
    expect(m.filter((s) => s.labels.backend === 'file')).toEqual([]);
  });

  it('follows entries as they flow: server, route, typed and stats() metrics, each labelled with its backend', async () => {
    const memory = new MemoryBackend('memory');
    const typed = new TypedBackend('typed');
    const legacy = new StatsBackend('legacy');
    const socketPath = await start([memory, typed, legacy]);
    http = await serveMetrics(createMetricsRegistry(server as LogServer), { port: 0 });
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`;

    let { m } = await scrape(url);
    expect(metric(m, 'logstream_messages_received_total')).toBe(0);
    expect(metric(m, 'logstream_backend_entries_written_total', { backend: 'memory' })).toBe(0);
    expect(metric(m, 'logstream_test_batches_total', { backend: 'typed' })).toBe(0);
    expect(metric(m, 'logstream_backend_write_seconds_count', { backend: 'typed' })).toBe(0);

    await send(socketPath, 0, 5);
    typed.pending = 7;
    ({ m } = await scrape(url));
    expect(metric(m, 'logstream_messages_received_total')).toBe(5);
    expect(metric(m, 'logstream_messages_processed_total')).toBe(5);
    expect(metric(m, 'logstream_connections_total')).toBe(1);
    for (const backend of ['memory', 'typed', 'legacy']) {
      expect(metric(m, 'logstream_backend_entries_written_total', { backend })).toBe(5);
      expect(metric(m, 'logstream_backend_write_seconds_count', { backend })).toBeGreaterThan(0);
    }
    // Typed: the server adds the backend label; labelled samples stay apart; drops join the server's family.
    expect(metric(m, 'logstream_test_batches_total', { backend: 'typed' })).toBe(typed.writes);
    expect(typed.writes).toBeGreaterThan(0);
    expect(metric(m, 'logstream_test_entries_total', { backend: 'typed', parity: 'even' })).toBe(3);
    expect(metric(m, 'logstream_test_entries_total', { backend: 'typed', parity: 'odd' })).toBe(2);
    expect(metric(m, 'logstream_test_pending_entries', { backend: 'typed' })).toBe(7);
    expect(metric(m, 'logstream_dropped_entries_total', { backend: 'typed', reason: 'too_big' })).toBe(4);
    expect(metric(m, 'logstream_dropped_entries_total', { backend: 'typed', reason: 'queue_full' })).toBe(0);
    // stats() without metrics(): every key a backend event, whatever its name (no table of the
    // built-in backends' keys: they have typed metrics()).
    expect(metric(m, 'logstream_backend_events_total', { backend: 'legacy', event: 'rotations' })).toBe(2);
    expect(metric(m, 'logstream_backend_events_total', { backend: 'legacy', event: 'compression_ms_total' })).toBe(1500);
    expect(metric(m, 'logstream_backend_events_total', { backend: 'legacy', event: 'live_file_bytes' })).toBe(50);
    expect(metric(m, 'logstream_backend_events_total', { backend: 'legacy', event: 'dropped_aborted' })).toBe(3);
    expect(metric(m, 'logstream_backend_events_total', { backend: 'legacy', event: 'writes' })).toBe(legacy.writes);
    expect(m.filter((s) => s.labels.backend === 'legacy' && s.name === 'logstream_rotations_total')).toEqual([]);
    // The memory backend reports nothing of its own.
    expect(m.filter((s) => s.labels.backend === 'memory' && s.name.startsWith('logstream_test_'))).toEqual([]);

    // More entries: counters grow; a gauge may fall; a name first reported now gets its family.
    await send(socketPath, 5, 4);
    typed.pending = 2;
    typed.extra = [{ name: 'logstream_test_reconnects_total', help: 'Reconnects.', type: 'counter', value: 1 }];
    const page = await scrape(url);
    ({ m } = page);
    expect(metric(m, 'logstream_messages_received_total')).toBe(9);
    expect(metric(m, 'logstream_test_entries_total', { backend: 'typed', parity: 'even' })).toBe(5);
    expect(metric(m, 'logstream_test_pending_entries', { backend: 'typed' })).toBe(2);
    expect(metric(m, 'logstream_backend_events_total', { backend: 'legacy', event: 'live_file_bytes' })).toBe(90);
    expect(metric(m, 'logstream_test_reconnects_total', { backend: 'typed' })).toBe(1);
    expect(page.text).toContain('# TYPE logstream_test_pending_entries gauge');
    expect(page.text).toContain('# TYPE logstream_test_entries_total counter');
    expect(helpOf(page.text, 'logstream_test_entries_total')).toBe('# HELP logstream_test_entries_total Entries by parity.');
    // Node's default process metrics come along.
    expect(metric(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(404);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('refuses a backend sample that cannot be exported at start, naming backend and metric', async () => {
    const typed = new TypedBackend('nats');
    await start([typed]);
    const cases: Array<[BackendMetric, RegExp]> = [
      [
        { name: 'bad name', help: 'x', type: 'counter', value: 1 },
        /^metrics: backend "nats": metric "bad name": not a Prometheus metric name$/,
      ],
      [
        { name: 'logstream_x_total', help: 'x', type: 'counter', labels: { backend: 'y' }, value: 1 },
        /metric "logstream_x_total": label "backend": set by the server/,
      ],
      [
        { name: 'logstream_x_total', help: 'x', type: 'counter', value: -1 },
        /metric "logstream_x_total": value -1: a counter is never negative/,
      ],
      [{ name: 'logstream_x', help: 'x', type: 'gauge', value: Number.NaN }, /metric "logstream_x": value NaN: expected a finite number/],
      [
        { name: 'logstream_connections_total', help: 'x', type: 'counter', value: 1 },
        /metric "logstream_connections_total": a metric the server exports itself/,
      ],
      [{ name: 'logstream_backend_write_seconds', help: 'x', type: 'gauge', value: 1 }, /a metric the server exports itself/],
      [{ name: 'logstream_test_pending_entries', help: 'x', type: 'counter', value: 1 }, /a counter here, a gauge elsewhere/],
      [
        { name: 'logstream_dropped_entries_total', help: '', type: 'counter', value: 1 },
        /drops are a counter with exactly one label, "reason"/,
      ],
      [{ name: 'logstream_x_total', help: '', type: 'counter', value: 1 }, /help: expected a one-line description/],
    ];
    for (const [sample, error] of cases) {
      typed.extra = [sample];
      expect(() => createMetricsRegistry(server as LogServer), sample.name).toThrow(error);
    }
    typed.extra = [];
    typed.throwing = true;
    expect(() => createMetricsRegistry(server as LogServer)).toThrow(/^metrics: backend "nats": metrics\(\) failed: metrics exploded$/);
  });

  it('leaves out what a backend gets wrong after start, and keeps serving everything else', async () => {
    const typed = new TypedBackend('typed');
    const other = new TypedBackend('other');
    await start([typed, other]);
    http = await serveMetrics(createMetricsRegistry(server as LogServer), { port: 0, path: '/m' });
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/m`;

    typed.extra = [
      { name: 'logstream_test_batches_total', help: 'Batches written.', type: 'counter', labels: { extra: 'label' }, value: 1 },
      { name: 'logstream_late_total', help: 'x', type: 'counter', value: -5 },
    ];
    let { m } = await scrape(url);
    expect(metric(m, 'logstream_test_batches_total', { backend: 'typed' })).toBe(0);
    expect(m.some((s) => s.labels.extra === 'label' || s.name === 'logstream_late_total')).toBe(false);

    typed.throwing = true;
    ({ m } = await scrape(url));
    expect(metric(m, 'logstream_test_pending_entries', { backend: 'other' })).toBe(0);
    expect(m.some((s) => s.name.startsWith('logstream_test_') && s.labels.backend === 'typed')).toBe(false);
    expect(metric(m, 'logstream_backend_entries_written_total', { backend: 'typed' })).toBe(0);
  });
});

describe('serveMetrics', () => {
  it('rejects with one line naming host:port when it cannot listen', async () => {
    const taken = createTcpServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const port = (taken.address() as AddressInfo).port;
    try {
      await expect(serveMetrics(createMetricsRegistry(new LogServer({ backends: [] })), { port })).rejects.toThrow(
        new RegExp(`^metrics: cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE`),
      );
    } finally {
      taken.close();
    }
  });

  it('refuses a bad port or path before binding', async () => {
    const registry = createMetricsRegistry(new LogServer({ backends: [] }));
    await expect(serveMetrics(registry, { port: 70000 })).rejects.toThrow('metrics: port: expected an integer 0-65535, got 70000');
    await expect(serveMetrics(registry, { port: 0, path: 'metrics' })).rejects.toThrow(
      'metrics: path: expected a path starting with "/", got "metrics"',
    );
  });
});

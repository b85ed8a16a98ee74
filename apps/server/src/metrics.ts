import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ERROR_KINDS } from '@logstream/protocol';
import type { BackendRoute, LogServer } from '@logstream/core';

type Labels = Record<string, string>;
type Sample = readonly [labels: Labels, value: number];

/**
 * Backend `stats()` keys that get a metric of their own (the file backend's rotator counters,
 * see `RotatingFileWriterStats`), with the factor that turns the stat into the metric's unit.
 * Every other key lands in `logstream_backend_events_total{backend,event}`.
 */
const BACKEND_COUNTERS: Readonly<Record<string, { name: string; help: string; scale?: number }>> = {
  rotations: { name: 'logstream_rotations_total', help: 'Rotations of the live file.' },
  rotation_errors: { name: 'logstream_rotation_errors_total', help: 'Rotations (or directory scans) that failed; they are retried.' },
  compressions: { name: 'logstream_compressions_total', help: 'Rotated files compressed.' },
  compression_errors: { name: 'logstream_compression_errors_total', help: 'Compressions that failed; they are retried.' },
  compression_ms_total: { name: 'logstream_compression_seconds_total', help: 'Time spent compressing rotated files.', scale: 1 / 1000 },
  compressed_bytes_in: { name: 'logstream_compressed_bytes_in_total', help: 'Uncompressed bytes of the files compressed.' },
  compressed_bytes_out: { name: 'logstream_compressed_bytes_out_total', help: 'Compressed bytes written.' },
  files_deleted: { name: 'logstream_files_deleted_total', help: 'Rotated files deleted by retention (keep_files, max_age_hours).' },
  delete_errors: { name: 'logstream_file_delete_errors_total', help: 'Deletes of rotated files that failed; they are retried.' },
};

/** Backend `stats()` keys that are levels, not totals. */
const BACKEND_GAUGES: Readonly<Record<string, { name: string; help: string }>> = {
  live_file_bytes: { name: 'logstream_live_file_bytes', help: 'Size of the live file (current.log) now.' },
  lag_entries: {
    name: 'logstream_backend_lag_entries',
    help: 'Entries a backend has taken and its peer not yet acknowledged (nats: not yet PubAcked by JetStream).',
  },
};

/** Backend `stats()` keys that count entries a backend dropped, with their `reason` label. */
const BACKEND_DROPS: Readonly<Record<string, string>> = {
  dropped_overflow: 'buffer_overflow',
  dropped_on_close: 'closed',
};

/**
 * Prometheus metrics of a LogServer, in a registry of their own. The hot path only bumps plain
 * counters in the server, its routes and its backends; every value here is read from them at
 * scrape time, so metrics cost nothing per entry. The one exception is the write-latency
 * histogram, which gets one observation per backend batch (not per entry).
 */
export function createMetricsRegistry(server: LogServer): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const c = server.counters;

  // A prom-client counter can only go up, but our totals live elsewhere: start from zero at
  // every scrape and add the current total, which also keeps label sets exact.
  const counter = (name: string, help: string, labelNames: readonly string[], read: () => Iterable<Sample>) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    });
  const gauge = (name: string, help: string, labelNames: readonly string[], read: () => Iterable<Sample>) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });
  const total = (name: string, help: string, read: () => number) => counter(name, help, [], () => [[{}, read()]]);
  const perRoute = (read: (r: BackendRoute) => number) => () => server.routes.map((r): Sample => [{ backend: r.backend.name }, read(r)]);
  const stats = () => server.routes.map((route) => ({ route, backend: route.backend.name, stats: route.backend.stats?.() ?? {} }));

  total('logstream_connections_total', 'Connections accepted (refused ones included).', () => c.connectionsTotal);
  total('logstream_connections_rejected_total', 'Connections refused (max_connections or shutdown).', () => c.connectionsRejected);
  total('logstream_messages_received_total', 'Lines received as entries, valid or not.', () => c.messagesReceived);
  total(
    'logstream_messages_processed_total',
    'Entries stored by every backend (or dropped by a drop_newest queue).',
    () => c.messagesProcessed,
  );
  total('logstream_duplicates_dropped_total', 'Resent entries dropped by the dedupe window.', () => c.duplicatesDropped);
  total('logstream_bytes_received_total', 'Bytes read from client sockets.', () => c.bytesReceived);
  total('logstream_socket_pauses_total', 'Times the server stopped reading sockets for backpressure.', () => c.socketPauses);
  counter(
    'logstream_errors_total',
    'Errors by kind (serde: bad lines; io: backend writes; server: refused connections; client: bad handshakes).',
    ['kind'],
    () => ERROR_KINDS.map((kind): Sample => [{ kind }, c.errors[kind]]),
  );
  gauge('logstream_active_connections', 'Connections open now.', [], () => [[{}, server.activeConnections]]);
  gauge('logstream_inflight_bytes', 'Bytes of entries parsed and not yet stored by every backend.', [], () => [[{}, server.inflightBytes]]);

  counter(
    'logstream_backend_entries_written_total',
    'Entries stored by each backend.',
    ['backend'],
    perRoute((r) => r.counters.entriesWritten),
  );
  counter(
    'logstream_backend_bytes_written_total',
    'NDJSON bytes of the entries stored by each backend.',
    ['backend'],
    perRoute((r) => r.counters.bytesWritten),
  );
  counter(
    'logstream_backend_write_errors_total',
    'Failed (and retried) batch writes of each backend.',
    ['backend'],
    perRoute((r) => r.counters.writeErrors),
  );
  gauge(
    'logstream_backend_queued_bytes',
    'Bytes waiting in each backend queue.',
    ['backend'],
    perRoute((r) => r.queuedBytes),
  );
  counter(
    'logstream_dropped_entries_total',
    'Entries dropped, by backend and reason (queue_full: a drop_newest queue was full; stalled: a drop_newest backend stored nothing within max_wait_ms; shutdown: not stored by the drain deadline; buffer_overflow, closed: dropped inside the syslog backend).',
    ['backend', 'reason'],
    function* () {
      for (const { route, backend, stats: s } of stats()) {
        yield [{ backend, reason: 'queue_full' }, route.counters.droppedFull];
        yield [{ backend, reason: 'shutdown' }, route.counters.droppedShutdown];
        yield [{ backend, reason: 'stalled' }, route.counters.droppedStalled];
        for (const [stat, reason] of Object.entries(BACKEND_DROPS)) {
          const value = s[stat];
          if (value !== undefined) yield [{ backend, reason }, value];
        }
      }
    },
  );
  for (const [stat, m] of Object.entries(BACKEND_COUNTERS)) {
    counter(m.name, m.help, ['backend'], function* () {
      for (const { backend, stats: s } of stats()) {
        const value = s[stat];
        if (value !== undefined) yield [{ backend }, value * (m.scale ?? 1)];
      }
    });
  }
  for (const [stat, m] of Object.entries(BACKEND_GAUGES)) {
    gauge(m.name, m.help, ['backend'], function* () {
      for (const { backend, stats: s } of stats()) {
        const value = s[stat];
        if (value !== undefined) yield [{ backend }, value];
      }
    });
  }
  counter(
    'logstream_backend_events_total',
    "Each backend's other counters from its stats(), by name (journald: entries_sent, truncated, reconnects…; syslog: sent, send_errors, reconnects…; file: writes, write_errors…).",
    ['backend', 'event'],
    function* () {
      for (const { backend, stats: s } of stats()) {
        for (const [event, value] of Object.entries(s)) {
          if (!(event in BACKEND_COUNTERS || event in BACKEND_GAUGES || event in BACKEND_DROPS)) yield [{ backend, event }, value];
        }
      }
    },
  );

  const latency = new Histogram({
    name: 'logstream_backend_write_seconds',
    help: 'Time each backend took to store one batch.',
    labelNames: ['backend'],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  for (const route of server.routes) {
    // Zeroed so the series exist (and rate() works) before the first write.
    latency.zero({ backend: route.backend.name });
    const child = latency.labels({ backend: route.backend.name });
    route.onWriteLatency = (ms) => child.observe(ms / 1000);
  }
  return registry;
}

/**
 * Serves `registry` at `http://host:port/path` (GET or HEAD; anything else is a 404). Port 0 picks
 * a free port: read it from `server.address()`.
 * @throws Error (`EADDRINUSE`, `EACCES`…) when the port cannot be bound
 */
export async function serveMetrics(registry: Registry, host: string, port: number, path: string): Promise<Server> {
  const http = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || url !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
      (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  return http;
}

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ERROR_KINDS } from '@logstream/protocol';
import type { LogServer } from '@logstream/core';

/**
 * Prometheus metrics of a LogServer. The hot path only bumps plain counters in the server and
 * its routes; they are copied into prom-client at scrape time, so metrics cost nothing per entry.
 */
export function createMetricsRegistry(server: LogServer): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const c = server.counters;
  // Counters set from totals at scrape time: prom-client counters only inc, so add the delta.
  const total = (name: string, help: string, read: () => number) => {
    let last = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read();
        if (now > last) this.inc(now - last);
        last = now;
      },
    });
  };
  total('logstream_connections_total', 'Connections accepted (refused ones included).', () => c.connectionsTotal);
  total('logstream_connections_rejected_total', 'Connections refused (max_connections or shutdown).', () => c.connectionsRejected);
  total('logstream_messages_received_total', 'Lines received as entries, valid or not.', () => c.messagesReceived);
  total('logstream_messages_processed_total', 'Entries stored by every backend (or dropped by a drop_newest queue).', () => c.messagesProcessed);
  total('logstream_duplicates_dropped_total', 'Resent entries dropped by the dedupe window.', () => c.duplicatesDropped);
  total('logstream_bytes_received_total', 'Bytes read from client sockets.', () => c.bytesReceived);
  total('logstream_socket_pauses_total', 'Times the server stopped reading sockets for backpressure.', () => c.socketPauses);
  const lastErrors: Record<string, number> = {};
  new Counter({
    name: 'logstream_errors_total',
    help: 'Errors by kind (serde: bad lines; io: backend writes; server: refused connections; client: bad handshakes).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      for (const kind of ERROR_KINDS) {
        const now = c.errors[kind];
        const before = lastErrors[kind] ?? 0;
        this.inc({ kind }, now - before);
        lastErrors[kind] = now;
      }
    },
  });
  new Gauge({
    name: 'logstream_active_connections',
    help: 'Connections open now.',
    registers: [registry],
    collect() {
      this.set(server.activeConnections);
    },
  });
  new Gauge({
    name: 'logstream_inflight_bytes',
    help: 'Bytes of entries parsed and not yet stored by every backend.',
    registers: [registry],
    collect() {
      this.set(server.inflightBytes);
    },
  });
  const perBackend = (name: string, help: string, read: (r: (typeof server.routes)[number]) => number) => {
    const last = new Map<string, number>();
    new Counter({
      name,
      help,
      labelNames: ['backend'],
      registers: [registry],
      collect() {
        for (const route of server.routes) {
          const now = read(route);
          const key = route.backend.name;
          this.inc({ backend: key }, now - (last.get(key) ?? 0));
          last.set(key, now);
        }
      },
    });
  };
  perBackend('logstream_backend_entries_written_total', 'Entries stored by each backend.', (r) => r.counters.entriesWritten);
  perBackend('logstream_backend_bytes_written_total', 'NDJSON bytes handed to each backend.', (r) => r.counters.bytesWritten);
  perBackend('logstream_backend_write_errors_total', 'Failed (and retried) writes of each backend.', (r) => r.counters.writeErrors);
  const dropped = new Map<string, number>();
  new Counter({
    name: 'logstream_dropped_entries_total',
    help: 'Entries dropped, by backend and reason (queue_full, shutdown).',
    labelNames: ['backend', 'reason'],
    registers: [registry],
    collect() {
      for (const route of server.routes) {
        for (const [reason, now] of [
          ['queue_full', route.counters.droppedFull],
          ['shutdown', route.counters.droppedShutdown],
        ] as const) {
          const key = `${route.backend.name}/${reason}`;
          this.inc({ backend: route.backend.name, reason }, now - (dropped.get(key) ?? 0));
          dropped.set(key, now);
        }
      }
    },
  });
  new Gauge({
    name: 'logstream_backend_queued_bytes',
    help: 'Bytes waiting in each backend queue.',
    labelNames: ['backend'],
    registers: [registry],
    collect() {
      for (const route of server.routes) this.set({ backend: route.backend.name }, route.queuedBytes);
    },
  });
  new Gauge({
    name: 'logstream_backend_stat',
    help: "Each backend's own counters (rotations, compressions, reconnects, ...), by name.",
    labelNames: ['backend', 'stat'],
    registers: [registry],
    collect() {
      for (const route of server.routes) {
        const stats = route.backend.stats?.() ?? {};
        for (const [stat, value] of Object.entries(stats)) this.set({ backend: route.backend.name, stat }, value);
      }
    },
  });
  const latency = new Histogram({
    name: 'logstream_backend_write_seconds',
    help: 'Time each backend took to store one batch.',
    labelNames: ['backend'],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  for (const route of server.routes) {
    const child = latency.labels({ backend: route.backend.name });
    route.onWriteLatency = (ms) => child.observe(ms / 1000);
  }
  return registry;
}

/** Serves `registry` at `http://host:port/path`. Resolves with the listening server. */
export async function serveMetrics(registry: Registry, host: string, port: number, path: string): Promise<Server> {
  const http = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || url !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  return http;
}

// Owns the Prometheus view of one LogServer: the server's and its routes' counters, each
// backend's own metrics (typed, or translated from stats()) and the write-latency histogram,
// all read at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ERROR_KINDS, LogStreamError, type BackendMetric } from '@logstream/protocol';
import type { BackendRoute, LogServer } from '@logstream/core';
import { DROPPED_ENTRIES_METRIC, checkBackendMetric, labelKey, readBackendMetrics } from './backend-metrics';

/** What {@link createMetricsRegistry} reads from a server (a `LogServer` has it all). */
export type MetricsSource = Pick<LogServer, 'counters' | 'routes' | 'activeConnections' | 'inflightBytes'>;

type Labels = Record<string, string>;
type Sample = readonly [labels: Labels, value: number];
interface RouteSamples {
  readonly route: BackendRoute;
  readonly backend: string;
  readonly samples: readonly BackendMetric[];
}

/**
 * Registers a family the moment some backend first reports its name: families are known only
 * from what backends report, and the registry lists them through `getMetricsAsArray()` at the
 * start of every scrape.
 */
class ServerRegistry extends Registry {
  discover: (() => void) | undefined;

  override getMetricsAsArray(): ReturnType<Registry['getMetricsAsArray']> {
    this.discover?.();
    return super.getMetricsAsArray();
  }
}

/** The backends' own metric families, grouped by name across backends. */
class BackendFamilies {
  readonly #registry: Registry;
  readonly #routes: readonly BackendRoute[];
  readonly #families = new Map<string, { type: BackendMetric['type']; labels: string }>();
  #snapshot: readonly RouteSamples[] | undefined;

  constructor(registry: Registry, routes: readonly BackendRoute[]) {
    this.#registry = registry;
    this.#routes = routes;
  }

  /**
   * Every backend's samples, read once per scrape: prom-client runs the collects of one scrape
   * in one synchronous stretch, so the snapshot lives until the next microtask.
   */
  read(strict = false): readonly RouteSamples[] {
    if (this.#snapshot === undefined) {
      this.#snapshot = this.#routes.map((route) => ({ route, backend: route.backend.name, samples: this.#readOne(route, strict) }));
      queueMicrotask(() => (this.#snapshot = undefined));
    }
    return this.#snapshot;
  }

  #readOne(route: BackendRoute, strict: boolean): readonly BackendMetric[] {
    try {
      return readBackendMetrics(route.backend);
    } catch (error) {
      // At scrape time one faulty backend must not take the others' metrics down with it.
      if (strict) throw fault(route.backend.name, `metrics() failed: ${(error as Error).message}`, error);
      return [];
    }
  }

  /** Whether a sample belongs in the family of its name as that family was first seen. */
  fits(sample: BackendMetric): boolean {
    const family = this.#families.get(sample.name);
    return family !== undefined && family.type === sample.type && family.labels === labelKey(sample) && !checkBackendMetric(sample);
  }

  /** Registers a family for each name no backend reported before; `strict` throws at a bad sample. */
  discover(strict: boolean): void {
    for (const { backend, samples } of this.read(strict)) {
      for (const sample of samples) {
        const problem = checkBackendMetric(sample) ?? this.#conflict(sample);
        if (problem !== undefined) {
          if (strict) throw fault(backend, `metric ${JSON.stringify(sample.name)}: ${problem}`);
          continue;
        }
        if (sample.name !== DROPPED_ENTRIES_METRIC && !this.#families.has(sample.name)) this.#register(sample);
      }
    }
  }

  #conflict(sample: BackendMetric): string | undefined {
    if (sample.name === DROPPED_ENTRIES_METRIC) return undefined;
    const family = this.#families.get(sample.name);
    if (family === undefined) {
      return this.#registry.getSingleMetric(sample.name) ? 'a metric the server exports itself' : undefined;
    }
    if (family.type !== sample.type) return `a ${sample.type} here, a ${family.type} elsewhere`;
    if (family.labels !== labelKey(sample)) return `labels {${labelKey(sample)}} here, {${family.labels}} elsewhere`;
    return undefined;
  }

  #register(first: BackendMetric): void {
    const { name, help, type } = first;
    this.#families.set(name, { type, labels: labelKey(first) });
    const labelNames = ['backend', ...Object.keys(first.labels ?? {}).sort()];
    scrapeTimeFamily(this.#registry, type, name, help, labelNames, () =>
      this.read().flatMap(({ backend, samples }) =>
        samples.filter((s) => s.name === name && this.fits(s)).map((s): Sample => [{ ...s.labels, backend }, s.value]),
      ),
    );
  }
}

/**
 * A counter or gauge whose values are read, not accumulated: at every scrape it starts from zero
 * and takes what `read` gives. A prom-client counter can only go up, but our totals live
 * elsewhere; starting from zero also keeps label sets exact.
 */
function scrapeTimeFamily(
  registry: Registry,
  type: 'counter' | 'gauge',
  name: string,
  help: string,
  labelNames: readonly string[],
  read: () => Iterable<Sample>,
): void {
  const config = { name, help, labelNames, registers: [registry] };
  const fill = (family: { reset(): void }, put: (labels: Labels, value: number) => void): void => {
    family.reset();
    for (const [labels, value] of read()) put(labels, value);
  };
  if (type === 'counter') {
    new Counter({
      ...config,
      collect() {
        fill(this, (labels, value) => this.inc(labels, value));
      },
    });
  } else {
    new Gauge({
      ...config,
      collect() {
        fill(this, (labels, value) => this.set(labels, value));
      },
    });
  }
}

function fault(backend: string, message: string, cause?: unknown): LogStreamError {
  return new LogStreamError('config', `metrics: backend ${JSON.stringify(backend)}: ${message}`, { code: 'CONFIG', cause });
}

/**
 * Prometheus metrics of a LogServer, in a registry of their own (with Node's default process
 * metrics). The hot path only bumps plain counters in the server, its routes and its backends;
 * every value here is read from them at scrape time, so metrics cost nothing per entry. The one
 * exception is the write-latency histogram: one observation per backend batch (not per entry).
 *
 * Each backend's own metrics come from its `metrics()` (typed samples), or, for a backend
 * without it, from its `stats()`; every sample gets the `backend` label from `backend.name`.
 * @throws LogStreamError (kind `config`) naming the backend and metric when a backend reports a
 * sample that cannot be exported (bad name or label, negative counter, clashing type…); after
 * this check such samples are left out of scrapes instead
 */
export function createMetricsRegistry(server: MetricsSource): Registry {
  const registry = new ServerRegistry();
  collectDefaultMetrics({ register: registry });
  const c = server.counters;
  const families = new BackendFamilies(registry, server.routes);

  const counter = (name: string, help: string, labelNames: readonly string[], read: () => Iterable<Sample>) =>
    scrapeTimeFamily(registry, 'counter', name, help, labelNames, read);
  const gauge = (name: string, help: string, labelNames: readonly string[], read: () => Iterable<Sample>) =>
    scrapeTimeFamily(registry, 'gauge', name, help, labelNames, read);
  const total = (name: string, help: string, read: () => number) => counter(name, help, [], () => [[{}, read()]]);
  const perRoute = (read: (r: BackendRoute) => number) => () => server.routes.map((r): Sample => [{ backend: r.backend.name }, read(r)]);

  total('logstream_connections_total', 'Connections accepted (refused ones included).', () => c.connectionsTotal);
  total('logstream_connections_rejected_total', 'Connections refused (max_connections or shutdown).', () => c.connectionsRejected);
  total('logstream_messages_received_total', 'Lines received as entries, valid or not.', () => c.messagesReceived);
  total(
    'logstream_messages_processed_total',
    'Entries stored by every backend (or dropped by a drop_newest queue).',
    () => c.messagesProcessed,
  );
  total('logstream_duplicates_dropped_total', 'Resent entries dropped by the dedupe window.', () => c.duplicatesDropped);
  counter(
    'logstream_intake_dropped_entries_total',
    "Entries received and acknowledged but not stored, dropped before any backend, by reason (rate_limited: past a sender's rate_limit_burst within rate_limit_interval_ms).",
    ['reason'],
    () => Object.entries(c.intakeDropped).map(([reason, n]): Sample => [{ reason }, n]),
  );
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
    DROPPED_ENTRIES_METRIC,
    'Entries dropped, by backend and reason (queue_full: a drop_newest queue was full; stalled: a drop_newest backend stored nothing within max_wait_ms; shutdown: not stored by the drain deadline; aborted, closed: unsent messages of an aborted write or at close, inside the syslog backend).',
    ['backend', 'reason'],
    function* () {
      for (const { route, backend, samples } of families.read()) {
        yield [{ backend, reason: 'queue_full' }, route.counters.droppedFull];
        yield [{ backend, reason: 'shutdown' }, route.counters.droppedShutdown];
        yield [{ backend, reason: 'stalled' }, route.counters.droppedStalled];
        for (const s of samples) {
          if (s.name === DROPPED_ENTRIES_METRIC && !checkBackendMetric(s)) yield [{ backend, reason: s.labels?.reason ?? '' }, s.value];
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
  // Last, so a backend's name that clashes with any family above is caught here.
  families.discover(true);
  registry.discover = () => families.discover(false);
  return registry;
}

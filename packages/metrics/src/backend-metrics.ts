// Owns what a backend contributes to the metrics: its typed `metrics()` samples, or, for a
// backend that only has the older untyped `stats()`, those counters translated into samples
// with the names the built-in backends' stats always had; and the rules a sample must follow.
import type { Backend, BackendMetric } from '@logstream/protocol';

/** The server's drops family; a backend's own drops join it with a `reason` label. */
export const DROPPED_ENTRIES_METRIC = 'logstream_dropped_entries_total';

/**
 * `stats()` keys of the built-in backends that get a metric of their own (the file backend's
 * rotator counters, see `RotatingFileWriterStats`), with the factor that turns the stat into
 * the metric's unit. Every other key lands in `logstream_backend_events_total{backend,event}`.
 */
const STATS_COUNTERS: Readonly<Record<string, { name: string; help: string; scale?: number }>> = {
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

/** `stats()` keys that are levels, not totals (the one exception to "stats only grow"). */
const STATS_GAUGES: Readonly<Record<string, { name: string; help: string }>> = {
  live_file_bytes: { name: 'logstream_live_file_bytes', help: 'Size of the live file (current.log) now.' },
  lag_entries: {
    name: 'logstream_backend_lag_entries',
    help: 'Entries a backend took and its peer has not acknowledged yet (nats: not yet PubAcked by JetStream).',
  },
};

/** `stats()` keys that count entries a backend dropped, with their `reason` label. */
const STATS_DROPS: Readonly<Record<string, string>> = {
  dropped_aborted: 'aborted',
  dropped_on_close: 'closed',
};

const EVENTS_METRIC = 'logstream_backend_events_total';
const EVENTS_HELP =
  "Each backend's other counters from its stats(), by name (journald: entries_sent, truncated, reconnects…; syslog: sent, send_errors, reconnects…; file: writes, write_errors…).";

/**
 * A backend's metric samples: its typed `metrics()` when it has one, else its `stats()`
 * translated (named counters and gauges for the keys above, drops with their reason, every
 * other key as an event of `logstream_backend_events_total`).
 */
export function readBackendMetrics(backend: Backend): readonly BackendMetric[] {
  if (typeof backend.metrics === 'function') return backend.metrics();
  const samples: BackendMetric[] = [];
  for (const [key, value] of Object.entries(backend.stats?.() ?? {})) {
    const counter = STATS_COUNTERS[key];
    const gauge = STATS_GAUGES[key];
    const reason = STATS_DROPS[key];
    if (counter) samples.push({ name: counter.name, help: counter.help, type: 'counter', value: value * (counter.scale ?? 1) });
    else if (gauge) samples.push({ name: gauge.name, help: gauge.help, type: 'gauge', value });
    else if (reason) samples.push({ name: DROPPED_ENTRIES_METRIC, help: '', type: 'counter', labels: { reason }, value });
    else samples.push({ name: EVENTS_METRIC, help: EVENTS_HELP, type: 'counter', labels: { event: key }, value });
  }
  return samples;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Why `sample` cannot be exported (a short phrase), or `undefined` when it can. */
export function checkBackendMetric(sample: BackendMetric): string | undefined {
  if (typeof sample.name !== 'string' || !METRIC_NAME.test(sample.name)) return 'not a Prometheus metric name';
  if (sample.type !== 'counter' && sample.type !== 'gauge') return `type ${JSON.stringify(sample.type)}: expected "counter" or "gauge"`;
  if (typeof sample.value !== 'number' || !Number.isFinite(sample.value)) return `value ${String(sample.value)}: expected a finite number`;
  if (sample.type === 'counter' && sample.value < 0) return `value ${sample.value}: a counter is never negative`;
  const labels = Object.entries(sample.labels ?? {});
  for (const [key, value] of labels) {
    if (!LABEL_NAME.test(key) || key.startsWith('__')) return `label ${JSON.stringify(key)}: not a Prometheus label name`;
    if (key === 'backend') return 'label "backend": set by the server from the backend\'s name';
    if (typeof value !== 'string') return `label ${key}: expected a string value`;
  }
  if (sample.name === DROPPED_ENTRIES_METRIC) {
    if (sample.type !== 'counter' || labels.length !== 1 || labels[0]?.[0] !== 'reason') {
      return 'drops are a counter with exactly one label, "reason"';
    }
  } else if (typeof sample.help !== 'string' || sample.help.trim() === '') {
    return 'help: expected a one-line description';
  }
  return undefined;
}

/** The label names of a sample, sorted, as one key (a family's label names never change). */
export function labelKey(sample: BackendMetric): string {
  return Object.keys(sample.labels ?? {})
    .sort()
    .join(',');
}

// Owns what a backend contributes to the metrics: its typed `metrics()` samples, or, for a
// backend that only has the older untyped `stats()`, those counters as backend events; and the
// rules a sample must follow.
import { DROPPED_ENTRIES_METRIC, backendEventSamples, type Backend, type BackendMetric } from '@logstream/protocol';

/** The server's drops family; a backend's own drops join it with a `reason` label. */
export { DROPPED_ENTRIES_METRIC };

/**
 * A backend's metric samples: its typed `metrics()` when it has one, else every key of its
 * untyped `stats()` as an event of `logstream_backend_events_total` (a counter, its `event` label).
 * The built-in backends all have `metrics()`, so no table of their stats keys lives here.
 */
export function readBackendMetrics(backend: Backend): readonly BackendMetric[] {
  if (typeof backend.metrics === 'function') return backend.metrics();
  return backendEventSamples(backend.stats?.() ?? {});
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

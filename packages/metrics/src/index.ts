export { createMetricsRegistry } from './registry';
export type { MetricsSource } from './registry';
export { serveMetrics, DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT, DEFAULT_METRICS_PATH } from './serve-metrics';
export type { ServeMetricsOptions } from './serve-metrics';
export { DROPPED_ENTRIES_METRIC } from './backend-metrics';
export type { BackendMetric } from '@logstream/protocol';

export { ConfigSchema, parseConfig, loadConfig, applyOverrides, formatConfigIssues } from './config';
export type { Config, ConfigOverrides } from './config';
export {
  startServer,
  createBackends,
  describeBackends,
  checkConfig,
  reloadServer,
  restartOnlyChanges,
  MAX_SOCKET_PATH_BYTES,
} from './server';
export type { RunningServer } from './server';
export { createMetricsRegistry, serveMetrics } from '@logstream/metrics';
export { createLogger } from './logger';
export type { Logger } from './logger';

export { LogServer, DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_PARTIAL_BYTES, DEFAULT_HANDSHAKE_TIMEOUT_MS } from './log-server';
export { DEFAULT_SOCKET_PATH } from '@logstream/protocol';
export type { IntakeDropReason, LogServerEvents, LogServerOptions, ServerCounters } from './log-server';
export { DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_INTERVAL_MS } from './rate-limiter';
export { BackendRoute, DEFAULT_MAX_WAIT_MS, DEFAULT_MIN_LEVEL, DEFAULT_MAX_QUEUED_BYTES, DEFAULT_WHEN_FULL } from './backend-route';
export {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_READ_BUFFER_BYTES,
  DEFAULT_SOCKET_MODE,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_DEDUPE_WINDOW,
  DEFAULT_MAX_INFLIGHT_BYTES,
} from './server-defaults';
export type { BackendRouteEvents, BackendRouteOptions, DropReason, RouteDrop, WhenFull } from './backend-route';
export { MemoryBackend } from './memory-backend';
export { completeEntry } from './enrich';
export type { EnrichDefaults } from './enrich';

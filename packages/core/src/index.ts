export { LogServer, DEFAULT_SOCKET_PATH, DEFAULT_MAX_LINE_BYTES } from './log-server';
export type { LogServerOptions, ServerCounters } from './log-server';
export { BackendRoute } from './backend-route';
export type { BackendRouteOptions, WhenFull } from './backend-route';
export { DedupeWindow } from './dedupe-window';
export { MemoryBackend } from './memory-backend';
export { completeEntry, nowIso } from './enrich';
export type { EnrichDefaults } from './enrich';

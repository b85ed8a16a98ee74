export { LogClient } from './log-client';
export type { ClientConfig, ClientStats } from './log-client';
export { DEFAULT_SOCKET_PATH, LogLevel, LogStreamError } from '@logstream/protocol';
export type { LogFields, LogLevelName, LogEntry } from '@logstream/protocol';

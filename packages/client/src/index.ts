export { LogClient, DEFAULT_SOCKET_PATH } from './log-client';
export type { ClientConfig, ClientStats } from './log-client';
export { LogLevel, LogStreamError } from '@logstream/protocol';
export type { LogFields, LogLevelName, LogEntry } from '@logstream/protocol';

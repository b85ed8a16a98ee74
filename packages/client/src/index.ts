export { LogChild, LogClient } from './log-client';
export type { ClientConfig, ClientStats, DropReason, ForeignEntry, LogArgs, LogClientEvents } from './log-client';
export { CIRCULAR, MAX_FIELD_DEPTH, MAX_FIELDS, compileRedact, flattenFields } from './field-flattener';
export type { FlatFields, RedactOptions, Redactor } from './field-flattener';
export { DEFAULT_SOCKET_PATH, LogLevel, LogStreamError } from '@logstream/protocol';
export type { ErrorFrame, LogFields, LogLevelName, LogEntry } from '@logstream/protocol';

export { LogLevel, LEVEL_NAMES, isLogLevel, parseLogLevel, levelName } from './level';
export type { LogLevelName } from './level';
export {
  MAX_ID_LENGTH,
  MAX_DAEMON_LENGTH,
  MAX_HOSTNAME_LENGTH,
  MAX_FIELD_KEY_LENGTH,
  LogLevelSchema,
  LogFieldsSchema,
  LogEntryInputSchema,
  LogEntrySchema,
  PeerIdentitySchema,
  checkEntryInput,
  nowIso,
} from './entry';
export type { LogEntry, LogEntryInput, LogFields, EntryResult, PeerIdentity } from './entry';
export {
  CANONICAL_KEYS,
  CANONICAL_LITERALS,
  encodeEntry,
  peerSuffix,
  readLeadingId,
  writeRandomUuid,
  writeNowIso,
  canonicalContext,
  canonicalRoom,
  canonicalizeLine,
  scanCanonicalEntry,
} from './canonical-line';
export type { CanonicalContext, CanonicalLine, ScannedEntry } from './canonical-line';
export { LogStreamError, ERROR_KINDS, closedError } from './errors';
export type { LogStreamErrorKind, LogStreamErrorCode, LogStreamErrorOptions } from './errors';
export { DEFAULT_OUTPUT_DIRECTORY } from './defaults';
export {
  DEFAULT_SOCKET_PATH,
  PROTOCOL_VERSION,
  encodeReady,
  encodeAck,
  encodeError,
  encodeHandshake,
  checkDaemonName,
  parseServerFrame,
} from './frames';
export type { ReadyFrame, AckFrame, ErrorFrame, ServerFrame } from './frames';
export { LineSplitter } from './line-splitter';
export type { LineSink } from './line-splitter';
export { decodeEntryLine } from './ndjson';
export type { DecodeResult } from './ndjson';
export { EntryBatch } from './batch';
export { BACKEND_EVENTS_METRIC, DROPPED_ENTRIES_METRIC, backendEventSamples, droppedEntriesSample } from './backend';
export type { Backend, BackendContext, BackendEvents, BackendMetric, BackendWriteOptions } from './backend';
export {
  SYSLOG_FACILITIES,
  DEFAULT_SYSLOG_FACILITY,
  DEFAULT_SYSLOG_SD_ID,
  parseFacility,
  formatRfc5424,
  formatRfc3164,
  formatSyslog,
  formatSyslogLine,
  escapeSyslogText,
  formatStructuredData,
  syslogPid,
} from './syslog-format';
export type { SyslogFormat, SyslogFormatOptions } from './syslog-format';
export { EntryView, JsonObjectReader, TextSpan, decodeSpan } from './canonical-reader';
export type { JsonValueKind } from './canonical-reader';
export { ByteSink } from './byte-sink';
export { allBytesIn, byteTable, hasUnsafeText, isUtcMillis } from './byte-classes';
export { SyslogWriter } from './syslog-writer';
export type { SyslogTextMode } from './syslog-writer';
export { Backoff } from './backoff';

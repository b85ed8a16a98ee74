export { SyslogBackend, STALL_REPORT_MS } from './syslog-backend';
export type { SyslogBackendStats, SyslogWriteOptions } from './syslog-backend';
export {
  DEFAULT_MAX_BUFFERED_ENTRIES,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_SYSLOG_FRAMING,
  DEFAULT_CONNECT_TIMEOUT_MS,
} from './options';
export type { SyslogBackendOptions, SyslogTlsOptions } from './options';
export { parseSyslogServer, DEFAULT_SYSLOG_PORTS } from './server-url';
export type { SyslogServer, SyslogProtocol } from './server-url';
export { DEFAULT_SYSLOG_SOCKET_PATH } from './local-transport';
export { frameMessage, truncateUtf8 } from './framing';
export { FrameWriter } from './frame-writer';
export type { WrittenFrame } from './frame-writer';
export type { SyslogFraming } from './framing';
export { SYSLOG_FACILITIES, parseFacility, formatRfc5424, formatRfc3164, formatSyslog } from '@logstream/protocol';
export type { SyslogFormat, SyslogFormatOptions } from '@logstream/protocol';

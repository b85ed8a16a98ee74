export {
  SyslogBackend,
  DEFAULT_MAX_BUFFERED_ENTRIES,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  STALL_REPORT_MS,
} from './syslog-backend';
export type { SyslogBackendOptions, SyslogBackendStats, SyslogTlsOptions, SyslogWriteOptions } from './syslog-backend';
export { parseSyslogServer, DEFAULT_SYSLOG_PORTS } from './server-url';
export type { SyslogServer, SyslogProtocol } from './server-url';
export { DEFAULT_SYSLOG_SOCKET_PATH } from './local-transport';
export { frameMessage, truncateUtf8 } from './framing';
export type { SyslogFraming } from './framing';
export { SYSLOG_FACILITIES, parseFacility, formatRfc5424, formatRfc3164, formatSyslog } from '@logstream/protocol';
export type { SyslogFormat, SyslogFormatOptions } from '@logstream/protocol';

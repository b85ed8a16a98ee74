// Owns the backend's options: their types, defaults and checks, resolved once into the values
// the backend, its transport and its reconnect loop use.
import { hostname as osHostname } from 'node:os';
import { DEFAULT_SYSLOG_FACILITY, LogStreamError, parseFacility, type SyslogFormat, type SyslogFormatOptions } from '@logstream/protocol';
import type { SyslogFraming } from './framing';
import { DEFAULT_SYSLOG_SOCKET_PATH } from './local-transport';
import { parseSyslogServer, type SyslogServer } from './server-url';

/** TLS settings of a `tls://` server: paths of PEM files. */
export interface SyslogTlsOptions {
  /** CA bundle that signs the server's certificate; default: Node's bundled CAs. */
  ca?: string;
  /** Client certificate, for servers that require mutual TLS. */
  cert?: string;
  /** Private key of `cert`. */
  key?: string;
  /** Refuse a server whose certificate does not verify; default `true`. */
  rejectUnauthorized?: boolean;
  /** Name checked against the certificate; default: the host of `server` (when not an IP). */
  servername?: string;
}

/** Options of {@link SyslogBackend}. Every one is optional. */
export interface SyslogBackendOptions {
  /**
   * Message format. Default: `"rfc5424"` for a remote `server`; `"rfc3164"` for the local
   * socket, in the syslog(3) form without HOSTNAME (`<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`),
   * because stock local receivers (rsyslog's imuxsock with its default parser, journald)
   * misread RFC 5424 there. RFC 3164 to the local socket always leaves HOSTNAME out.
   */
  format?: SyslogFormat;
  /** Facility: a name (`"LOG_DAEMON"`, `"local3"`) or a number 0–23; default `"LOG_USER"` (1). */
  facility?: string | number;
  /**
   * Remote server: `udp://host:514`, `tcp://host:601` or `tls://host:6514` (see
   * {@link parseSyslogServer}). Absent or `null`: the local socket {@link socketPath}.
   */
  server?: string | null;
  /** Local datagram socket; default `/dev/log`. Ignored when `server` is set. */
  socketPath?: string;
  /** Framing on TCP: `"octet-counting"` (default, RFC 6587 §3.4.1) or `"lf"`. TLS always counts octets. */
  framing?: SyslogFraming;
  /** TLS files for a `tls://` server. */
  tls?: SyslogTlsOptions;
  /**
   * Most messages held in this process, waiting for the peer; default 10000. A `write()` that
   * finds the buffer full waits for room: nothing buffered is ever evicted.
   */
  maxBufferedEntries?: number;
  /** Most bytes held in this process, waiting for the peer; default 8 MiB. Past it, `write()` waits too. */
  maxBufferedBytes?: number;
  /**
   * Longest message in bytes, framing excluded; longer ones are cut at a character boundary
   * and counted as `truncated`. Default 65536; UDP caps it at 65507, the local socket at 200 KiB.
   */
  maxMessageBytes?: number;
  /** APP-NAME / TAG for every message; default: each entry's daemon name. */
  appName?: string;
  /** RFC 5424 MSGID for every message; default `-`. */
  msgId?: string;
  /** HOSTNAME for entries without one; default: this machine's host name. */
  hostname?: string;
  /** SD-ID of the element carrying the fields; default `logstream@32473`. */
  sdId?: string;
  /** Prefix RFC 5424 messages with a UTF-8 BOM; default `false`. */
  utf8Bom?: boolean;
  /** Give up one TCP/TLS connection attempt after this long, in ms; default 5000. */
  connectTimeoutMs?: number;
  /** Longest wait of `flush()` (and of `close()` before it gives up on waiting writes), in ms; default 5000. */
  flushTimeoutMs?: number;
  /**
   * Frames written to a TCP/TLS connection (or a local socket) within this many ms before it
   * broke are counted as `possibly_lost`; default 2000. See the README.
   */
  unconfirmedWindowMs?: number;
  /** Backend name for logs and metric labels; default `"syslog"`. */
  name?: string;
}

/** Default of {@link SyslogBackendOptions.maxBufferedEntries}. */
export const DEFAULT_MAX_BUFFERED_ENTRIES = 10_000;
/** Default of {@link SyslogBackendOptions.maxBufferedBytes}. */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Default of {@link SyslogBackendOptions.maxMessageBytes}. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
/** Default of {@link SyslogBackendOptions.framing}. */
export const DEFAULT_SYSLOG_FRAMING: SyslogFraming = 'octet-counting';
/** Default of {@link SyslogBackendOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** Where messages go: the local datagram socket, or a remote server. */
export type SyslogTarget = { kind: 'local'; socketPath: string } | { kind: 'remote'; server: SyslogServer };

/** {@link SyslogBackendOptions} checked, with every default filled in. */
export interface ResolvedSyslogOptions {
  name: string;
  format: SyslogFormat;
  facility: number;
  formatOptions: SyslogFormatOptions;
  target: SyslogTarget;
  /** TCP framing (TLS always counts octets, whatever this says). */
  framing: SyslogFraming;
  tls: SyslogTlsOptions | undefined;
  maxBufferedEntries: number;
  maxBufferedBytes: number;
  maxMessageBytes: number;
  connectTimeoutMs: number;
  flushTimeoutMs: number;
  unconfirmedWindowMs: number;
}

/**
 * Checks `options` and fills in the defaults.
 *
 * @throws LogStreamError (kind `config`) for a bad facility, format, framing, server URL or bound.
 */
export function resolveSyslogOptions(options: SyslogBackendOptions): ResolvedSyslogOptions {
  const local = options.server === undefined || options.server === null || options.server === '';
  const format = options.format ?? (local ? 'rfc3164' : 'rfc5424');
  if (format !== 'rfc5424' && format !== 'rfc3164') {
    throw configError(`format ${JSON.stringify(options.format)}: expected "rfc5424" or "rfc3164"`);
  }
  const facility = options.facility === undefined ? DEFAULT_SYSLOG_FACILITY : parseFacility(options.facility);
  if (facility === undefined) {
    throw configError(
      `facility ${JSON.stringify(options.facility)}: expected a syslog facility name (LOG_USER, LOG_DAEMON, LOG_LOCAL0..7, ...) or a number 0-23`,
    );
  }
  const framing = options.framing ?? DEFAULT_SYSLOG_FRAMING;
  if (framing !== 'octet-counting' && framing !== 'lf') {
    throw configError(`framing ${JSON.stringify(options.framing)}: expected "octet-counting" or "lf"`);
  }
  const maxBufferedEntries = positiveInt(options.maxBufferedEntries, DEFAULT_MAX_BUFFERED_ENTRIES, 'maxBufferedEntries');
  const maxBufferedBytes = positiveInt(options.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES, 'maxBufferedBytes');
  const maxMessageBytes = positiveInt(options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes');
  if (maxMessageBytes < 480 || maxMessageBytes > maxBufferedBytes) {
    throw configError(`maxMessageBytes ${maxMessageBytes}: expected 480 to maxBufferedBytes (${maxBufferedBytes})`);
  }
  const flushTimeoutMs = positiveInt(options.flushTimeoutMs, 5000, 'flushTimeoutMs');
  const unconfirmedWindowMs = positiveInt(options.unconfirmedWindowMs, 2000, 'unconfirmedWindowMs');
  const connectTimeoutMs = positiveInt(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs');
  let target: SyslogTarget;
  if (local) {
    target = { kind: 'local', socketPath: options.socketPath ?? DEFAULT_SYSLOG_SOCKET_PATH };
  } else {
    const server = parseSyslogServer(options.server as string);
    if (options.tls !== undefined && server.protocol !== 'tls') {
      throw configError(`tls is set but server ${JSON.stringify(options.server)} is not tls://`);
    }
    target = { kind: 'remote', server };
  }
  return {
    name: options.name ?? 'syslog',
    format,
    facility,
    formatOptions: {
      facility,
      hostname: options.hostname ?? osHostname(),
      ...(options.appName !== undefined && { appName: options.appName }),
      ...(options.msgId !== undefined && { msgId: options.msgId }),
      ...(options.sdId !== undefined && { sdId: options.sdId }),
      ...(options.utf8Bom !== undefined && { utf8Bom: options.utf8Bom }),
      ...(local && { omitHostname: true }),
    },
    target,
    framing,
    tls: options.tls,
    maxBufferedEntries,
    maxBufferedBytes,
    maxMessageBytes,
    connectTimeoutMs,
    flushTimeoutMs,
    unconfirmedWindowMs,
  };
}

/**
 * A `config` error about one option, named as this package's option (`maxBufferedEntries`); an
 * application that reads another syntax (the server's TOML) maps the name to its own.
 */
export function configError(message: string): LogStreamError {
  return new LogStreamError('config', `syslog: ${message}`, { code: 'CONFIG' });
}

function positiveInt(value: number | undefined, fallback: number, key: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw configError(`${key} ${value}: expected a positive integer`);
  return value;
}

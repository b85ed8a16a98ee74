// Owns parsing the `server` URL (udp://, tcp://, tls://, host, port).
import { isIP } from 'node:net';
import { LogStreamError } from '@logstream/protocol';

/** How a remote syslog server is reached. */
export type SyslogProtocol = 'udp' | 'tcp' | 'tls';

/** A parsed `server` option. */
export interface SyslogServer {
  protocol: SyslogProtocol;
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
}

/** Ports used when a `server` URL gives none: 514 (UDP, RFC 5426), 601 (TCP, RFC 6587), 6514 (TLS, RFC 5425). */
export const DEFAULT_SYSLOG_PORTS: Readonly<Record<SyslogProtocol, number>> = Object.freeze({
  udp: 514,
  tcp: 601,
  tls: 6514,
});

const URL_RE = /^(?:([a-z]+):\/\/)?(\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+)(?::(\d+))?\/?$/i;

/**
 * Parses a remote syslog address: `udp://host:514`, `tcp://host:601`, `tls://host:6514`;
 * IPv6 hosts in brackets (`tcp://[::1]:601`). Without a scheme (`host:514`, the classic
 * `@host` of syslog.conf) it is UDP. A missing port is the protocol's default
 * ({@link DEFAULT_SYSLOG_PORTS}).
 *
 * @throws LogStreamError (kind `config`) naming the value and what was expected.
 */
export function parseSyslogServer(url: string): SyslogServer {
  const m = typeof url === 'string' ? URL_RE.exec(url.trim()) : null;
  const scheme = m?.[1]?.toLowerCase() ?? 'udp';
  if (m === null || (scheme !== 'udp' && scheme !== 'tcp' && scheme !== 'tls')) {
    throw new LogStreamError(
      'config',
      `syslog server ${JSON.stringify(url)}: expected udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT`,
      { code: 'CONFIG' },
    );
  }
  let host = m[2] as string;
  if (host.startsWith('[')) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) {
      throw new LogStreamError('config', `syslog server ${JSON.stringify(url)}: ${host} is not an IPv6 address`, {
        code: 'CONFIG',
      });
    }
  }
  const port = m[3] === undefined ? DEFAULT_SYSLOG_PORTS[scheme] : Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new LogStreamError('config', `syslog server ${JSON.stringify(url)}: port ${m[3]} is not 1-65535`, {
      code: 'CONFIG',
    });
  }
  return { protocol: scheme, host, port };
}

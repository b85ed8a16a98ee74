// Owns the choice of transport for a target (local socket, UDP, TCP, TLS) and the loading of
// the TLS files a `tls://` transport connects with.
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { LogStreamError } from '@logstream/protocol';
import { LocalTransport } from './local-transport';
import type { ResolvedSyslogOptions, SyslogTlsOptions } from './options';
import { StreamTransport } from './stream-transport';
import type { Transport, TransportHooks } from './transport';
import { UdpTransport } from './udp-transport';

/** The transport that reaches `options.target`, reporting to `hooks`. */
export function createTransport(options: ResolvedSyslogOptions, hooks: TransportHooks): Transport {
  const { target, maxMessageBytes } = options;
  if (target.kind === 'local') return new LocalTransport(target.socketPath, maxMessageBytes, hooks);
  const { protocol, host, port } = target.server;
  if (protocol === 'udp') return new UdpTransport({ host, port, maxMessageBytes }, hooks);
  const tls = options.tls ?? {};
  return new StreamTransport(
    {
      host,
      port,
      // RFC 5425 §4.3: TLS uses octet counting only.
      framing: protocol === 'tls' ? 'octet-counting' : options.framing,
      maxMessageBytes,
      connectTimeoutMs: options.connectTimeoutMs,
      ...(protocol === 'tls' && { loadTls: () => loadTls(tls) }),
    },
    hooks,
  );
}

/**
 * Reads the PEM files of `tls` into connection options.
 *
 * @throws LogStreamError (kind `config`) naming a file that cannot be read, or a certificate
 *   without its key (or the reverse)
 */
export async function loadTls(tls: SyslogTlsOptions): Promise<ConnectionOptions> {
  const read = async (path: string | undefined, key: string) => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (error) {
      throw new LogStreamError(
        'config',
        `syslog: ${key} ${path}: cannot read it: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        { code: 'CONFIG', cause: error },
      );
    }
  };
  const [ca, cert, key] = await Promise.all([read(tls.ca, 'tls.ca'), read(tls.cert, 'tls.cert'), read(tls.key, 'tls.key')]);
  if ((cert === undefined) !== (key === undefined)) {
    throw new LogStreamError('config', 'syslog: tls.cert and tls.key must be set together', { code: 'CONFIG' });
  }
  return {
    ...(ca !== undefined && { ca }),
    ...(cert !== undefined && { cert }),
    ...(key !== undefined && { key }),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
    ...(tls.servername !== undefined && { servername: tls.servername }),
  };
}

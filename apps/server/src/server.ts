import { chown } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { LogStreamError, type Backend } from '@logstream/protocol';
import { LogServer, type BackendRouteOptions } from '@logstream/core';
import { FileBackend } from '@logstream/backend-file';
import type { Config } from './config';
import type { Logger } from './logger';
import { createMetricsRegistry, serveMetrics } from './metrics';

/** A running server made from a config. */
export interface RunningServer {
  server: LogServer;
  metrics: HttpServer | undefined;
  /** Stops everything (graceful). */
  close(): Promise<void>;
}

/**
 * Builds the backends a config enables, each with its route settings. The journald and syslog
 * packages (and their native addon) are loaded only when enabled.
 */
export async function createBackends(config: Config): Promise<BackendRouteOptions[]> {
  const routes: BackendRouteOptions[] = [];
  const route = (backend: Backend, b: { min_level: number; when_full: 'block' | 'drop_newest'; max_queue_bytes: number }) =>
    routes.push({
      backend,
      minLevel: b.min_level as BackendRouteOptions['minLevel'],
      whenFull: b.when_full,
      maxQueuedBytes: b.max_queue_bytes,
    });
  const { file, journald, syslog } = config.backends;
  if (file.enabled) {
    route(
      new FileBackend({
        directory: config.storage.output_directory,
        format: file.format,
        sync: file.sync,
        maxFileBytes: config.storage.max_file_size,
        rotation: {
          enabled: config.storage.rotation.enabled,
          maxAgeHours: config.storage.rotation.max_age_hours,
          keepFiles: config.storage.rotation.keep_files,
        },
        compression: file.compression ? file.compression_algorithm : 'none',
        // The syslog line format shares [backends.syslog]'s facility, SD-ID and format (unset: rfc5424).
        syslog: { facility: syslog.facility, sdId: syslog.sd_id, ...(syslog.format === undefined ? {} : { format: syslog.format }) },
      }),
      file,
    );
  }
  if (journald.enabled) {
    const { JournaldBackend } = await import('@logstream/backend-journald');
    route(
      new JournaldBackend({
        socketPath: journald.socket_path,
        ...(journald.syslog_identifier === undefined ? {} : { syslogIdentifier: journald.syslog_identifier }),
      }),
      journald,
    );
  }
  if (syslog.enabled) {
    const { SyslogBackend } = await import('@logstream/backend-syslog');
    route(
      new SyslogBackend({
        ...(syslog.format === undefined ? {} : { format: syslog.format }),
        facility: syslog.facility,
        socketPath: syslog.socket_path,
        framing: syslog.framing,
        ...(syslog.server ? { server: syslog.server } : {}),
        maxBufferedEntries: syslog.max_buffered_entries,
        maxBufferedBytes: syslog.max_buffered_bytes,
        maxMessageBytes: syslog.max_message_bytes,
        sdId: syslog.sd_id,
        utf8Bom: syslog.utf8_bom,
        connectTimeoutMs: syslog.connect_timeout_ms,
        ...(syslog.app_name === undefined ? {} : { appName: syslog.app_name }),
        ...(syslog.msg_id === undefined ? {} : { msgId: syslog.msg_id }),
        ...(syslog.hostname === undefined ? {} : { hostname: syslog.hostname }),
        // TLS options for a tls:// server; explicit ones elsewhere reach the backend, which refuses them.
        ...(syslog.server?.startsWith('tls://') || syslog.tls_ca || syslog.tls_cert || syslog.tls_key || syslog.tls_servername
          ? {
              tls: {
                ...(syslog.tls_ca === undefined ? {} : { ca: syslog.tls_ca }),
                ...(syslog.tls_cert === undefined ? {} : { cert: syslog.tls_cert }),
                ...(syslog.tls_key === undefined ? {} : { key: syslog.tls_key }),
                ...(syslog.tls_servername === undefined ? {} : { servername: syslog.tls_servername }),
                rejectUnauthorized: syslog.tls_reject_unauthorized,
              },
            }
          : {}),
      }),
      syslog,
    );
  }
  const { nats } = config.backends;
  if (nats.enabled) {
    const { NatsBackend } = await import('@logstream/backend-nats');
    const optional = <K extends string, T>(key: K, value: T | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, T>));
    route(
      new NatsBackend({
        servers: nats.servers,
        subjectPrefix: nats.subject_prefix,
        stream: nats.stream,
        replicas: nats.replicas,
        duplicateWindowMs: nats.duplicate_window_ms,
        maxInflight: nats.max_inflight,
        publishTimeoutMs: nats.publish_timeout_ms,
        writeTimeoutMs: nats.write_timeout_ms,
        connectTimeoutMs: nats.connect_timeout_ms,
        ...optional('user', nats.user),
        ...optional('pass', nats.pass),
        ...optional('token', nats.token),
        ...optional('credsFile', nats.creds_file),
        ...(nats.tls_ca || nats.tls_cert || nats.tls_key
          ? { tls: { ...optional('caFile', nats.tls_ca), ...optional('certFile', nats.tls_cert), ...optional('keyFile', nats.tls_key) } }
          : {}),
      }),
      nats,
    );
  }
  return routes;
}

/** Describes where each enabled backend writes, for the start-up line. */
export function describeBackends(config: Config): string {
  const parts: string[] = [];
  const { file, journald, syslog } = config.backends;
  if (file.enabled) {
    const compression = file.compression ? `, ${file.compression_algorithm}` : '';
    parts.push(`file (${config.storage.output_directory}/current.log, ${file.format}${compression})`);
  }
  if (journald.enabled) parts.push(`journald (${journald.socket_path})`);
  if (syslog.enabled)
    parts.push(`syslog (${syslog.server || syslog.socket_path}, ${syslog.format ?? (syslog.server ? 'rfc5424' : 'rfc3164')})`);
  if (config.backends.nats.enabled)
    parts.push(`nats (stream ${config.backends.nats.stream} on ${config.backends.nats.servers.join(', ')})`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/**
 * The gid of `server.socket_group` (a name or a number).
 * @throws LogStreamError (kind `config`) when no such group exists
 */
function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  let line = '';
  try {
    line = execFileSync('getent', ['group', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    // getent exits 2 for an unknown group; the check below reports it.
  }
  const gid = Number(line.split(':')[2]);
  if (line === '' || !Number.isInteger(gid)) {
    throw new LogStreamError('config', `server.socket_group: no such group ${JSON.stringify(group)}`, { code: 'CONFIG' });
  }
  return gid;
}

/** Starts a LogServer as a config describes, with metrics when enabled. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  // Resolved before anything opens, so a bad group leaves no socket behind.
  const gid = config.server.socket_group === undefined ? undefined : groupId(config.server.socket_group);
  const routes = await createBackends(config);
  const server = new LogServer({
    socketPath: config.server.socket_path,
    backends: routes,
    maxConnections: config.server.max_connections,
    maxLineBytes: config.server.max_line_bytes,
    readBufferBytes: config.server.buffer_size,
    socketMode: config.server.socket_mode,
    shutdownTimeoutMs: config.server.shutdown_timeout_ms,
    dedupeWindow: config.server.dedupe_window,
    maxInflightBytes: config.server.max_inflight_bytes,
  });
  server.on('error', (error: Error) => log.error(error.message));
  server.on('client-error', (e: { code: string; message: string }) => log.debug(`client: ${e.code}: ${e.message}`));
  await server.listen();
  if (gid !== undefined) {
    try {
      await chown(config.server.socket_path, process.getuid?.() ?? 0, gid);
    } catch (error) {
      await server.close();
      throw new LogStreamError(
        'io',
        `server.socket_group: cannot give ${config.server.socket_path} to group ${config.server.socket_group}: ${(error as Error).message}`,
        { cause: error, code: 'IO' },
      );
    }
  }
  let metrics: HttpServer | undefined;
  if (config.metrics.enabled) {
    try {
      metrics = await serveMetrics(createMetricsRegistry(server), config.metrics.host, config.metrics.port, config.metrics.path);
    } catch (error) {
      await server.close();
      throw new LogStreamError(
        'io',
        `metrics: cannot listen on ${config.metrics.host}:${config.metrics.port}: ${(error as Error).message}`,
        { cause: error, code: 'IO' },
      );
    }
    metrics.on('error', (error: Error) => log.error(`metrics: ${error.message}`));
  }
  return {
    server,
    metrics,
    async close() {
      await server.close();
      await new Promise<void>((resolve) => (metrics ? metrics.close(() => resolve()) : resolve()));
    },
  };
}

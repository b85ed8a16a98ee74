import { chown } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import type { Backend } from '@logstream/protocol';
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
    routes.push({ backend, minLevel: b.min_level as BackendRouteOptions['minLevel'], whenFull: b.when_full, maxQueuedBytes: b.max_queue_bytes });
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
        // The syslog line format shares [backends.syslog]'s facility.
        syslog: { facility: syslog.facility },
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
        format: syslog.format,
        facility: syslog.facility,
        socketPath: syslog.socket_path,
        framing: syslog.framing,
        ...(syslog.server ? { server: syslog.server } : {}),
        ...(syslog.max_buffered_bytes === undefined ? {} : { maxBufferedBytes: syslog.max_buffered_bytes }),
        tls: {
          ...(syslog.tls_ca === undefined ? {} : { ca: syslog.tls_ca }),
          ...(syslog.tls_cert === undefined ? {} : { cert: syslog.tls_cert }),
          ...(syslog.tls_key === undefined ? {} : { key: syslog.tls_key }),
          rejectUnauthorized: syslog.tls_reject_unauthorized,
        },
      }),
      syslog,
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
  if (syslog.enabled) parts.push(`syslog (${syslog.server || syslog.socket_path}, ${syslog.format})`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  return Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
}

/** Starts a LogServer as a config describes, with metrics when enabled. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
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
  for (const route of routes) {
    const events = route.backend as unknown as { on?: (event: string, fn: (e: Error) => void) => void };
    if (typeof events.on === 'function') {
      events.on('error', (error: Error) => log.error(`backend ${route.backend.name}: ${error.message}`));
    }
  }
  await server.listen();
  if (config.server.socket_group !== undefined) {
    await chown(config.server.socket_path, process.getuid?.() ?? 0, groupId(config.server.socket_group));
  }
  let metrics: HttpServer | undefined;
  if (config.metrics.enabled) {
    metrics = await serveMetrics(createMetricsRegistry(server), config.metrics.host, config.metrics.port, config.metrics.path);
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

import { access, chown, chmod, constants, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Server as HttpServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { LogStreamError, type Backend } from '@logstream/protocol';
import { LogServer, type BackendRouteOptions } from '@logstream/core';
import { FileBackend } from '@logstream/backend-file';
import { loadUnixDgram } from '@logstream/unix-dgram';
import { createMetricsRegistry, serveMetrics } from '@logstream/metrics';
import { buildBackend, type Config } from './config';
import type { Logger } from './logger';

/** A running server made from a config. */
export interface RunningServer {
  server: LogServer;
  metrics: HttpServer | undefined;
  /** The configuration in effect (a reload changes its backends and storage). */
  readonly config: Config;
  /**
   * Applies a new configuration (SIGHUP): see {@link reloadServer}.
   * @throws LogStreamError when it cannot be applied; the running configuration then stays
   */
  reload(next: Config): Promise<void>;
  /** Stops everything (graceful). */
  close(): Promise<void>;
}

/**
 * Tables whose settings take effect only at start (the socket, the limits, the metrics listener):
 * a reload names what changed in them and keeps the running values.
 */
const RESTART_ONLY_TABLES = ['server', 'metrics'] as const;

/** Each restart-only setting that differs: `server.socket_path ("/a.sock" → "/b.sock")`. */
export function restartOnlyChanges(running: Config, next: Config): string[] {
  const changes: string[] = [];
  for (const table of RESTART_ONLY_TABLES) {
    const before = running[table] as Record<string, unknown>;
    const after = next[table] as Record<string, unknown>;
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const [a, b] = [JSON.stringify(before[key]), JSON.stringify(after[key])];
      if (a !== b) changes.push(`${table}.${key} (${a ?? 'unset'} → ${b ?? 'unset'})`);
    }
  }
  return changes;
}

/**
 * Applies `next` to a running server, as SIGHUP does: restart-only settings that changed are
 * logged and kept; when backends or storage changed, new backends are built and swapped in
 * between batches ({@link LogServer.replaceRoutes}: connections stay open, each entry is stored
 * by the old backends or by the new ones, once) and the old ones closed once drained; otherwise
 * the output files are reopened (logrotate). Returns the configuration now in effect.
 * @throws LogStreamError when the new backends cannot be built or opened; the old ones stay
 */
export async function reloadServer(server: LogServer, running: Config, next: Config, log: Logger): Promise<Config> {
  for (const change of restartOnlyChanges(running, next)) {
    log.warn(`SIGHUP: ${change} needs a restart to take effect; keeping the running value`);
  }
  const effective: Config = { ...next, server: running.server, metrics: running.metrics };
  if (JSON.stringify([effective.backends, effective.storage]) === JSON.stringify([running.backends, running.storage])) {
    log.info('SIGHUP: backends unchanged; reopening output files');
    await server.reopen();
    log.info('SIGHUP: output files reopened');
    return running;
  }
  const problems = await checkConfig(effective);
  if (problems.length > 0) throw new LogStreamError('config', problems.join('; '), { code: 'CONFIG' });
  const routes = await createBackends(effective);
  await server.replaceRoutes(routes);
  log.info(`SIGHUP: config reloaded; backends: ${describeBackends(effective)}`);
  return effective;
}

/**
 * Builds the backends a config enables, each with its route settings. The journald and syslog
 * packages (and their native addon) are loaded only when enabled.
 */
export async function createBackends(config: Config): Promise<BackendRouteOptions[]> {
  const routes: BackendRouteOptions[] = [];
  const route = (
    backend: Backend,
    b: { min_level: number; when_full: 'block' | 'drop_newest'; max_queue_bytes: number; max_wait_ms: number },
  ) =>
    routes.push({
      backend,
      minLevel: b.min_level as BackendRouteOptions['minLevel'],
      whenFull: b.when_full,
      maxQueuedBytes: b.max_queue_bytes,
      maxWaitMs: b.max_wait_ms,
    });
  const { file, journald, syslog } = config.backends;
  if (file.enabled) {
    route(
      buildBackend('file', FileBackend, {
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
      buildBackend('journald', JournaldBackend, {
        socketPath: journald.socket_path,
        ...(journald.syslog_identifier === undefined ? {} : { syslogIdentifier: journald.syslog_identifier }),
      }),
      journald,
    );
  }
  if (syslog.enabled) {
    const { SyslogBackend } = await import('@logstream/backend-syslog');
    route(
      buildBackend('syslog', SyslogBackend, {
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
      buildBackend('nats', NatsBackend, {
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

/** The longest Unix socket path the kernel takes: sun_path holds 108 bytes with the closing NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The gid of `server.socket_group` (a name or a number), or undefined when no such group exists. */
function groupId(group: string): number | undefined {
  if (/^\d+$/.test(group)) return Number(group);
  let line = '';
  try {
    line = execFileSync('getent', ['group', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    // getent exits 2 for an unknown group.
  }
  const gid = Number(line.split(':')[2]);
  return line !== '' && Number.isInteger(gid) ? gid : undefined;
}

/** Whether `path` exists (any kind of file). */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** What the config enables that needs the optional unix-dgram addon, for messages; undefined: nothing. */
function nativeUser(config: Config): string | undefined {
  const { journald, syslog } = config.backends;
  if (journald.enabled) return 'the journald backend (backends.journald, --journald)';
  if (syslog.enabled && !syslog.server) return `the syslog backend's local socket (backends.syslog.socket_path ${syslog.socket_path})`;
  return undefined;
}

/**
 * What can be checked without opening or binding anything, one line per problem (none: empty):
 * the socket path's length and directory, the native addon of journald and the local syslog
 * socket, the socket group, the syslog TLS files, the options each backend refuses. `--validate`
 * prints these; a start stops on them before anything is made.
 */
export async function checkConfig(config: Config): Promise<string[]> {
  const problems: string[] = [];
  const socketPath = config.server.socket_path;
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    problems.push(
      `server.socket_path: ${JSON.stringify(socketPath)} is ${bytes} bytes, longer than the ${MAX_SOCKET_PATH_BYTES} a Unix socket path may have: choose a shorter path`,
    );
  }
  const directory = dirname(socketPath);
  const info = await stat(directory).catch(() => undefined);
  if (info !== undefined && !info.isDirectory()) {
    problems.push(`server.socket_path: ${directory} is not a directory`);
  } else if (info === undefined && !(await exists(dirname(directory)))) {
    // A missing last directory is created at start (see prepareSocketDirectory); a deeper gap is a mistake.
    problems.push(`server.socket_path: the directory ${directory} does not exist, nor its parent ${dirname(directory)}`);
  }
  const native = nativeUser(config);
  if (native !== undefined) await loadUnixDgram(native).catch((error: Error) => problems.push(error.message));
  const group = config.server.socket_group;
  if (group !== undefined && groupId(group) === undefined) problems.push(`server.socket_group: no such group ${JSON.stringify(group)}`);
  const { syslog } = config.backends;
  if (syslog.enabled) {
    for (const key of ['tls_ca', 'tls_cert', 'tls_key'] as const) {
      const file = syslog[key];
      if (file === undefined) continue;
      await access(file, constants.R_OK).catch((error: Error) =>
        problems.push(`backends.syslog.${key}: cannot read ${file}: ${error.message}`),
      );
    }
  }
  // The backends' own checks of their options (their constructors open nothing), by TOML key.
  await createBackends(config).catch((error: Error) => problems.push(error.message));
  return problems;
}

/**
 * Creates the socket's directory when it is missing but its parent exists, mode 0755, as
 * systemd's `RuntimeDirectory=` does for the unit (so deploy/server.toml's /run/logstream works
 * outside systemd too). Returns the directory when it made it.
 */
async function prepareSocketDirectory(socketPath: string): Promise<string | undefined> {
  const directory = dirname(socketPath);
  if (await exists(directory)) return undefined;
  await mkdir(directory, { mode: 0o755 });
  // The umask may have narrowed it; clients must be able to reach the socket through it.
  await chmod(directory, 0o755);
  return directory;
}

/** Starts a LogServer as a config describes, with metrics when enabled. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  // Checked before anything opens, so a bad group or path leaves nothing behind.
  const problems = await checkConfig(config);
  if (problems.length > 0) throw new LogStreamError('config', problems.join('; '), { code: 'CONFIG' });
  const gid = config.server.socket_group === undefined ? undefined : groupId(config.server.socket_group);
  const made = await prepareSocketDirectory(config.server.socket_path);
  if (made !== undefined) log.info(`created the socket directory ${made} (mode 0755), as systemd's RuntimeDirectory= would`);
  const routes = await createBackends(config);
  const server = new LogServer({
    socketPath: config.server.socket_path,
    backends: routes,
    maxConnections: config.server.max_connections,
    ...(config.server.max_connections_per_uid === undefined ? {} : { maxConnectionsPerUid: config.server.max_connections_per_uid }),
    maxLineBytes: config.server.max_line_bytes,
    readBufferBytes: config.server.buffer_size,
    socketMode: config.server.socket_mode,
    shutdownTimeoutMs: config.server.shutdown_timeout_ms,
    dedupeWindow: config.server.dedupe_window,
    maxInflightBytes: config.server.max_inflight_bytes,
    ...(config.server.max_partial_bytes === undefined ? {} : { maxPartialBytes: config.server.max_partial_bytes }),
    handshakeTimeoutMs: config.server.handshake_timeout_ms,
    rateLimitIntervalMs: config.server.rate_limit_interval_ms,
    rateLimitBurst: config.server.rate_limit_burst,
  });
  server.on('error', (error: Error) => log.error(error.message));
  server.on('warning', (message: string) => log.warn(message));
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
      const { host, port, path } = config.metrics;
      metrics = await serveMetrics(createMetricsRegistry(server), { host, port, path });
    } catch (error) {
      await server.close();
      throw error;
    }
    metrics.on('error', (error: Error) => log.error(`metrics: ${error.message}`));
  }
  let current = config;
  return {
    server,
    metrics,
    get config() {
      return current;
    },
    async reload(next) {
      current = await reloadServer(server, current, next, log);
    },
    async close() {
      await server.close();
      await new Promise<void>((resolve) => (metrics ? metrics.close(() => resolve()) : resolve()));
    },
  };
}

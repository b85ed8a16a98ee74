import { describe, expect, it } from 'vitest';
import * as protocol from '@logstream/protocol';
import * as core from '@logstream/core';
import { BackendRoute, LogServer, MemoryBackend } from '@logstream/core';
import * as file from '@logstream/backend-file';
import { FileBackend } from '@logstream/backend-file';
import * as journald from '@logstream/backend-journald';
import { JournaldBackend } from '@logstream/backend-journald';
import * as syslog from '@logstream/backend-syslog';
import * as nats from '@logstream/backend-nats';
import * as metrics from '@logstream/metrics';
import * as query from '@logstream/query';
import { parseConfig } from '../src/config';

/** Every leaf of a table, by its dotted TOML path. */
function leaves(table: Record<string, unknown>, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(table)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [p, v] of leaves(value as Record<string, unknown>, path)) out.set(p, v);
    } else out.set(path, value);
  }
  return out;
}

const route = {
  min_level: core.DEFAULT_MIN_LEVEL,
  when_full: core.DEFAULT_WHEN_FULL,
  max_queue_bytes: core.DEFAULT_MAX_QUEUED_BYTES,
  max_wait_ms: core.DEFAULT_MAX_WAIT_MS,
};
const routeOf = (table: string) => Object.entries(route).map(([k, v]) => [`backends.${table}.${k}`, v] as const);

/** The library default of each server.toml key a library takes. */
const LIBRARY_DEFAULTS = new Map<string, unknown>([
  ['server.socket_path', protocol.DEFAULT_SOCKET_PATH],
  ['server.max_connections', core.DEFAULT_MAX_CONNECTIONS],
  ['server.buffer_size', core.DEFAULT_READ_BUFFER_BYTES],
  ['server.max_line_bytes', core.DEFAULT_MAX_LINE_BYTES],
  ['server.socket_mode', core.DEFAULT_SOCKET_MODE],
  ['server.shutdown_timeout_ms', core.DEFAULT_SHUTDOWN_TIMEOUT_MS],
  ['server.dedupe_window', core.DEFAULT_DEDUPE_WINDOW],
  ['server.max_inflight_bytes', core.DEFAULT_MAX_INFLIGHT_BYTES],
  ['server.handshake_timeout_ms', core.DEFAULT_HANDSHAKE_TIMEOUT_MS],
  ['server.rate_limit_interval_ms', core.DEFAULT_RATE_LIMIT_INTERVAL_MS],
  ['server.rate_limit_burst', core.DEFAULT_RATE_LIMIT_BURST],
  ['storage.output_directory', protocol.DEFAULT_OUTPUT_DIRECTORY],
  ['storage.max_file_size', file.DEFAULT_MAX_FILE_BYTES],
  ['storage.rotation.max_age_hours', file.DEFAULT_MAX_AGE_HOURS],
  ['storage.rotation.keep_files', file.DEFAULT_KEEP_FILES],
  ['backends.file.format', file.DEFAULT_FILE_FORMAT],
  ['backends.file.sync', file.DEFAULT_SYNC_POLICY],
  ...routeOf('file'),
  ['backends.journald.socket_path', journald.DEFAULT_JOURNALD_SOCKET],
  ...routeOf('journald'),
  ['backends.syslog.facility', protocol.DEFAULT_SYSLOG_FACILITY],
  ['backends.syslog.socket_path', syslog.DEFAULT_SYSLOG_SOCKET_PATH],
  ['backends.syslog.framing', syslog.DEFAULT_SYSLOG_FRAMING],
  ['backends.syslog.max_buffered_entries', syslog.DEFAULT_MAX_BUFFERED_ENTRIES],
  ['backends.syslog.max_buffered_bytes', syslog.DEFAULT_MAX_BUFFERED_BYTES],
  ['backends.syslog.max_message_bytes', syslog.DEFAULT_MAX_MESSAGE_BYTES],
  ['backends.syslog.sd_id', protocol.DEFAULT_SYSLOG_SD_ID],
  ['backends.syslog.connect_timeout_ms', syslog.DEFAULT_CONNECT_TIMEOUT_MS],
  ...routeOf('syslog'),
  ['backends.nats.subject_prefix', nats.DEFAULT_SUBJECT_PREFIX],
  ['backends.nats.stream', nats.DEFAULT_STREAM],
  ['backends.nats.replicas', nats.DEFAULT_REPLICAS],
  ['backends.nats.duplicate_window_ms', nats.DEFAULT_DUPLICATE_WINDOW_MS],
  ['backends.nats.max_inflight', nats.DEFAULT_MAX_INFLIGHT],
  ['backends.nats.publish_timeout_ms', nats.DEFAULT_PUBLISH_TIMEOUT_MS],
  ['backends.nats.write_timeout_ms', nats.DEFAULT_WRITE_TIMEOUT_MS],
  ['backends.nats.connect_timeout_ms', nats.DEFAULT_CONNECT_TIMEOUT_MS],
  ...routeOf('nats'),
  ['metrics.host', metrics.DEFAULT_METRICS_HOST],
  ['metrics.port', metrics.DEFAULT_METRICS_PORT],
  ['metrics.path', metrics.DEFAULT_METRICS_PATH],
]);

/**
 * Keys whose default only the app has: the switches of its tables, and settings no library
 * defaults (the library takes `compression: 'none' | 'gzip' | 'lz4'`, and requires `servers`).
 */
const APP_DEFAULTS = new Map<string, unknown>([
  ['storage.rotation.enabled', true],
  ['backends.file.enabled', true],
  ['backends.file.compression', false],
  ['backends.file.compression_algorithm', 'gzip'],
  ['backends.journald.enabled', false],
  ['backends.syslog.enabled', false],
  ['backends.syslog.tls_reject_unauthorized', true],
  ['backends.syslog.utf8_bom', false],
  ['backends.nats.enabled', false],
  ['backends.nats.servers', ['nats://127.0.0.1:4222']],
  ['metrics.enabled', false],
]);

describe('the built-in defaults of server.toml', () => {
  const defaults = leaves(parseConfig({}));

  it('are the defaults of the libraries that take each setting, key by key', () => {
    for (const [path, expected] of LIBRARY_DEFAULTS) expect(defaults.get(path), path).toEqual(expected);
  });

  it('leave no key with a default out of the comparison (a new key must name its library default)', () => {
    const known = new Set([...LIBRARY_DEFAULTS.keys(), ...APP_DEFAULTS.keys()]);
    expect([...defaults.keys()].filter((path) => !known.has(path))).toEqual([]);
    for (const [path, expected] of APP_DEFAULTS) expect(defaults.get(path), path).toEqual(expected);
  });

  it('are what the libraries do when given nothing, where they show it', () => {
    const server = new LogServer({ backends: [] });
    expect(server.socketPath).toBe(defaults.get('server.socket_path'));
    expect(server.maxConnections).toBe(defaults.get('server.max_connections'));
    expect(server.maxLineBytes).toBe(defaults.get('server.max_line_bytes'));
    const r = new BackendRoute({ backend: new MemoryBackend() });
    for (const [key, value] of [
      ['min_level', r.minLevel],
      ['when_full', r.whenFull],
      ['max_queue_bytes', r.maxQueuedBytes],
      ['max_wait_ms', r.maxWaitMs],
    ] as const) {
      expect(defaults.get(`backends.file.${key}`), key).toBe(value);
    }
    expect(new FileBackend({ directory: '/nonexistent' }).format).toBe(defaults.get('backends.file.format'));
    expect(new JournaldBackend({}).socketPath).toBe(defaults.get('backends.journald.socket_path'));
    expect(query.parseQueryArgs([], {}).directory).toBe(defaults.get('storage.output_directory'));
  });
});

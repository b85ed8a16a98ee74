import { describe, expect, it } from 'vitest';
import type * as v from 'valibot';
import { LogStreamError } from '@logstream/protocol';
import { FileBackend } from '@logstream/backend-file';
import { SyslogBackend } from '@logstream/backend-syslog';
import { NatsBackend } from '@logstream/backend-nats';
import { BACKEND_OPTION_KEYS, ConfigSchema, buildBackend, tomlOptionError, type BackendTable } from '../src/config';

/** Every key path of the schema, tables included. */
function schemaKeys(schema: v.GenericSchema, prefix = ''): string[] {
  let s = schema as v.GenericSchema & { wrapped?: v.GenericSchema; entries?: Record<string, v.GenericSchema> };
  while (s.type === 'optional' && s.wrapped !== undefined) s = s.wrapped;
  if (s.entries === undefined) return [];
  return Object.entries(s.entries).flatMap(([key, inner]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return [path, ...schemaKeys(inner, path)];
  });
}

const message = (table: BackendTable, make: () => unknown) => {
  try {
    make();
  } catch (error) {
    expect(LogStreamError.is(error) && error.kind === 'config' && error.code === 'CONFIG', String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error(`${table}: nothing refused`);
};

describe('library option errors in server.toml words', () => {
  it('maps every library option to a key the schema has', () => {
    const keys = new Set(schemaKeys(ConfigSchema));
    for (const [table, options] of Object.entries(BACKEND_OPTION_KEYS)) {
      for (const [option, key] of Object.entries(options)) expect(keys.has(key), `${table} ${option} → ${key}`).toBe(true);
    }
  });

  it('names the TOML key of a value the syslog package refuses, with the other key it is bound by', () => {
    expect(message('syslog', () => buildBackend('syslog', SyslogBackend, { maxMessageBytes: 100_000_000 }))).toBe(
      'backends.syslog.max_message_bytes: expected 480 to max_buffered_bytes (8388608), got 100000000',
    );
    expect(message('syslog', () => buildBackend('syslog', SyslogBackend, { maxBufferedEntries: 0 }))).toBe(
      'backends.syslog.max_buffered_entries: expected a positive integer, got 0',
    );
    expect(message('syslog', () => buildBackend('syslog', SyslogBackend, { server: 'udp://host:99999' }))).toBe(
      'backends.syslog.server: "udp://host:99999": port 99999 is not 1-65535',
    );
  });

  it('names the key of a value the rotator (a RangeError) or the NATS package refuses', () => {
    expect(message('file', () => buildBackend('file', FileBackend, { directory: '/nonexistent', maxFileBytes: 0 }))).toBe(
      'storage.max_file_size: must be a positive number, got 0',
    );
    expect(message('nats', () => buildBackend('nats', NatsBackend, { servers: ['nats://127.0.0.1:4222'], stream: 'a b' }))).toBe(
      'backends.nats.stream: "a b" is not a stream name (no space, ".", "*", ">", "/")',
    );
  });

  it('reads a library that speaks its own option names, with or without its name in front', () => {
    const rewrite = (table: BackendTable, text: string) => (tomlOptionError(table, new LogStreamError('config', text)) as Error).message;
    expect(rewrite('syslog', 'maxBufferedEntries 0: expected a positive integer')).toBe(
      'backends.syslog.max_buffered_entries: expected a positive integer, got 0',
    );
    expect(rewrite('syslog', 'syslog: maxMessageBytes 100000000: expected 480 to maxBufferedBytes (8388608)')).toBe(
      'backends.syslog.max_message_bytes: expected 480 to max_buffered_bytes (8388608), got 100000000',
    );
    expect(rewrite('syslog', 'tls.cert and tls.key must be set together')).toBe(
      'backends.syslog: tls_cert and tls_key must be set together',
    );
    expect(rewrite('nats', 'tls.caFile: cannot read /x.pem')).toBe('backends.nats.tls_ca: cannot read /x.pem');
    expect(rewrite('file', 'rotation.keepFiles must be an integer 0 or more, got -1')).toBe(
      'storage.rotation.keep_files: must be an integer 0 or more, got -1',
    );
  });

  it('leaves errors that are not about an option as they are', () => {
    const io = new LogStreamError('io', 'maxMessageBytes: disk on fire');
    expect(tomlOptionError('syslog', io)).toBe(io);
    const plain = new Error('boom');
    expect(tomlOptionError('syslog', plain)).toBe(plain);
  });
});

import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { parse as parseToml } from 'smol-toml';
import {
  DEFAULT_OUTPUT_DIRECTORY,
  DEFAULT_SOCKET_PATH,
  DEFAULT_SYSLOG_FACILITY,
  DEFAULT_SYSLOG_SD_ID,
  LogStreamError,
  parseFacility,
  parseLogLevel,
  type LogLevel,
} from '@logstream/protocol';
import {
  DEFAULT_DEDUPE_WINDOW,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_RATE_LIMIT_BURST,
  DEFAULT_RATE_LIMIT_INTERVAL_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_INFLIGHT_BYTES,
  DEFAULT_MAX_LINE_BYTES,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_WAIT_MS,
  DEFAULT_MIN_LEVEL,
  DEFAULT_READ_BUFFER_BYTES,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_SOCKET_MODE,
  DEFAULT_WHEN_FULL,
} from '@logstream/core';
import {
  DEFAULT_FILE_FORMAT,
  DEFAULT_KEEP_FILES,
  DEFAULT_MAX_AGE_HOURS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_SYNC_POLICY,
} from '@logstream/backend-file';
import { DEFAULT_JOURNALD_SOCKET } from '@logstream/backend-journald';
import {
  DEFAULT_CONNECT_TIMEOUT_MS as DEFAULT_SYSLOG_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_BUFFERED_ENTRIES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_SYSLOG_FRAMING,
  DEFAULT_SYSLOG_SOCKET_PATH,
} from '@logstream/backend-syslog';
import {
  DEFAULT_CONNECT_TIMEOUT_MS as DEFAULT_NATS_CONNECT_TIMEOUT_MS,
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_MAX_INFLIGHT,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  DEFAULT_REPLICAS,
  DEFAULT_STREAM,
  DEFAULT_SUBJECT_PREFIX,
  DEFAULT_WRITE_TIMEOUT_MS,
} from '@logstream/backend-nats/defaults';
import { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PATH, DEFAULT_METRICS_PORT } from '@logstream/metrics';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const str = () => v.pipe(v.string(), v.minLength(1));
const level = () =>
  v.pipe(
    v.union([v.number(), v.string()]),
    v.check((x) => parseLogLevel(x) !== undefined, 'a level 0-7 or a level name'),
    v.transform((x) => parseLogLevel(x) as LogLevel),
  );
const whenFull = () => v.picklist(['block', 'drop_newest']);
/** A mode as server.toml writes it: `0o660` → `"0660"`. */
const octal = (mode: number) => `0${mode.toString(8)}`;
const mode = () =>
  v.pipe(
    v.string(),
    v.regex(/^0?[0-7]{3}$/, 'an octal mode such as "0660"'),
    v.transform((s) => Number.parseInt(s, 8)),
  );

/**
 * The schema of server.toml; every key has the spec's default, the one the library that takes
 * the setting declares (`DEFAULT_*`), so that the two cannot drift apart.
 */
export const ConfigSchema = v.strictObject({
  server: v.optional(
    v.strictObject({
      socket_path: v.optional(str(), DEFAULT_SOCKET_PATH),
      max_connections: v.optional(int(1), DEFAULT_MAX_CONNECTIONS),
      max_connections_per_uid: v.optional(int(1)),
      buffer_size: v.optional(int(1024), DEFAULT_READ_BUFFER_BYTES),
      max_line_bytes: v.optional(int(256, 64 * 1024 * 1024), DEFAULT_MAX_LINE_BYTES),
      socket_mode: v.optional(mode(), octal(DEFAULT_SOCKET_MODE)),
      socket_group: v.optional(str()),
      shutdown_timeout_ms: v.optional(int(0), DEFAULT_SHUTDOWN_TIMEOUT_MS),
      dedupe_window: v.optional(int(0), DEFAULT_DEDUPE_WINDOW),
      max_inflight_bytes: v.optional(int(65536), DEFAULT_MAX_INFLIGHT_BYTES),
      // Unset: the larger of 16 MiB and 4 x (max_line_bytes + 1); see LogServerOptions.maxPartialBytes.
      max_partial_bytes: v.optional(int(65536)),
      handshake_timeout_ms: v.optional(int(100), DEFAULT_HANDSHAKE_TIMEOUT_MS),
      // Per-sender rate limit (journald's RateLimitIntervalSec/RateLimitBurst); burst 0: off.
      rate_limit_interval_ms: v.optional(int(1), DEFAULT_RATE_LIMIT_INTERVAL_MS),
      rate_limit_burst: v.optional(int(0), DEFAULT_RATE_LIMIT_BURST),
    }),
    {},
  ),
  storage: v.optional(
    v.strictObject({
      output_directory: v.optional(str(), DEFAULT_OUTPUT_DIRECTORY),
      max_file_size: v.optional(int(1024), DEFAULT_MAX_FILE_BYTES),
      rotation: v.optional(
        v.strictObject({
          enabled: v.optional(v.boolean(), true),
          max_age_hours: v.optional(v.pipe(v.number(), v.minValue(0)), DEFAULT_MAX_AGE_HOURS),
          keep_files: v.optional(int(0), DEFAULT_KEEP_FILES),
        }),
        {},
      ),
    }),
    {},
  ),
  backends: v.optional(
    v.strictObject({
      file: v.optional(
        v.strictObject({
          enabled: v.optional(v.boolean(), true),
          format: v.optional(v.picklist(['json', 'human', 'syslog']), DEFAULT_FILE_FORMAT),
          compression: v.optional(v.boolean(), false),
          compression_algorithm: v.optional(v.picklist(['gzip', 'lz4']), 'gzip'),
          sync: v.optional(v.picklist(['none', 'batch', 'always']), DEFAULT_SYNC_POLICY),
          min_level: v.optional(level(), DEFAULT_MIN_LEVEL),
          when_full: v.optional(whenFull(), DEFAULT_WHEN_FULL),
          max_queue_bytes: v.optional(int(65536), DEFAULT_MAX_QUEUED_BYTES),
          max_wait_ms: v.optional(int(1), DEFAULT_MAX_WAIT_MS),
        }),
        {},
      ),
      journald: v.optional(
        v.strictObject({
          enabled: v.optional(v.boolean(), false),
          syslog_identifier: v.optional(str()),
          socket_path: v.optional(str(), DEFAULT_JOURNALD_SOCKET),
          min_level: v.optional(level(), DEFAULT_MIN_LEVEL),
          when_full: v.optional(whenFull(), DEFAULT_WHEN_FULL),
          max_queue_bytes: v.optional(int(65536), DEFAULT_MAX_QUEUED_BYTES),
          max_wait_ms: v.optional(int(1), DEFAULT_MAX_WAIT_MS),
        }),
        {},
      ),
      syslog: v.optional(
        v.strictObject({
          enabled: v.optional(v.boolean(), false),
          facility: v.optional(
            v.pipe(
              v.union([v.string(), v.number()]),
              v.check((x) => parseFacility(x) !== undefined, 'a syslog facility such as "LOG_USER" or "LOG_LOCAL0"'),
              v.transform((x) => parseFacility(x) as number),
            ),
            DEFAULT_SYSLOG_FACILITY,
          ),
          server: v.optional(
            v.pipe(
              v.string(),
              v.regex(/^((udp|tcp|tls):\/\/[^\s]+:\d+)?$/, 'a URL such as "udp://host:514", "tcp://host:601" or "tls://host:6514"'),
            ),
          ),
          // Unset: rfc5424 to a remote server, rfc3164 on the local socket (what syslog(3) sends).
          format: v.optional(v.picklist(['rfc5424', 'rfc3164'])),
          socket_path: v.optional(str(), DEFAULT_SYSLOG_SOCKET_PATH),
          framing: v.optional(v.picklist(['octet-counting', 'lf']), DEFAULT_SYSLOG_FRAMING),
          tls_ca: v.optional(str()),
          tls_cert: v.optional(str()),
          tls_key: v.optional(str()),
          tls_reject_unauthorized: v.optional(v.boolean(), true),
          tls_servername: v.optional(str()),
          max_buffered_entries: v.optional(int(1), DEFAULT_MAX_BUFFERED_ENTRIES),
          max_buffered_bytes: v.optional(int(1024), DEFAULT_MAX_BUFFERED_BYTES),
          max_message_bytes: v.optional(int(480), DEFAULT_MAX_MESSAGE_BYTES),
          app_name: v.optional(str()),
          msg_id: v.optional(str()),
          hostname: v.optional(str()),
          sd_id: v.optional(str(), DEFAULT_SYSLOG_SD_ID),
          utf8_bom: v.optional(v.boolean(), false),
          connect_timeout_ms: v.optional(int(1), DEFAULT_SYSLOG_CONNECT_TIMEOUT_MS),
          min_level: v.optional(level(), DEFAULT_MIN_LEVEL),
          when_full: v.optional(whenFull(), DEFAULT_WHEN_FULL),
          max_queue_bytes: v.optional(int(65536), DEFAULT_MAX_QUEUED_BYTES),
          max_wait_ms: v.optional(int(1), DEFAULT_MAX_WAIT_MS),
        }),
        {},
      ),
      // NATS JetStream (@logstream/backend-nats): every entry published with its id as Nats-Msg-Id.
      nats: v.optional(
        v.strictObject({
          enabled: v.optional(v.boolean(), false),
          servers: v.optional(
            v.pipe(v.array(v.pipe(v.string(), v.regex(/^(nats|tls):\/\/[^\s]+$/, 'a URL such as "nats://host:4222"'))), v.minLength(1)),
            ['nats://127.0.0.1:4222'],
          ),
          subject_prefix: v.optional(
            v.pipe(v.string(), v.regex(/^[^\s.*>]+(\.[^\s.*>]+)*$/, 'a literal subject such as "logs"')),
            DEFAULT_SUBJECT_PREFIX,
          ),
          stream: v.optional(
            v.pipe(v.string(), v.regex(/^[^\s.*>/\\]{1,255}$/, 'a stream name (no space, ".", "*", ">", "/")')),
            DEFAULT_STREAM,
          ),
          replicas: v.optional(int(1, 5), DEFAULT_REPLICAS),
          duplicate_window_ms: v.optional(int(1000), DEFAULT_DUPLICATE_WINDOW_MS),
          max_inflight: v.optional(int(1, 65536), DEFAULT_MAX_INFLIGHT),
          publish_timeout_ms: v.optional(int(100), DEFAULT_PUBLISH_TIMEOUT_MS),
          write_timeout_ms: v.optional(int(100), DEFAULT_WRITE_TIMEOUT_MS),
          connect_timeout_ms: v.optional(int(100), DEFAULT_NATS_CONNECT_TIMEOUT_MS),
          user: v.optional(str()),
          pass: v.optional(str()),
          token: v.optional(str()),
          creds_file: v.optional(str()),
          tls_ca: v.optional(str()),
          tls_cert: v.optional(str()),
          tls_key: v.optional(str()),
          min_level: v.optional(level(), DEFAULT_MIN_LEVEL),
          when_full: v.optional(whenFull(), DEFAULT_WHEN_FULL),
          max_queue_bytes: v.optional(int(65536), DEFAULT_MAX_QUEUED_BYTES),
          max_wait_ms: v.optional(int(1), DEFAULT_MAX_WAIT_MS),
        }),
        {},
      ),
    }),
    {},
  ),
  metrics: v.optional(
    v.strictObject({
      enabled: v.optional(v.boolean(), false),
      host: v.optional(str(), DEFAULT_METRICS_HOST),
      port: v.optional(int(0, 65535), DEFAULT_METRICS_PORT),
      path: v.optional(v.pipe(v.string(), v.startsWith('/', 'a path starting with "/"')), DEFAULT_METRICS_PATH),
    }),
    {},
  ),
});

/** The effective configuration: every key present, defaults filled in. */
export type Config = v.InferOutput<typeof ConfigSchema>;

/** Command-line overrides; they win over the file. */
export interface ConfigOverrides {
  socket?: string;
  output?: string;
  journald?: boolean;
  metrics?: boolean;
  metricsPort?: number;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : value === null ? 'null' : 'a table';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

/** One line per problem: `backends.file.format: expected "json" | "human" | "syslog", got "xml"`. */
export function formatConfigIssues(issues: readonly v.BaseIssue<unknown>[]): string[] {
  return issues.map((issue) => {
    const path = v.getDotPath(issue) ?? '(top level)';
    if (issue.type === 'strict_object' && issue.expected === 'never') return `${path}: unknown key`;
    let expected: string;
    if (issue.type === 'check' || issue.type === 'regex' || issue.type === 'starts_with') expected = issue.message;
    else if (issue.type === 'integer') expected = 'an integer';
    else expected = (issue.expected ?? issue.message).replace(/^\((.*)\)$/, '$1');
    return `${path}: expected ${expected}, got ${describe(issue.input)}`;
  });
}

/** The keys of a table of the schema (through `v.optional`), or undefined for a value. */
function tableEntries(schema: v.GenericSchema): Record<string, v.GenericSchema> | undefined {
  let s = schema as v.GenericSchema & { wrapped?: v.GenericSchema; entries?: Record<string, v.GenericSchema> };
  while (s.type === 'optional' && s.wrapped !== undefined) s = s.wrapped;
  return s.type === 'strict_object' ? s.entries : undefined;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length] as number;
}

/** The known key closest to `key`, when it is close enough to be a typo. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 4)) ? best : undefined;
}

/**
 * Every key of `document` that the schema does not know, at every depth, one line each:
 * `server.max_conections: unknown key (did you mean max_connections?)`. valibot's strictObject
 * stops at the first unknown key of a table; an operator wants them all at once.
 */
function unknownKeys(entries: Record<string, v.GenericSchema>, document: unknown, path: string): string[] {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return [];
  const lines: string[] = [];
  for (const [key, value] of Object.entries(document)) {
    const where = path === '' ? key : `${path}.${key}`;
    const schema = entries[key];
    if (schema === undefined) {
      const what = typeof value === 'object' && value !== null && !Array.isArray(value) ? 'table' : 'key';
      const near = closest(key, Object.keys(entries));
      lines.push(`${where}: unknown ${what}${near === undefined ? '' : ` (did you mean ${near}?)`}`);
      continue;
    }
    const inner = tableEntries(schema);
    if (inner !== undefined) lines.push(...unknownKeys(inner, value, where));
  }
  return lines;
}

/**
 * Checks a parsed TOML document and fills in defaults.
 * @throws LogStreamError (kind `config`) listing every problem with its key path
 */
export function parseConfig(document: unknown, source = 'config'): Config {
  const lines = unknownKeys(ConfigSchema.entries, document, '');
  const result = v.safeParse(ConfigSchema, document);
  if (!result.success) {
    // Unknown keys are listed above, all of them; valibot reports only the first of a table.
    const unknown = (issue: v.BaseIssue<unknown>) => issue.type === 'strict_object' && issue.expected === 'never';
    lines.push(...formatConfigIssues(result.issues.filter((issue) => !unknown(issue))));
  }
  if (lines.length > 0 || !result.success) {
    throw new LogStreamError('config', `${source}: ${lines.length} error(s)\n${lines.join('\n')}`, { code: 'CONFIG' });
  }
  const { max_partial_bytes: partial, max_line_bytes: line } = result.output.server;
  if (partial !== undefined && partial <= line) {
    // A line of max_line_bytes could never be received.
    throw new LogStreamError(
      'config',
      `${source}: 1 error(s)\nserver.max_partial_bytes: expected more than max_line_bytes (${line}), got ${partial}`,
      {
        code: 'CONFIG',
      },
    );
  }
  return result.output;
}

/**
 * The first line of a TOML syntax error, naming the problem and where it is:
 * `server.toml:3:12: invalid TOML: unterminated string …`, then smol-toml's excerpt.
 */
function tomlSyntaxError(path: string, text: string, error: Error & { line?: number; column?: number }): string {
  const [first = '', ...rest] = error.message.split('\n');
  let problem = first.replace(/^Invalid TOML document: /, '');
  const line = error.line ?? 0;
  const column = error.column ?? 0;
  const lineText = text.split(/\r?\n/)[line - 1] ?? '';
  // smol-toml reports the line's end inside a string as a control character in it.
  const atEnd = column > lineText.length;
  if (problem.startsWith('control characters are not allowed in strings') && atEnd) {
    problem = 'unterminated string: a string must end on the line it starts (use """ or \'\'\' for a multi-line string)';
  } else if (problem.startsWith('illegal character in key') && atEnd && /^\s*\[/.test(lineText)) {
    problem = 'unterminated table header: missing "]"';
  }
  const where = line > 0 ? `${path}:${line}:${column}` : path;
  return [`${where}: invalid TOML: ${problem}`, ...rest.filter((l, i) => i > 0 || l !== '')].join('\n').trimEnd();
}

/**
 * Reads and checks a TOML file. With `required` false a missing file yields the defaults.
 * @throws LogStreamError (kind `config`) for an unreadable file, bad TOML or bad values
 */
export async function loadConfig(path: string | undefined, required: boolean): Promise<Config> {
  if (path === undefined) return parseConfig({});
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required) return parseConfig({});
    throw new LogStreamError('config', `cannot read config ${path}: ${(error as Error).message}`, { cause: error, code: 'CONFIG' });
  }
  let document: unknown;
  try {
    document = parseToml(text);
  } catch (error) {
    throw new LogStreamError('config', tomlSyntaxError(path, text, error as Error), { cause: error, code: 'CONFIG' });
  }
  return parseConfig(document, path);
}

/** The tables of server.toml whose settings a backend package takes. */
export type BackendTable = 'file' | 'journald' | 'syslog' | 'nats';

const ROUTE_KEYS = { minLevel: 'min_level', whenFull: 'when_full', maxQueuedBytes: 'max_queue_bytes', maxWaitMs: 'max_wait_ms' };
const under = (table: string, keys: Record<string, string>) =>
  Object.fromEntries(Object.entries(keys).map(([option, key]) => [option, `${table}.${key}`]));

/**
 * The one map from a library's option names to server.toml keys: a backend package refuses a
 * value under its own name (`maxMessageBytes`), the app reports it under the key the operator
 * wrote (`backends.syslog.max_message_bytes`). Nested options are dotted (`tls.ca`).
 */
export const BACKEND_OPTION_KEYS: Readonly<Record<BackendTable, Readonly<Record<string, string>>>> = {
  file: {
    directory: 'storage.output_directory',
    maxFileBytes: 'storage.max_file_size',
    'rotation.enabled': 'storage.rotation.enabled',
    'rotation.maxAgeHours': 'storage.rotation.max_age_hours',
    'rotation.keepFiles': 'storage.rotation.keep_files',
    ...under('backends.file', { format: 'format', sync: 'sync', compression: 'compression_algorithm', ...ROUTE_KEYS }),
  },
  journald: under('backends.journald', { socketPath: 'socket_path', syslogIdentifier: 'syslog_identifier', ...ROUTE_KEYS }),
  syslog: under('backends.syslog', {
    format: 'format',
    facility: 'facility',
    server: 'server',
    socketPath: 'socket_path',
    framing: 'framing',
    maxBufferedEntries: 'max_buffered_entries',
    maxBufferedBytes: 'max_buffered_bytes',
    maxMessageBytes: 'max_message_bytes',
    appName: 'app_name',
    msgId: 'msg_id',
    hostname: 'hostname',
    sdId: 'sd_id',
    utf8Bom: 'utf8_bom',
    connectTimeoutMs: 'connect_timeout_ms',
    'tls.ca': 'tls_ca',
    'tls.cert': 'tls_cert',
    'tls.key': 'tls_key',
    'tls.servername': 'tls_servername',
    'tls.rejectUnauthorized': 'tls_reject_unauthorized',
    ...ROUTE_KEYS,
  }),
  nats: under('backends.nats', {
    servers: 'servers',
    subjectPrefix: 'subject_prefix',
    stream: 'stream',
    replicas: 'replicas',
    duplicateWindowMs: 'duplicate_window_ms',
    maxInflight: 'max_inflight',
    publishTimeoutMs: 'publish_timeout_ms',
    writeTimeoutMs: 'write_timeout_ms',
    connectTimeoutMs: 'connect_timeout_ms',
    user: 'user',
    pass: 'pass',
    token: 'token',
    credsFile: 'creds_file',
    'tls.caFile': 'tls_ca',
    'tls.certFile': 'tls_cert',
    'tls.keyFile': 'tls_key',
    ...ROUTE_KEYS,
  }),
};

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A backend package's refusal of an option, said in server.toml's words, one line:
 * `maxMessageBytes 100000000: expected 480 to maxBufferedBytes (8388608)` from the syslog
 * package becomes `backends.syslog.max_message_bytes: expected 480 to max_buffered_bytes
 * (8388608), got 100000000`. The option is found under its library name or its TOML key; a
 * message that names no option is put under the table (`backends.syslog: …`). Errors that are
 * not about an option (not `config` LogStreamErrors or RangeErrors) are returned as they are.
 */
export function tomlOptionError(table: BackendTable, error: unknown): unknown {
  if (!(LogStreamError.is(error) && error.kind === 'config') && !(error instanceof RangeError)) return error;
  const keys = BACKEND_OPTION_KEYS[table];
  const tableKey = `backends.${table}`;
  const byName = new Map<string, string>();
  for (const [option, key] of Object.entries(keys)) {
    byName.set(option, key);
    byName.set(key.slice(key.lastIndexOf('.') + 1), key);
    byName.set(key, key);
  }
  // Another option named in the text: its key, short when it is in the same table.
  const short = (key: string) => (key.startsWith(`${tableKey}.`) ? key.slice(tableKey.length + 1) : key);
  const mentions = (text: string) =>
    Object.entries(keys)
      .filter(([option]) => /[A-Z.]/.test(option))
      .reduce((t, [option, key]) => t.replace(new RegExp(`(?<![\\w.])${escape(option)}(?![\\w])`, 'g'), short(key)), text);
  // The library's own prefix: `backends.syslog: `, `syslog: `, `syslog `, `nats: `.
  const text = error.message.replace(new RegExp(`^(backends\\.${table}|${table})(: *| (?=[a-z]))`), '');
  const subject = /^([\w.]+)(?:: (.*)| ("[^"]*"|-?[\d.]+): (.*)| ("[^"]*"|-?[\d.]+) (.*)| ((?:must|is|expected) .*))$/s.exec(text);
  const key = subject === null ? undefined : byName.get(subject[1] as string);
  let line: string;
  if (subject === null || key === undefined) line = `${tableKey}: ${mentions(text)}`;
  else if (subject[2] !== undefined) line = `${key}: ${mentions(subject[2])}`;
  else if (subject[3] !== undefined) {
    const rest = mentions(subject[4] as string);
    line = rest.startsWith('expected ') ? `${key}: ${rest}, got ${subject[3]}` : `${key}: ${subject[3]}: ${rest}`;
  } else if (subject[5] !== undefined) line = `${key}: ${subject[5]} ${mentions(subject[6] as string)}`;
  else line = `${key}: ${mentions(subject[7] as string)}`;
  return new LogStreamError('config', line, { cause: error, code: 'CONFIG' });
}

/**
 * `new Backend(options)` for a table's settings, reporting a refused option under its TOML key
 * ({@link tomlOptionError}).
 * @throws LogStreamError (kind `config`) naming the key
 */
export function buildBackend<O, B>(table: BackendTable, Backend: new (options: O) => B, options: O): B {
  try {
    return new Backend(options);
  } catch (error) {
    throw tomlOptionError(table, error);
  }
}

/** Applies command-line overrides to a checked configuration. */
export function applyOverrides(config: Config, o: ConfigOverrides): Config {
  const c = structuredClone(config);
  if (o.socket !== undefined) c.server.socket_path = o.socket;
  if (o.output !== undefined) c.storage.output_directory = o.output;
  if (o.journald) c.backends.journald.enabled = true;
  if (o.metrics) c.metrics.enabled = true;
  if (o.metricsPort !== undefined) {
    c.metrics.port = o.metricsPort;
    c.metrics.enabled = true;
  }
  return c;
}

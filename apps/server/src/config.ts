import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { parse as parseToml } from 'smol-toml';
import { DEFAULT_SYSLOG_SD_ID, LogStreamError, parseFacility, parseLogLevel, type LogLevel } from '@logstream/protocol';
import { DEFAULT_MAX_WAIT_MS } from '@logstream/core';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const str = () => v.pipe(v.string(), v.minLength(1));
const level = () =>
  v.pipe(
    v.union([v.number(), v.string()]),
    v.check((x) => parseLogLevel(x) !== undefined, 'a level 0-7 or a level name'),
    v.transform((x) => parseLogLevel(x) as LogLevel),
  );
const whenFull = () => v.picklist(['block', 'drop_newest']);
const mode = () =>
  v.pipe(
    v.string(),
    v.regex(/^0?[0-7]{3}$/, 'an octal mode such as "0660"'),
    v.transform((s) => Number.parseInt(s, 8)),
  );

/** The schema of server.toml; every key has the spec's default. */
export const ConfigSchema = v.strictObject({
  server: v.optional(
    v.strictObject({
      socket_path: v.optional(str(), '/tmp/logstream.sock'),
      max_connections: v.optional(int(1), 1000),
      max_connections_per_uid: v.optional(int(1)),
      buffer_size: v.optional(int(1024), 8192),
      max_line_bytes: v.optional(int(256, 64 * 1024 * 1024), 65536),
      socket_mode: v.optional(mode(), '0660'),
      socket_group: v.optional(str()),
      shutdown_timeout_ms: v.optional(int(0), 5000),
      dedupe_window: v.optional(int(0), 65536),
      max_inflight_bytes: v.optional(int(65536), 16 * 1024 * 1024),
      // Unset: the larger of 16 MiB and 4 x (max_line_bytes + 1); see LogServerOptions.maxPartialBytes.
      max_partial_bytes: v.optional(int(65536)),
      handshake_timeout_ms: v.optional(int(100), 10_000),
      // Per-sender rate limit (journald's RateLimitIntervalSec/RateLimitBurst); burst 0: off.
      rate_limit_interval_ms: v.optional(int(1), 30_000),
      rate_limit_burst: v.optional(int(0), 0),
    }),
    {},
  ),
  storage: v.optional(
    v.strictObject({
      output_directory: v.optional(str(), '/var/log/logstream'),
      max_file_size: v.optional(int(1024), 104857600),
      rotation: v.optional(
        v.strictObject({
          enabled: v.optional(v.boolean(), true),
          max_age_hours: v.optional(v.pipe(v.number(), v.minValue(0)), 24),
          keep_files: v.optional(int(0), 7),
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
          format: v.optional(v.picklist(['json', 'human', 'syslog']), 'json'),
          compression: v.optional(v.boolean(), false),
          compression_algorithm: v.optional(v.picklist(['gzip', 'lz4']), 'gzip'),
          sync: v.optional(v.picklist(['none', 'batch', 'always']), 'none'),
          min_level: v.optional(level(), 7),
          when_full: v.optional(whenFull(), 'block'),
          max_queue_bytes: v.optional(int(65536), 8 * 1024 * 1024),
          max_wait_ms: v.optional(int(1), DEFAULT_MAX_WAIT_MS),
        }),
        {},
      ),
      journald: v.optional(
        v.strictObject({
          enabled: v.optional(v.boolean(), false),
          syslog_identifier: v.optional(str()),
          socket_path: v.optional(str(), '/run/systemd/journal/socket'),
          min_level: v.optional(level(), 7),
          when_full: v.optional(whenFull(), 'block'),
          max_queue_bytes: v.optional(int(65536), 8 * 1024 * 1024),
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
            'LOG_USER',
          ),
          server: v.optional(
            v.pipe(
              v.string(),
              v.regex(/^((udp|tcp|tls):\/\/[^\s]+:\d+)?$/, 'a URL such as "udp://host:514", "tcp://host:601" or "tls://host:6514"'),
            ),
          ),
          // Unset: rfc5424 to a remote server, rfc3164 on the local socket (what syslog(3) sends).
          format: v.optional(v.picklist(['rfc5424', 'rfc3164'])),
          socket_path: v.optional(str(), '/dev/log'),
          framing: v.optional(v.picklist(['octet-counting', 'lf']), 'octet-counting'),
          tls_ca: v.optional(str()),
          tls_cert: v.optional(str()),
          tls_key: v.optional(str()),
          tls_reject_unauthorized: v.optional(v.boolean(), true),
          tls_servername: v.optional(str()),
          max_buffered_entries: v.optional(int(1), 10000),
          max_buffered_bytes: v.optional(int(1024), 8 * 1024 * 1024),
          max_message_bytes: v.optional(int(480), 65536),
          app_name: v.optional(str()),
          msg_id: v.optional(str()),
          hostname: v.optional(str()),
          sd_id: v.optional(str(), DEFAULT_SYSLOG_SD_ID),
          utf8_bom: v.optional(v.boolean(), false),
          connect_timeout_ms: v.optional(int(1), 5000),
          min_level: v.optional(level(), 7),
          when_full: v.optional(whenFull(), 'block'),
          max_queue_bytes: v.optional(int(65536), 8 * 1024 * 1024),
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
          subject_prefix: v.optional(v.pipe(v.string(), v.regex(/^[^\s.*>]+(\.[^\s.*>]+)*$/, 'a literal subject such as "logs"')), 'logs'),
          stream: v.optional(
            v.pipe(v.string(), v.regex(/^[^\s.*>/\\]{1,255}$/, 'a stream name (no space, ".", "*", ">", "/")')),
            'LOGSTREAM',
          ),
          replicas: v.optional(int(1, 5), 1),
          duplicate_window_ms: v.optional(int(1000), 120_000),
          max_inflight: v.optional(int(1, 65536), 256),
          publish_timeout_ms: v.optional(int(100), 5000),
          write_timeout_ms: v.optional(int(100), 30_000),
          connect_timeout_ms: v.optional(int(100), 5000),
          user: v.optional(str()),
          pass: v.optional(str()),
          token: v.optional(str()),
          creds_file: v.optional(str()),
          tls_ca: v.optional(str()),
          tls_cert: v.optional(str()),
          tls_key: v.optional(str()),
          min_level: v.optional(level(), 7),
          when_full: v.optional(whenFull(), 'block'),
          max_queue_bytes: v.optional(int(65536), 8 * 1024 * 1024),
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
      host: v.optional(str(), '127.0.0.1'),
      port: v.optional(int(0, 65535), 9090),
      path: v.optional(v.pipe(v.string(), v.startsWith('/', 'a path starting with "/"')), '/metrics'),
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

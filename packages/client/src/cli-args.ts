import { parseArgs } from 'node:util';
import { DEFAULT_SOCKET_PATH, checkDaemonName, parseFacility, parseLogLevel, type LogFields, type LogLevel } from '@logstream/protocol';

/** What the `logstream` command was asked to do. */
export interface CliOptions {
  /** Server socket: `-s`, else `$LOGSTREAM_SOCKET`, else `/tmp/logstream.sock`. */
  socketPath: string;
  /** Daemon name of the entries: `-t`, else the default tag. */
  tag: string;
  /** Level of the entries: `-p`, else notice (5), as logger(1). */
  level: LogLevel;
  /** The message; `undefined` means one entry per line of standard input. */
  message: string | undefined;
  /** Fields from `key=value` arguments after the message. */
  fields: LogFields;
}

/** The outcome of {@link parseCliArgs}: run, print help or version, or a usage error. */
export type CliArgsResult =
  { ok: true; action: 'run'; options: CliOptions } | { ok: true; action: 'help' | 'version' } | { ok: false; error: string };

/** Level of entries when `-p` is not given: notice, as logger(1). */
export const DEFAULT_CLI_LEVEL: LogLevel = 5;

/** `logstream --help`. */
export const CLI_USAGE = `Usage: logstream [options] [message [key=value ...]]

Sends one entry to a LogStream server and waits until the server has stored it. Without a
message, sends each line of standard input as an entry (empty lines are skipped). Words after
the message that look like key=value become fields of the entry.

Options:
  -t, --tag NAME        daemon name of the entries (default: the user name)
  -p, --priority LEVEL  emergency, alert, critical, error, warning, notice, info, debug,
                        0-7, or facility.level as in logger(1), e.g. user.err
                        (default: notice)
  -s, --socket PATH     server socket (default: $LOGSTREAM_SOCKET or ${DEFAULT_SOCKET_PATH})
  -h, --help            show this help
  -V, --version         show the version

Exit status: 0 when the server stored every entry, 1 when it could not be reached or refused
an entry, 2 for a usage error.

Example: logstream -t backup -p warning "disk almost full" mount=/var used=93%
`;

/**
 * Parses a priority as logger(1) takes it: a level name (`warning`, `warn`, `err`…), a number
 * 0–7, or `facility.level` (`user.notice`, `local0.err`), of which the level is kept (entries
 * have no facility; the syslog backend sets its own). Returns `undefined` when it is none of these.
 */
export function parsePriority(value: string): LogLevel | undefined {
  const dot = value.lastIndexOf('.');
  if (dot !== -1 && parseFacility(value.slice(0, dot)) === undefined) return undefined;
  const level = value.slice(dot + 1);
  if (/^[0-7]$/.test(level)) return Number(level) as LogLevel;
  return parseLogLevel(level);
}

/**
 * Parses the arguments of the `logstream` command (without `node` and the script). Pure: the
 * environment and the default tag are passed in.
 */
export function parseCliArgs(argv: readonly string[], env: { LOGSTREAM_SOCKET?: string | undefined }, defaultTag: string): CliArgsResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        tag: { type: 'string', short: 't' },
        priority: { type: 'string', short: 'p' },
        socket: { type: 'string', short: 's' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { ok: true, action: 'help' };
  if (values.version) return { ok: true, action: 'version' };

  let level = DEFAULT_CLI_LEVEL;
  if (values.priority !== undefined) {
    const p = parsePriority(values.priority);
    if (p === undefined) {
      return {
        ok: false,
        error: `-p/--priority: ${JSON.stringify(values.priority)} is not a level (emergency, alert, critical, error, warning, notice, info, debug, 0-7, or facility.level)`,
      };
    }
    level = p;
  }
  const tag = values.tag ?? defaultTag;
  const problem = checkDaemonName(tag);
  if (problem !== undefined) return { ok: false, error: `-t/--tag: ${JSON.stringify(tag)}: ${problem}` };
  const socketPath = values.socket ?? (env.LOGSTREAM_SOCKET || DEFAULT_SOCKET_PATH);
  if (socketPath === '') return { ok: false, error: '-s/--socket: empty path' };

  // The first word is always the message; more words join it until the first key=value, and
  // from there on every word must be a field.
  let message: string | undefined;
  const fields: LogFields = {};
  let inFields = false;
  for (const [i, word] of positionals.entries()) {
    const eq = word.indexOf('=');
    if (i > 0 && eq > 0) inFields = true;
    if (!inFields) {
      message = message === undefined ? word : `${message} ${word}`;
    } else if (eq > 0) {
      fields[word.slice(0, eq)] = word.slice(eq + 1);
    } else {
      return { ok: false, error: `expected key=value after the message, got ${JSON.stringify(word)}` };
    }
  }
  return { ok: true, action: 'run', options: { socketPath, tag, level, message, fields } };
}

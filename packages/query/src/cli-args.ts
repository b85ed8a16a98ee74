import { DEFAULT_OUTPUT_DIRECTORY } from '@logstream/protocol';
import type { EntryFilter } from './entry-filter';
import { parseLevelSpec } from './level-spec';
import { QueryError } from './query-error';
import { parseTimeSpec } from './time-spec';

/** Output formats of `logstream-query -o`. */
export type OutputFormat = 'json' | 'short' | 'short-iso' | 'cat';
const FORMATS: readonly OutputFormat[] = ['json', 'short', 'short-iso', 'cat'];

// The server's default `storage.output_directory`: protocol owns it, for both sides.
export { DEFAULT_OUTPUT_DIRECTORY };

/** What `logstream-query`'s arguments ask for. */
export interface QueryCliArgs {
  directory: string;
  filter: EntryFilter;
  last?: number;
  reverse: boolean;
  follow: boolean;
  output: OutputFormat;
  afterCursor?: string;
  showCursor: boolean;
  help: boolean;
}

const WITH_VALUE: Record<string, string> = {
  '-D': 'directory',
  '--directory': 'directory',
  '-t': 'identifier',
  '--identifier': 'identifier',
  '-p': 'priority',
  '--priority': 'priority',
  '-S': 'since',
  '--since': 'since',
  '-U': 'until',
  '--until': 'until',
  '-g': 'grep',
  '--grep': 'grep',
  '-o': 'output',
  '--output': 'output',
  '--after-cursor': 'after-cursor',
};
const BOOLEAN: Record<string, string> = {
  '-r': 'reverse',
  '--reverse': 'reverse',
  '-f': 'follow',
  '--follow': 'follow',
  '--show-cursor': 'show-cursor',
  '--no-pager': 'no-pager',
  '-h': 'help',
  '--help': 'help',
};
const MATCH = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s;

function usage(message: string): QueryError {
  return new QueryError('BAD_ARGUMENT', message);
}

/**
 * Parses `logstream-query`'s arguments (getopt style: `-n 5`, `-n5`, `--lines=5`, `-rf`, `--`).
 * An option that takes a value always takes the next argument, so `-S -1h` works.
 *
 * @throws QueryError `BAD_ARGUMENT` naming the first bad option or value.
 */
export function parseQueryArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}, nowMs = Date.now()): QueryCliArgs {
  const args: QueryCliArgs = {
    directory: env.LOGSTREAM_DIR !== undefined && env.LOGSTREAM_DIR !== '' ? env.LOGSTREAM_DIR : DEFAULT_OUTPUT_DIRECTORY,
    filter: {},
    reverse: false,
    follow: false,
    output: 'short',
    showCursor: false,
    help: false,
  };
  const daemons: string[] = [];
  const fields: Record<string, string[]> = {};
  let grep: string | undefined;
  const apply = (flag: string, name: string, value: string): void => {
    switch (name) {
      case 'directory':
        if (value === '') throw usage(`${flag}: expected a directory`);
        args.directory = value;
        return;
      case 'identifier':
        if (value === '') throw usage(`${flag}: expected a daemon name`);
        daemons.push(value);
        return;
      case 'priority': {
        const range = parseLevelSpec(value);
        if (range === undefined) throw usage(`${flag}: bad priority ${JSON.stringify(value)} (expected 0-7, a name like err, or FROM..TO)`);
        args.filter.minLevel = range.minLevel;
        args.filter.maxLevel = range.maxLevel;
        return;
      }
      case 'since':
      case 'until': {
        const ms = parseTimeSpec(value, nowMs);
        if (ms === undefined)
          throw usage(`${flag}: bad time ${JSON.stringify(value)} (expected ISO-8601, -1h, today, yesterday, now, @SECONDS)`);
        if (name === 'since') args.filter.sinceMs = ms;
        else args.filter.untilMs = ms;
        return;
      }
      case 'grep':
        grep = value;
        return;
      case 'output':
        if (!FORMATS.includes(value as OutputFormat))
          throw usage(`${flag}: bad output format ${JSON.stringify(value)} (expected ${FORMATS.join(', ')})`);
        args.output = value as OutputFormat;
        return;
      case 'after-cursor':
        if (value === '') throw usage(`${flag}: expected a cursor`);
        args.afterCursor = value;
        return;
      case 'lines':
        if (!/^\d+$/.test(value)) throw usage(`${flag}: bad number of lines ${JSON.stringify(value)} (expected a non-negative integer)`);
        args.last = Number(value);
        return;
    }
  };
  const setBoolean = (name: string): void => {
    if (name === 'reverse') args.reverse = true;
    else if (name === 'follow') args.follow = true;
    else if (name === 'show-cursor') args.showCursor = true;
    else if (name === 'help') args.help = true;
    // --no-pager: output is never paged.
  };
  let i = 0;
  let optionsDone = false;
  while (i < argv.length) {
    const arg = argv[i++] as string;
    if (optionsDone || !arg.startsWith('-') || arg === '-') {
      const m = MATCH.exec(arg);
      if (m === null) throw usage(`unexpected argument ${JSON.stringify(arg)} (expected FIELD=VALUE)`);
      (fields[m[1] as string] ??= []).push(m[2] as string);
      continue;
    }
    if (arg === '--') {
      optionsDone = true;
      continue;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const flag = eq === -1 ? arg : arg.slice(0, eq);
      const attached = eq === -1 ? undefined : arg.slice(eq + 1);
      if (flag === '--lines') {
        if (attached !== undefined) apply(flag, 'lines', attached);
        else if (i < argv.length && /^\d+$/.test(argv[i] as string)) apply(flag, 'lines', argv[i++] as string);
        else args.last = 10;
        continue;
      }
      const valued = WITH_VALUE[flag];
      if (valued !== undefined) {
        if (attached !== undefined) apply(flag, valued, attached);
        else if (i < argv.length) apply(flag, valued, argv[i++] as string);
        else throw usage(`${flag}: missing value`);
        continue;
      }
      const bool = BOOLEAN[flag];
      if (bool === undefined) throw usage(`unknown option ${flag}`);
      if (attached !== undefined) throw usage(`${flag} takes no value`);
      setBoolean(bool);
      continue;
    }
    // Short options, possibly clustered (-rf) or with the value attached (-n5, -tweb).
    for (let j = 1; j < arg.length; j++) {
      const flag = `-${arg[j]}`;
      const rest = arg.slice(j + 1);
      if (flag === '-n') {
        if (rest !== '') apply(flag, 'lines', rest);
        else if (i < argv.length && /^\d+$/.test(argv[i] as string)) apply(flag, 'lines', argv[i++] as string);
        else args.last = 10;
        break;
      }
      const valued = WITH_VALUE[flag];
      if (valued !== undefined) {
        if (rest !== '') apply(flag, valued, rest);
        else if (i < argv.length) apply(flag, valued, argv[i++] as string);
        else throw usage(`${flag}: missing value`);
        break;
      }
      const bool = BOOLEAN[flag];
      if (bool === undefined) throw usage(`unknown option ${flag}`);
      setBoolean(bool);
    }
  }
  if (daemons.length > 0) args.filter.daemons = daemons;
  if (Object.keys(fields).length > 0) args.filter.fields = fields;
  if (grep !== undefined) {
    // journalctl's smart case: a pattern without upper-case letters matches either case.
    try {
      args.filter.grep = new RegExp(grep, grep === grep.toLowerCase() ? 'iu' : 'u');
    } catch (error) {
      throw usage(`-g: bad regular expression ${JSON.stringify(grep)}: ${(error as Error).message}`);
    }
  }
  if (args.reverse && args.follow) throw usage('-r cannot be combined with -f');
  if (args.filter.sinceMs !== undefined && args.filter.untilMs !== undefined && args.filter.sinceMs > args.filter.untilMs) {
    throw usage('-S is after -U: nothing can match');
  }
  return args;
}

import type { Writable } from 'node:stream';
import { parseQueryArgs, DEFAULT_OUTPUT_DIRECTORY } from './cli-args';
import { formatEntry } from './format-entry';
import { queryEntryBatches, type QueryWarning } from './query-entries';
import { QueryError } from './query-error';

/** Exit codes of `logstream-query`. */
export const EXIT_OK = 0;
/** Not a LogStream directory, cursor not found, an I/O error. */
export const EXIT_ERROR = 1;
/** A bad option or filter. */
export const EXIT_USAGE = 2;
/** Everything readable was printed, but damaged data (a truncated archive, corrupt lines) was skipped. */
export const EXIT_DAMAGED = 3;

const HELP = `Usage: logstream-query [OPTIONS] [FIELD=VALUE...]

Reads the entries LogStream stored (current.log and its rotated, compressed files) in order.

  -D, --directory DIR     output directory (default: $LOGSTREAM_DIR or ${DEFAULT_OUTPUT_DIRECTORY})
  -t, --identifier NAME   only this daemon; repeat for several (OR)
  -p, --priority LEVEL    LEVEL and more severe (3, err); or a range FROM..TO (0..3, emerg..err)
  -S, --since TIME        entries at or after TIME; -U, --until TIME: at or before TIME
                          TIME: 2026-11-25, "2026-11-25 14:30[:05]" (local), ...T14:30:05Z,
                          -1h, +30m, -2d, "1h ago", now, today, yesterday, tomorrow, @SECONDS
  -g, --grep REGEX        message matches REGEX (case-insensitive if REGEX has no upper case)
  FIELD=VALUE             fields[FIELD] (or the top-level key daemon, hostname, pid, level, id,
                          message) equals VALUE; different FIELDs AND, repeats of one FIELD OR
  -n, --lines [N]         only the last N entries (default 10)
  -r, --reverse           newest first
  -f, --follow            keep printing new entries (across rotation and compression)
  -o, --output FORMAT     short (default), short-iso, cat, json (the stored line as is)
      --after-cursor ID   start after the entry with this id
      --show-cursor       print "-- cursor: ID" after the last entry
      --no-pager          accepted; output is never paged
  -h, --help              this text

Exit status: 0 ok; 1 error (not a LogStream directory, cursor not found); 2 bad option;
3 damaged data was skipped (a warning on stderr names each file).
`;

/** Where the command writes, and what it reads from its environment. */
export interface QueryCliIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Ends a `-f` run (SIGINT/SIGTERM in the bin). */
  signal?: AbortSignal;
}

/**
 * Runs `logstream-query` with `argv` (without the node and script paths) and resolves with its
 * exit code. Errors are one line on `io.stderr`, prefixed `logstream-query: `.
 */
export async function runQueryCli(argv: readonly string[], io: QueryCliIo): Promise<number> {
  const fail = (message: string): void => void io.stderr.write(`logstream-query: ${message}\n`);
  let args;
  try {
    args = parseQueryArgs(argv, io.env);
  } catch (error) {
    fail((error as Error).message);
    return EXIT_USAGE;
  }
  if (args.help) {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  // journalctl -f shows the last 10 first, unless told where to start.
  const last = args.last ?? (args.follow && args.afterCursor === undefined && args.filter.sinceMs === undefined ? 10 : undefined);
  let damaged = false;
  let lastId: string | undefined;
  let broken = false;
  io.stdout.on('error', () => (broken = true));
  const write = async (data: string | Buffer): Promise<void> => {
    if (broken || io.stdout.write(data)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        io.stdout.off('drain', done);
        io.stdout.off('close', done);
        io.stdout.off('error', done);
        resolve();
      };
      io.stdout.on('drain', done);
      io.stdout.on('close', done);
      io.stdout.on('error', done);
    });
  };
  const onWarning = (w: QueryWarning): void => {
    damaged = true;
    fail(`warning: ${w.file}: ${w.reason}; the rest of the file was used`);
  };
  try {
    for await (const batch of queryEntryBatches({
      directory: args.directory,
      filter: args.filter,
      ...(args.afterCursor === undefined ? {} : { afterCursor: args.afterCursor }),
      ...(last === undefined ? {} : { last }),
      reverse: args.reverse,
      follow: args.follow,
      onWarning,
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    })) {
      if (broken) break;
      if (args.output === 'json') {
        const parts: Buffer[] = [];
        for (const e of batch) parts.push(e.line, NEWLINE);
        await write(Buffer.concat(parts));
      } else {
        let text = '';
        for (const e of batch) {
          let entry;
          try {
            entry = e.entry;
          } catch (error) {
            onWarning({ file: e.file, reason: (error as Error).message, skippedLines: 1 });
            continue;
          }
          text += `${formatEntry(entry, args.output)}\n`;
        }
        await write(text);
      }
      if (args.showCursor && batch.length > 0) lastId = idOf(batch[batch.length - 1]!);
    }
  } catch (error) {
    fail(QueryError.is(error) ? error.message : `${(error as Error).message}`);
    return EXIT_ERROR;
  }
  if (args.showCursor && lastId !== undefined) await write(`-- cursor: ${lastId}\n`);
  return damaged ? EXIT_DAMAGED : EXIT_OK;
}

const NEWLINE = Buffer.from('\n');

function idOf(e: { entry: { id: string } }): string | undefined {
  try {
    return e.entry.id;
  } catch {
    return undefined;
  }
}

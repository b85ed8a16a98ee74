import { isLogLevel, type LogEntry } from '@logstream/protocol';
import { QueryError } from './query-error';

/** One stored entry: its line as stored (without the newline) and, parsed on demand, the entry. */
export class StoredEntry {
  /** The stored line, byte for byte, without its newline. */
  readonly line: Buffer;
  /** Name of the file it was read from (`current.log`, `current-…-000003.log.gz`, …). */
  readonly file: string;
  #entry: LogEntry | undefined;

  constructor(line: Buffer, file: string, entry?: LogEntry) {
    this.line = line;
    this.file = file;
    this.#entry = entry;
  }

  /**
   * The entry, parsed from {@link line} the first time it is asked for.
   *
   * @throws QueryError (`IO`) when the line is not a stored entry (it passed the cheap checks of
   *   a filter that needed no parse, but is damaged further on).
   */
  get entry(): LogEntry {
    if (this.#entry === undefined) {
      const entry = parseStoredLine(this.line);
      if (entry === undefined) throw new QueryError('IO', `${this.file}: damaged line: ${this.line.toString('utf8', 0, 80)}`);
      this.#entry = entry;
    }
    return this.#entry;
  }

  /** The entry's id, which is also its cursor. */
  get id(): string {
    return this.entry.id;
  }
}

/** The entry of one stored line, or `undefined` when the line is not one (damage). */
export function parseStoredLine(line: Buffer): LogEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const e = value as Record<string, unknown>;
  if (
    typeof e.id !== 'string' ||
    typeof e.timestamp !== 'string' ||
    !isLogLevel(e.level) ||
    typeof e.daemon !== 'string' ||
    typeof e.message !== 'string' ||
    typeof e.fields !== 'object' ||
    e.fields === null
  ) {
    return undefined;
  }
  return value as LogEntry;
}

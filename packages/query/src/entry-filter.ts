import type { LogEntry, LogLevel } from '@logstream/protocol';
import { parseStoredLine } from './stored-entry';

/** Which entries a query yields. Every condition given must hold (AND). */
export interface EntryFilter {
  /** Daemon names; an entry matches when its `daemon` is any of them (OR). */
  daemons?: readonly string[];
  /** Levels from `minLevel` to `maxLevel`, both included (0 is the most severe). */
  minLevel?: LogLevel;
  maxLevel?: LogLevel;
  /** Entries whose timestamp is at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Entries whose timestamp is at or before this time (ms since the epoch). */
  untilMs?: number;
  /** Searched for in the message. */
  grep?: RegExp;
  /**
   * Field matches: name → accepted values. Names are ANDed, the values of one name ORed. A name
   * of a top-level key (`id`, `daemon`, `hostname`, `pid`, `level`, `message`, `timestamp`)
   * matches that key (numbers as their decimal text, `null` as `null`); `fields.NAME` or any
   * other name matches `fields[NAME]`.
   */
  fields?: Readonly<Record<string, readonly string[]>>;
}

/** Result of {@link LineMatcher.match}: no, damaged, yes (not parsed), or yes with the entry. */
export type Verdict = typeof REJECT | typeof CORRUPT | typeof ACCEPT | LogEntry;
export const REJECT = 0;
export const CORRUPT = 1;
export const ACCEPT = 2;

const TOP_LEVEL = new Set(['id', 'timestamp', 'level', 'daemon', 'message', 'pid', 'hostname']);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEAD_ID = Buffer.from('{"id":"');
const AFTER_ID = Buffer.from('","timestamp":"');
const AFTER_TS = Buffer.from('","level":');
const AFTER_LEVEL = Buffer.from(',"daemon":"');
// A grep pattern that is a plain literal: its bytes must appear in any line whose message has it.
const LITERAL = /^[A-Za-z0-9 _\-:/,=@#%&<>!~;']+$/;

/** Where the canonical head of a line is: `{"id":"…","timestamp":"…Z","level":N,"daemon":"…"`. */
interface Head {
  idStart: number;
  idEnd: number;
  tsStart: number;
  level: number;
  daemonStart: number;
  daemonEnd: number;
}

function literalAt(line: Buffer, at: number, bytes: Buffer): boolean {
  if (at + bytes.length > line.length) return false;
  for (let i = 0; i < bytes.length; i++) if (line[at + i] !== bytes[i]) return false;
  return true;
}

/** The end (closing quote) of a string with no escapes starting at `at`, or -1. */
function plainStringEnd(line: Buffer, at: number): number {
  const end = line.indexOf(QUOTE, at);
  if (end === -1) return -1;
  const backslash = line.indexOf(BACKSLASH, at);
  return backslash !== -1 && backslash < end ? -1 : end;
}

/** `YYYY-MM-DDTHH:MM:SS.sssZ` at `at`: digits and separators where they belong. */
function canonicalTimestampAt(line: Buffer, at: number): boolean {
  if (at + 25 > line.length || line[at + 23] !== 0x5a /* Z */ || line[at + 24] !== QUOTE) return false;
  return line[at + 4] === 0x2d && line[at + 10] === 0x54 && line[at + 13] === 0x3a && line[at + 19] === 0x2e;
}

function scanHead(line: Buffer, head: Head): boolean {
  if (!literalAt(line, 0, HEAD_ID)) return false;
  const idEnd = plainStringEnd(line, HEAD_ID.length);
  if (idEnd === -1 || !literalAt(line, idEnd, AFTER_ID)) return false;
  const tsStart = idEnd + AFTER_ID.length;
  if (!canonicalTimestampAt(line, tsStart)) return false;
  let at = tsStart + 24;
  if (!literalAt(line, at, AFTER_TS)) return false;
  at += AFTER_TS.length;
  const level = (line[at] as number) - 0x30;
  if (!(level >= 0 && level <= 7)) return false;
  at += 1;
  if (!literalAt(line, at, AFTER_LEVEL)) return false;
  const daemonStart = at + AFTER_LEVEL.length;
  const daemonEnd = plainStringEnd(line, daemonStart);
  if (daemonEnd === -1) return false;
  head.idStart = HEAD_ID.length;
  head.idEnd = idEnd;
  head.tsStart = tsStart;
  head.level = level;
  head.daemonStart = daemonStart;
  head.daemonEnd = daemonEnd;
  return true;
}

function isoBytes(ms: number): Buffer | undefined {
  // Beyond year 9999 toISOString changes shape (`+010000-…`): no byte comparison then.
  if (ms < 0 || ms > 253402300799999) return undefined;
  return Buffer.from(new Date(ms).toISOString());
}

/**
 * A compiled {@link EntryFilter}. Lines in the canonical form the
 * server writes are decided from their bytes where the filter allows (time, level, daemon,
 * cursor: no JSON.parse at all; fields and `grep`: the value must appear in the line before it is
 * parsed); other lines are parsed and checked as objects. The byte checks never reject a line the
 * parsed check would accept: a value is looked for as bytes only in lines without any `\` escape.
 */
export class LineMatcher {
  readonly #daemons: Set<string> | undefined;
  readonly #minLevel: number;
  readonly #maxLevel: number;
  readonly #sinceMs: number;
  readonly #untilMs: number;
  readonly #sinceIso: Buffer | undefined;
  readonly #untilIso: Buffer | undefined;
  readonly #grep: RegExp | undefined;
  readonly #grepNeedle: Buffer | undefined;
  readonly #fields: [top: boolean, name: string, values: Set<string>, needles: Buffer[]][];
  readonly #needsParse: boolean;
  readonly #head: Head = { idStart: 0, idEnd: 0, tsStart: 0, level: 0, daemonStart: 0, daemonEnd: 0 };

  constructor(filter: EntryFilter = {}) {
    this.#daemons = filter.daemons === undefined ? undefined : new Set(filter.daemons.map((d) => Buffer.from(d).toString('latin1')));
    this.#minLevel = filter.minLevel ?? 0;
    this.#maxLevel = filter.maxLevel ?? 7;
    this.#sinceMs = filter.sinceMs ?? -Infinity;
    this.#untilMs = filter.untilMs ?? Infinity;
    this.#sinceIso = filter.sinceMs === undefined ? undefined : isoBytes(Math.ceil(filter.sinceMs));
    this.#untilIso = filter.untilMs === undefined ? undefined : isoBytes(Math.floor(filter.untilMs));
    this.#grep = filter.grep;
    this.#grepNeedle =
      filter.grep !== undefined && !filter.grep.ignoreCase && LITERAL.test(filter.grep.source)
        ? Buffer.from(filter.grep.source)
        : undefined;
    this.#fields = Object.entries(filter.fields ?? {}).map(([key, values]) => {
      const field = key.startsWith('fields.') ? key.slice('fields.'.length) : key;
      const top = !key.startsWith('fields.') && TOP_LEVEL.has(key);
      const stringValued = !top || !['pid', 'level'].includes(key);
      const needles = values.map((v) => Buffer.from(stringValued ? JSON.stringify(v) : v));
      return [top, field, new Set(values), needles];
    });
    this.#needsParse = this.#grep !== undefined || this.#fields.length > 0;
  }

  /** Lower and upper bound of the time filter (ms), for choosing files. */
  get timeRange(): { sinceMs: number; untilMs: number } {
    return { sinceMs: this.#sinceMs, untilMs: this.#untilMs };
  }

  /** True when `line` is the entry with id `cursor`; `undefined` for a damaged line. */
  isEntry(line: Buffer, cursor: Buffer): boolean | undefined {
    const head = this.#head;
    if (scanHead(line, head)) {
      return head.idEnd - head.idStart === cursor.length && line.compare(cursor, 0, cursor.length, head.idStart, head.idEnd) === 0;
    }
    const entry = parseStoredLine(line);
    if (entry === undefined) return undefined;
    return Buffer.from(entry.id).equals(cursor);
  }

  /** Decides one line (without its newline). */
  match(line: Buffer): Verdict {
    const head = this.#head;
    if (line[line.length - 1] === 0x7d && scanHead(line, head)) {
      if (head.level < this.#minLevel || head.level > this.#maxLevel) return REJECT;
      if (this.#sinceIso !== undefined && line.compare(this.#sinceIso, 0, 24, head.tsStart, head.tsStart + 24) < 0) return REJECT;
      if (this.#untilIso !== undefined && line.compare(this.#untilIso, 0, 24, head.tsStart, head.tsStart + 24) > 0) return REJECT;
      if (this.#daemons !== undefined && !this.#daemons.has(line.toString('latin1', head.daemonStart, head.daemonEnd))) return REJECT;
      if (!this.#needsParse) return ACCEPT;
      if (!this.#mayMatch(line)) return REJECT;
      const entry = parseStoredLine(line);
      if (entry === undefined) return CORRUPT;
      return this.#matchParsedRest(entry) ? entry : REJECT;
    }
    if (this.#needsParse && !this.#mayMatch(line)) return REJECT;
    const entry = parseStoredLine(line);
    if (entry === undefined) return CORRUPT;
    return this.#matchParsed(entry) ? entry : REJECT;
  }

  /** Byte checks for fields and grep: false only when the line cannot match. */
  #mayMatch(line: Buffer): boolean {
    let escapes: boolean | undefined;
    const hasEscapes = (): boolean => (escapes ??= line.indexOf(BACKSLASH) !== -1);
    for (const [, , , needles] of this.#fields) {
      if (!needles.some((n) => line.indexOf(n) !== -1) && !hasEscapes()) return false;
    }
    if (this.#grepNeedle !== undefined && line.indexOf(this.#grepNeedle) === -1 && !hasEscapes()) return false;
    return true;
  }

  #matchParsed(entry: LogEntry): boolean {
    if (entry.level < this.#minLevel || entry.level > this.#maxLevel) return false;
    if (this.#sinceMs !== -Infinity || this.#untilMs !== Infinity) {
      const ms = Date.parse(entry.timestamp);
      if (!(ms >= this.#sinceMs && ms <= this.#untilMs)) return false;
    }
    if (this.#daemons !== undefined && !this.#daemons.has(Buffer.from(entry.daemon).toString('latin1'))) return false;
    return this.#matchParsedRest(entry);
  }

  #matchParsedRest(entry: LogEntry): boolean {
    for (const [top, name, values] of this.#fields) {
      const raw: unknown = top ? (entry as unknown as Record<string, unknown>)[name] : entry.fields[name];
      if (raw === undefined) return false;
      const text =
        raw === null
          ? 'null'
          : typeof raw === 'string'
            ? raw
            : typeof raw === 'number' || typeof raw === 'boolean'
              ? String(raw)
              : JSON.stringify(raw);
      if (!values.has(text)) return false;
    }
    if (this.#grep !== undefined) {
      this.#grep.lastIndex = 0;
      if (!this.#grep.test(entry.message)) return false;
    }
    return true;
  }
}

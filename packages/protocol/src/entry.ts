import * as v from 'valibot';
import { parseLogLevel, type LogLevel } from './level';

/** Structured key/value data of an entry. Values are strings, as in the spec. */
export type LogFields = Record<string, string>;

/**
 * The sending process of an entry as the kernel says (SO_PEERCRED on the connection), never as
 * the entry says: the server sets it. `comm` and `exe` come from `/proc/<pid>`, `unit` from
 * `/proc/<pid>/cgroup` when it names a systemd unit; what cannot be read is left out.
 */
export interface PeerIdentity {
  pid: number;
  uid: number;
  gid: number;
  comm?: string;
  exe?: string;
  unit?: string;
}

/**
 * A complete log entry, as stored. The JSON encoding has exactly these keys, in this order:
 * `id`, `timestamp`, `level`, `daemon`, `message`, `fields`, `pid`, `hostname`, then `peer` when
 * the server knows the sender (see {@link PeerIdentity}; `null` where the kernel cannot say).
 */
export interface LogEntry {
  /** Unique id (a UUID when made by LogStream); resends are recognised by it. */
  id: string;
  /** RFC 3339 time with a zone, e.g. `2024-01-15T10:30:45.123Z`. */
  timestamp: string;
  level: LogLevel;
  /** Name of the daemon that logged the entry. */
  daemon: string;
  message: string;
  fields: LogFields;
  /** Process id of the logging process, `null` when unknown. */
  pid: number | null;
  /** Host the entry was logged on, `null` when unknown. */
  hostname: string | null;
  /**
   * The sender as the kernel says, set by the server (a client-sent `peer` is never stored as
   * sent); `null` when credentials cannot be read; absent in entries stored before it existed.
   */
  peer?: PeerIdentity | null;
}

/** An entry as a client may send it: everything but `message` may be left out. */
export interface LogEntryInput {
  id?: string;
  timestamp?: string;
  level?: LogLevel;
  daemon?: string;
  message: string;
  fields?: LogFields;
  pid?: number | null;
  hostname?: string | null;
  /**
   * Ignored: the server sets `peer` from the kernel's word on the connection, so a client-sent
   * one is accepted and dropped, never stored as sent.
   */
  peer?: unknown;
}

/** Longest `id`, in characters. */
export const MAX_ID_LENGTH = 128;
/** Longest `daemon` name, in characters (also the handshake's limit). */
export const MAX_DAEMON_LENGTH = 255;
/** Longest `hostname`, in characters (RFC 5424 HOSTNAME). */
export const MAX_HOSTNAME_LENGTH = 255;
/** Longest field key, in characters. */
export const MAX_FIELD_KEY_LENGTH = 255;

// RFC 3339 date-time with a mandatory zone; fractional seconds of any precision.
const RFC3339 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
// C0 controls and DEL are not allowed in names (daemon, hostname, field keys, id).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

let lastMs = -1;
let lastIso = '';

/**
 * The current time as `YYYY-MM-DDTHH:MM:SS.sssZ`, the form entries carry; computed once per
 * millisecond, since a burst logs many entries in the same one.
 */
export function nowIso(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** True when `value` is an RFC 3339 timestamp with a time zone that denotes a real instant. */
export function isTimestamp(value: string): boolean {
  return RFC3339.test(value) && !Number.isNaN(Date.parse(value));
}

/** True when `value` may be used as a daemon name, hostname or id: 1..max chars, no control characters. */
export function isName(value: string, max: number): boolean {
  return value.length > 0 && value.length <= max && !CONTROL.test(value);
}

const name = (max: number, what: string) =>
  v.pipe(
    v.string(),
    v.check((s) => isName(s, max), `${what}: expected 1 to ${max} characters without control characters`),
  );

/** valibot schema of a level: 0–7 or a level name; output is numeric. */
export const LogLevelSchema = v.pipe(
  v.union([v.number(), v.string()], 'expected a level 0-7 or a level name'),
  v.check((x) => parseLogLevel(x) !== undefined, 'expected a level 0-7 or a level name ("info", "warning", ...)'),
  v.transform((x) => parseLogLevel(x) as LogLevel),
);

/** valibot schema of fields: an object of string values. */
export const LogFieldsSchema = v.record(name(MAX_FIELD_KEY_LENGTH, 'field key'), v.string('expected a string value'));

/**
 * valibot schema of an entry as received from a client. Unknown keys are errors, so that a
 * misspelt key is reported rather than silently dropped.
 */
export const LogEntryInputSchema = v.strictObject({
  id: v.optional(name(MAX_ID_LENGTH, 'id')),
  timestamp: v.optional(v.pipe(v.string(), v.check(isTimestamp, 'expected an RFC 3339 timestamp with a time zone'))),
  level: v.optional(LogLevelSchema),
  daemon: v.optional(name(MAX_DAEMON_LENGTH, 'daemon')),
  message: v.string('expected a string'),
  fields: v.optional(LogFieldsSchema),
  pid: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(4294967295)))),
  hostname: v.optional(v.nullable(name(MAX_HOSTNAME_LENGTH, 'hostname'))),
  // Accepted and dropped: the server sets peer (see LogEntryInput.peer).
  peer: v.optional(v.unknown()),
});

const u32 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(4294967295));

/** valibot schema of {@link PeerIdentity}. */
export const PeerIdentitySchema = v.strictObject({
  pid: u32,
  uid: u32,
  gid: u32,
  comm: v.optional(v.string()),
  exe: v.optional(v.string()),
  unit: v.optional(v.string()),
});

/** valibot schema of a complete, stored entry. */
export const LogEntrySchema = v.strictObject({
  id: name(MAX_ID_LENGTH, 'id'),
  timestamp: v.pipe(v.string(), v.check(isTimestamp, 'expected an RFC 3339 timestamp with a time zone')),
  level: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(7)),
  daemon: name(MAX_DAEMON_LENGTH, 'daemon'),
  message: v.string(),
  fields: LogFieldsSchema,
  pid: v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(4294967295))),
  hostname: v.nullable(name(MAX_HOSTNAME_LENGTH, 'hostname')),
  peer: v.optional(v.nullable(PeerIdentitySchema)),
});

/** The result of checking one entry: the hot path returns results, it never throws per line. */
export type EntryResult = { ok: true; entry: LogEntryInput } | { ok: false; message: string };

/**
 * Checks a value decoded from one line against {@link LogEntryInputSchema} and normalises its
 * level to a number. A hand-written check runs first (it builds nothing); only an invalid value
 * goes through valibot, which words the error (`fields.user_id: expected a string value`).
 */
export function checkEntryInput(value: unknown): EntryResult {
  if (fastCheck(value)) {
    const input = value as LogEntryInput & { level?: unknown };
    if (typeof input.level === 'string') input.level = parseLogLevel(input.level);
    return { ok: true, entry: input };
  }
  const result = v.safeParse(LogEntryInputSchema, value);
  if (result.success) return { ok: true, entry: result.output };
  return { ok: false, message: formatIssues(result.issues) };
}

function fastCheck(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const o = value as Record<string, unknown>;
  let seen = 0;
  if (typeof o.message !== 'string') return false;
  seen++;
  if (Object.hasOwn(o, 'id')) {
    if (typeof o.id !== 'string' || !isName(o.id, MAX_ID_LENGTH)) return false;
    seen++;
  }
  if (Object.hasOwn(o, 'timestamp')) {
    if (typeof o.timestamp !== 'string' || !isTimestamp(o.timestamp)) return false;
    seen++;
  }
  if (Object.hasOwn(o, 'level')) {
    if (parseLogLevel(o.level) === undefined) return false;
    seen++;
  }
  if (Object.hasOwn(o, 'daemon')) {
    if (typeof o.daemon !== 'string' || !isName(o.daemon, MAX_DAEMON_LENGTH)) return false;
    seen++;
  }
  if (Object.hasOwn(o, 'fields')) {
    const f = o.fields;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) return false;
    for (const k in f) {
      if (!Object.hasOwn(f, k)) continue;
      if (typeof (f as Record<string, unknown>)[k] !== 'string' || !isName(k, MAX_FIELD_KEY_LENGTH)) return false;
    }
    seen++;
  }
  if (Object.hasOwn(o, 'pid')) {
    const p = o.pid;
    if (p !== null && !(typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 4294967295)) return false;
    seen++;
  }
  if (Object.hasOwn(o, 'hostname')) {
    const h = o.hostname;
    if (h !== null && !(typeof h === 'string' && isName(h, MAX_HOSTNAME_LENGTH))) return false;
    seen++;
  }
  // A client-sent peer is accepted here and never stored (see LogEntryInput.peer).
  if (Object.hasOwn(o, 'peer')) seen++;
  // Any other own key is unknown: let valibot word the error.
  let keys = 0;
  for (const k in o) if (Object.hasOwn(o, k)) keys++;
  return keys === seen;
}

/** Words valibot issues as `path: message` joined by `; `, e.g. `fields.user_id: expected a string value`. */
export function formatIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .map((issue) => {
      const path = v.getDotPath(issue);
      const message = issue.type === 'strict_object' && issue.expected === 'never' ? 'unknown key' : issue.message;
      return path ? `${path}: ${message}` : message;
    })
    .join('; ');
}

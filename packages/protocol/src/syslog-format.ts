import type { LogEntry } from './entry';

/**
 * Syslog facilities by their `<syslog.h>` names (RFC 5424 §6.2.1). LOG_LOCAL0..7 are 16..23.
 */
export const SYSLOG_FACILITIES: Readonly<Record<string, number>> = Object.freeze({
  LOG_KERN: 0,
  LOG_USER: 1,
  LOG_MAIL: 2,
  LOG_DAEMON: 3,
  LOG_AUTH: 4,
  LOG_SYSLOG: 5,
  LOG_LPR: 6,
  LOG_NEWS: 7,
  LOG_UUCP: 8,
  LOG_CRON: 9,
  LOG_AUTHPRIV: 10,
  LOG_FTP: 11,
  LOG_LOCAL0: 16,
  LOG_LOCAL1: 17,
  LOG_LOCAL2: 18,
  LOG_LOCAL3: 19,
  LOG_LOCAL4: 20,
  LOG_LOCAL5: 21,
  LOG_LOCAL6: 22,
  LOG_LOCAL7: 23,
});

/** The facility used when none is configured: LOG_USER (1), as syslog(3) does. */
export const DEFAULT_SYSLOG_FACILITY = 1;

/**
 * The SD-ID of the one SD-ELEMENT that carries an entry's fields in RFC 5424 output.
 * 32473 is the private enterprise number RFC 5612 reserves for documentation and examples;
 * LogStream has no PEN of its own. Receivers treat it as an opaque name.
 */
export const DEFAULT_SYSLOG_SD_ID = 'logstream@32473';

/**
 * Parses a facility from its `<syslog.h>` name (`"LOG_DAEMON"`), the name without the prefix
 * (`"daemon"`), either case, or its number (0–23, also as a decimal string). Returns
 * `undefined` for anything else (12–15 have no names and are accepted only as numbers).
 */
export function parseFacility(nameOrNumber: string | number): number | undefined {
  if (typeof nameOrNumber === 'number') {
    return Number.isInteger(nameOrNumber) && nameOrNumber >= 0 && nameOrNumber <= 23 ? nameOrNumber : undefined;
  }
  if (typeof nameOrNumber !== 'string') return undefined;
  const s = nameOrNumber.trim();
  if (/^\d{1,2}$/.test(s)) return parseFacility(Number(s));
  const upper = s.toUpperCase();
  const key = upper.startsWith('LOG_') ? upper : `LOG_${upper}`;
  return Object.prototype.hasOwnProperty.call(SYSLOG_FACILITIES, key) ? SYSLOG_FACILITIES[key] : undefined;
}

/** The two syslog message formats. */
export type SyslogFormat = 'rfc5424' | 'rfc3164';

/** Options of {@link formatRfc5424}, {@link formatRfc3164} and {@link formatSyslog}. */
export interface SyslogFormatOptions {
  /** Facility number 0–23 (see {@link parseFacility}); default 1 (LOG_USER). */
  facility?: number;
  /** RFC 5424 MSGID (at most 32 printable US-ASCII characters); default NILVALUE `-`. */
  msgId?: string;
  /** HOSTNAME used when the entry has none; without it, `-`. */
  hostname?: string;
  /**
   * APP-NAME / TAG used instead of the entry's daemon name; default: the daemon name.
   */
  appName?: string;
  /** SD-ID of the element that carries the fields; default {@link DEFAULT_SYSLOG_SD_ID}. */
  sdId?: string;
  /**
   * Prefix an RFC 5424 MSG with the UTF-8 BOM (RFC 5424 §6.4 "SHOULD"); default `false`,
   * because rsyslog and syslog-ng read MSG as UTF-8 without it and keep the BOM as three
   * bytes in the files they write.
   */
  utf8Bom?: boolean;
  /**
   * RFC 3164 only: leave HOSTNAME out, as syslog(3) does on the local socket (`/dev/log`);
   * default `false`. Local receivers (rsyslog's imuxsock with its default parser, journald)
   * read the word after the timestamp as the TAG, so a HOSTNAME there would become the tag.
   */
  omitHostname?: boolean;
}

const NIL = '-';
const BOM = '\ufeff';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// PRINTUSASCII is %d33-126 (RFC 5424 §6).
export const NOT_PRINTUSASCII = /[^\x21-\x7e]/g;
export const HAS_NOT_PRINTUSASCII = /[^\x21-\x7e]/;
// SD-NAME: PRINTUSASCII except '=', SP, ']' and '"' (SP is already outside PRINTUSASCII).
const NOT_SD_NAME = /[^\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]/g;
const HAS_NOT_SD_NAME = /[^\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]/;
// RFC 3164 TAG: printable ASCII without ':', '[' and ']', which receivers read as its end.
export const NOT_TAG = /[^\x21-\x39\x3b-\x5a\x5c\x5e-\x7e]/g;
export const HAS_NOT_TAG = /[^\x21-\x39\x3b-\x5a\x5c\x5e-\x7e]/;
const PARAM_ESCAPE = /["\\\]]/g;
const HAS_PARAM_ESCAPE = /["\\\]]/;
const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Makes `value` a valid header field: characters outside the allowed set become `_`, and it is
 * cut to `max` characters. An empty result is `fallback`.
 */
export function headerField(value: string | null | undefined, max: number, test: RegExp, replace: RegExp, fallback: string): string {
  if (value === null || value === undefined || value.length === 0) return fallback;
  let s = test.test(value) ? value.replace(replace, '_') : value;
  if (s.length > max) s = s.slice(0, max);
  return s;
}

/**
 * An entry's RFC 3339 timestamp as an RFC 5424 TIMESTAMP: `T` and `Z` in upper case, exactly
 * three fraction digits (cut, not rounded), the original offset kept. A leap second (`:60`, which
 * RFC 5424 forbids) becomes `:59.999`. An unparseable value is re-rendered through `Date` in UTC,
 * or is NILVALUE when it is not a date at all.
 */
export function formatRfc5424Timestamp(timestamp: string): string {
  const m = RFC3339.exec(timestamp);
  if (m !== null) {
    let seconds = m[4] as string;
    let fraction = m[5] === undefined ? '000' : m[5].length >= 3 ? m[5].slice(0, 3) : m[5].padEnd(3, '0');
    if (seconds === '60') {
      seconds = '59';
      fraction = '999';
    }
    const zone = m[6] === 'z' ? 'Z' : (m[6] as string);
    return `${m[1]}T${m[2]}:${m[3]}:${seconds}.${fraction}${zone}`;
  }
  const ms = Date.parse(timestamp);
  return Number.isNaN(ms) ? NIL : new Date(ms).toISOString();
}

/**
 * An entry's timestamp as an RFC 3164 TIMESTAMP (`Mmm dd hh:mm:ss`, the day padded with a space)
 * in the local time zone of this process, as syslog(3) writes it; receivers read it as their
 * local time. An unparseable value is replaced by the current time.
 */
export function formatRfc3164Timestamp(timestamp: string): string {
  let ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) ms = Date.now();
  const d = new Date(ms);
  const day = d.getDate();
  return `${MONTHS[d.getMonth()]} ${day < 10 ? ' ' : ''}${day} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `<PRI>` of a level under the options' facility. */
export function priOf(level: number, options: SyslogFormatOptions | undefined): string {
  const facility = options?.facility ?? DEFAULT_SYSLOG_FACILITY;
  // Out-of-range values would make an invalid PRI; clamp rather than throw on the hot path.
  const f = Number.isInteger(facility) && facility >= 0 && facility <= 23 ? facility : DEFAULT_SYSLOG_FACILITY;
  const l = Number.isInteger(level) && level >= 0 && level <= 7 ? level : 6;
  return `<${f * 8 + l}>`;
}

function pri(entry: LogEntry, options: SyslogFormatOptions | undefined): string {
  return priOf(entry.level, options);
}

/**
 * The PROCID / `[PID]` of an entry: the sender's pid as the kernel says (`peer.pid`) when the
 * server recorded it, else the entry's own `pid` (the client's word), else null.
 */
export function syslogPid(entry: LogEntry): number | null {
  const peer = entry.peer;
  if (peer !== undefined && peer !== null) return peer.pid;
  return entry.pid ?? null;
}

/**
 * Maps a field key to an RFC 5424 SD-NAME: each character outside PRINTUSASCII, and each of
 * `=`, `]` and `"`, becomes `_`; the result is cut to 32 characters. Keys that map to the same
 * name are all kept (RFC 5424 §6.3.3 allows a PARAM-NAME to repeat).
 */
export function toSdName(key: string): string {
  return headerField(key, 32, HAS_NOT_SD_NAME, NOT_SD_NAME, '_');
}

/** Escapes `"`, `\` and `]` in an RFC 5424 PARAM-VALUE with a backslash (§6.3.3). */
export function escapeParamValue(value: string): string {
  return HAS_PARAM_ESCAPE.test(value) ? value.replace(PARAM_ESCAPE, '\\$&') : value;
}

/**
 * An entry's fields as one RFC 5424 SD-ELEMENT, `[SD-ID name="value" ...]`, or NILVALUE `-`
 * when it has none.
 */
export function formatStructuredData(fields: Readonly<Record<string, string>>, sdId: string = DEFAULT_SYSLOG_SD_ID): string {
  let out = '';
  for (const key in fields) {
    if (!Object.prototype.hasOwnProperty.call(fields, key)) continue;
    const value = fields[key];
    out += ` ${toSdName(key)}="${escapeParamValue(typeof value === 'string' ? value : String(value))}"`;
  }
  return out === '' ? NIL : `[${toSdName(sdId)}${out}]`;
}

/**
 * Formats an entry as an RFC 5424 message, without a trailing newline:
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`.
 *
 * - PRI is `facility * 8 + level`.
 * - TIMESTAMP has milliseconds and keeps the entry's offset ({@link formatRfc5424Timestamp}).
 * - HOSTNAME (≤255), APP-NAME (the daemon, ≤48), PROCID (≤128: the sender's pid as the kernel
 *   says, `peer.pid`, when the entry has `peer`; else the entry's `pid`) and MSGID (≤32) are
 *   PRINTUSASCII: other characters become `_`, longer values are cut, a missing value is `-`.
 * - The fields are one SD-ELEMENT ({@link formatStructuredData}), or `-` when there are none.
 * - MSG is the message as is (UTF-8, newlines kept), without a BOM unless `utf8Bom` is set; an
 *   empty message leaves MSG out.
 */
export function formatRfc5424(entry: LogEntry, options?: SyslogFormatOptions): string {
  const hostname = headerField(entry.hostname ?? options?.hostname, 255, HAS_NOT_PRINTUSASCII, NOT_PRINTUSASCII, NIL);
  const appName = headerField(options?.appName ?? entry.daemon, 48, HAS_NOT_PRINTUSASCII, NOT_PRINTUSASCII, NIL);
  const pid = syslogPid(entry);
  const procId = pid === null ? NIL : String(pid).slice(0, 128);
  const msgId = headerField(options?.msgId, 32, HAS_NOT_PRINTUSASCII, NOT_PRINTUSASCII, NIL);
  const sd = formatStructuredData(entry.fields ?? {}, options?.sdId);
  const head = `${pri(entry, options)}1 ${formatRfc5424Timestamp(entry.timestamp)} ${hostname} ${appName} ${procId} ${msgId} ${sd}`;
  const message = entry.message;
  if (message.length === 0) return head;
  return options?.utf8Bom === true ? `${head} ${BOM}${message}` : `${head} ${message}`;
}

/**
 * Formats an entry as an RFC 3164 (BSD) message, without a trailing newline:
 * `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`.
 *
 * TIMESTAMP is local time ({@link formatRfc3164Timestamp}). HOSTNAME is PRINTUSASCII (others
 * become `_`), `-` when unknown, and left out with `omitHostname` (the local-socket form
 * `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`). TAG is the daemon name cut to 32 characters, with `:`, `[`,
 * `]` and non-printable characters made `_`; `[PID]` follows when the pid is known (`peer.pid`
 * when the entry has `peer`, else the entry's `pid`). RFC 3164 has
 * no structured data: the fields are not carried.
 */
export function formatRfc3164(entry: LogEntry, options?: SyslogFormatOptions): string {
  const tag = headerField(options?.appName ?? entry.daemon, 32, HAS_NOT_TAG, NOT_TAG, NIL);
  const procId = syslogPid(entry);
  const pid = procId === null ? '' : `[${procId}]`;
  const head = `${pri(entry, options)}${formatRfc3164Timestamp(entry.timestamp)} `;
  if (options?.omitHostname === true) return `${head}${tag}${pid}: ${entry.message}`;
  const hostname = headerField(entry.hostname ?? options?.hostname, 255, HAS_NOT_PRINTUSASCII, NOT_PRINTUSASCII, NIL);
  return `${head}${hostname} ${tag}${pid}: ${entry.message}`;
}

/** Formats an entry in the given syslog format; see {@link formatRfc5424} and {@link formatRfc3164}. */
export function formatSyslog(entry: LogEntry, format: SyslogFormat, options?: SyslogFormatOptions): string {
  return format === 'rfc3164' ? formatRfc3164(entry, options) : formatRfc5424(entry, options);
}

// What a syslog file line must not hold raw: C0 controls, DEL, C1 controls, the bidi controls and
// the line/paragraph separators (they reorder or break what a terminal or editor shows), and a
// '#' before three octal digits, which would read as an escape.
// eslint-disable-next-line no-control-regex
const SYSLOG_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|#(?=[0-7]{3})/;
// eslint-disable-next-line no-control-regex
const SYSLOG_UNSAFE_G = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|#(?=[0-7]{3})/g;
const octalEscapes = new Map<string, string>();

/** `#ooo` for each UTF-8 byte of `ch` (one UTF-16 unit, so at most three bytes). */
function octalEscape(ch: string): string {
  let out = octalEscapes.get(ch);
  if (out === undefined) {
    out = '';
    for (const byte of Buffer.from(ch, 'utf8')) out += `#${byte.toString(8).padStart(3, '0')}`;
    octalEscapes.set(ch, out);
  }
  return out;
}

/**
 * Makes `text` safe for one line of a log file, the way rsyslog escapes control characters:
 * each C0 control byte (newline and tab included) and DEL becomes `#` and its three octal
 * digits (`\n` → `#012`, ESC → `#033`); each C1 control (U+0080–U+009F), bidi control (U+061C,
 * U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and line or paragraph separator (U+2028,
 * U+2029) becomes the octal of its UTF-8 bytes (U+202E → `#342#200#256`). A `#` followed by three
 * octal digits is itself written `#043`, so `#ooo` in the output always stands for one byte: a
 * literal `#012` is `#043012`. Any other `#` (`issue #12`, `#0x1`) stays as it is.
 *
 * Text with nothing to escape is returned as is after one scan.
 */
export function escapeSyslogText(text: string): string {
  return SYSLOG_UNSAFE.test(text) ? text.replace(SYSLOG_UNSAFE_G, octalEscape) : text;
}

/**
 * One entry as one line of a syslog-format file, without the newline: {@link formatSyslog}
 * passed through {@link escapeSyslogText}, so the line holds no control character and a reader
 * can undo every escape.
 */
export function formatSyslogLine(entry: LogEntry, format: SyslogFormat, options?: SyslogFormatOptions): string {
  return escapeSyslogText(formatSyslog(entry, format, options));
}

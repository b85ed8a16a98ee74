import { isUtf8 } from 'node:buffer';
import { MAX_DAEMON_LENGTH, MAX_HOSTNAME_LENGTH, MAX_ID_LENGTH, MAX_FIELD_KEY_LENGTH } from '@logstream/protocol';

/**
 * What the scanner learned from a canonical entry line; the caller passes one object and the
 * scanner fills it in, so a line costs no allocation. The id is `line[idStart, idEnd)` (UTF-8).
 */
export interface ScannedEntry {
  level: number;
  idStart: number;
  idEnd: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEAD_ID = Buffer.from('{"id":"');
const AFTER_ID = Buffer.from('","timestamp":"');
const AFTER_TS = Buffer.from('","level":');
const AFTER_LEVEL = Buffer.from(',"daemon":"');
const AFTER_DAEMON = Buffer.from('","message":"');
const AFTER_MESSAGE = Buffer.from('","fields":{');
const PID = Buffer.from(',"pid":');
const HOSTNAME = Buffer.from(',"hostname":');
const NULL = Buffer.from('null');
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/**
 * Most field keys the fast path takes in one entry; an entry with more takes the slow path. Each
 * key is compared with the ones before it (a duplicate key must not be stored as sent), so the
 * bound keeps that check at a few hundred comparisons of lengths at worst.
 */
const MAX_FAST_FIELDS = 32;
// Where each field key of the line being scanned starts and ends (reused: no allocation per line).
const keyStarts = new Int32Array(MAX_FAST_FIELDS);
const keyEnds = new Int32Array(MAX_FAST_FIELDS);

function literal(line: Buffer, at: number, lit: Buffer): boolean {
  if (at + lit.length > line.length) return false;
  for (let i = 0; i < lit.length; i++) if (line[at + i] !== lit[i]) return false;
  return true;
}

/**
 * End (index of the closing quote) of a string that has no escapes and no control bytes,
 * starting at `at` (just after its opening quote); -1 otherwise. Names (id, daemon, hostname,
 * keys) must be plain: anything else takes the slow path, which words the error if there is one.
 */
function plainString(line: Buffer, at: number): number {
  // A loop, not indexOf: names are short, and a native call costs more than the scan.
  const n = line.length;
  for (let i = at; i < n; i++) {
    const b = line[i] as number;
    if (b === QUOTE) return i;
    if (b < 0x20 || b === BACKSLASH || b === 0x7f) return -1;
    if (b >= 0x80) highBytes = true;
  }
  return -1;
}

// Set when a scanned string had a byte >= 0x80: only then is the line checked as UTF-8.
let highBytes = false;

/** End of a JSON string body starting at `at` (escapes checked, no raw control bytes); -1 if invalid. */
function jsonString(line: Buffer, at: number): number {
  const n = line.length;
  let i = at;
  while (i < n) {
    const b = line[i] as number;
    if (b === QUOTE) return i;
    if (b < 0x20) return -1;
    if (b >= 0x80) highBytes = true;
    if (b === BACKSLASH) {
      const e = line[i + 1];
      // Only the escapes JSON.stringify writes, so kept bytes are the canonical encoding: \u00xx
      // (lowercase) for a control byte without a short form. Any other \u escape, or \/, is
      // valid JSON that the slow path re-encodes.
      if (e === 0x75 /* u */) {
        if (line[i + 2] !== 0x30 || line[i + 3] !== 0x30) return -1;
        const h = line[i + 4] as number;
        const l = line[i + 5] as number;
        const low = l >= 0x30 && l <= 0x39 ? l - 0x30 : l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
        if ((h !== 0x30 && h !== 0x31) || low < 0) return -1;
        const code = (h - 0x30) * 16 + low;
        if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return -1;
        i += 6;
        continue;
      }
      if (e === QUOTE || e === BACKSLASH || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
        continue;
      }
      return -1;
    }
    i++;
  }
  return -1;
}

/** True when the key `line[start, end)` equals one of the first `count` keys seen (plain keys: bytes decide). */
function seenKey(line: Buffer, start: number, end: number, count: number): boolean {
  const len = end - start;
  for (let k = 0; k < count; k++) {
    const s = keyStarts[k] as number;
    if ((keyEnds[k] as number) - s !== len) continue;
    let i = 0;
    while (i < len && line[s + i] === line[start + i]) i++;
    if (i === len) return true;
  }
  return false;
}

function digit(line: Buffer, at: number): number {
  const b = line[at] as number;
  return b >= 0x30 && b <= 0x39 ? b - 0x30 : -1;
}

function num(line: Buffer, at: number, len: number): number {
  let v = 0;
  for (let i = 0; i < len; i++) {
    const d = digit(line, at + i);
    if (d < 0) return -1;
    v = v * 10 + d;
  }
  return v;
}

// The timestamp of the previous line, already known to be valid: most lines of a burst repeat it.
let lastTimestamp = Buffer.alloc(0);

/** `YYYY-MM-DDTHH:MM:SS.sssZ` denoting a real instant (what the client and the server write). */
function canonicalTimestamp(line: Buffer, at: number, end: number): boolean {
  if (end - at !== 24) return false;
  if (lastTimestamp.length === 24) {
    let same = true;
    for (let i = 0; i < 24; i++) {
      if (line[at + i] !== lastTimestamp[i]) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  if (
    line[at + 4] !== 0x2d ||
    line[at + 7] !== 0x2d ||
    line[at + 10] !== 0x54 ||
    line[at + 13] !== 0x3a ||
    line[at + 16] !== 0x3a ||
    line[at + 19] !== 0x2e ||
    line[at + 23] !== 0x5a
  ) {
    return false;
  }
  const year = num(line, at, 4);
  const month = num(line, at + 5, 2);
  const day = num(line, at + 8, 2);
  const hour = num(line, at + 11, 2);
  const minute = num(line, at + 14, 2);
  const second = num(line, at + 17, 2);
  const ms = num(line, at + 20, 3);
  if (
    year < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59 ||
    ms < 0
  ) {
    return false;
  }
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && !leap ? 28 : (DAYS[month - 1] as number))) return false;
  lastTimestamp = Buffer.from(line.subarray(at, end));
  return true;
}

/**
 * Checks, without building objects, that `line` is a complete entry in canonical form —
 * `{"id":…,"timestamp":…,"level":N,"daemon":…,"message":…,"fields":{…},"pid":…,"hostname":…}`
 * with no spaces, a `YYYY-MM-DDTHH:MM:SS.sssZ` timestamp, plain names, at most 32 fields and no
 * key twice — that the slow path (JSON.parse + checkEntryInput) would accept unchanged. Returns true and fills `out` with its
 * level and where its id is, or false when the line must take the slow path (which then accepts
 * or words the error). The line's bytes are then its canonical encoding: the server stores them
 * as they are.
 */
export function scanCanonicalEntry(line: Buffer, out: ScannedEntry): boolean {
  if (!literal(line, 0, HEAD_ID)) return false;
  highBytes = false;
  let at = HEAD_ID.length;
  const idEnd = plainString(line, at);
  if (idEnd <= at || idEnd - at > MAX_ID_LENGTH) return false;
  const idStart = at;
  at = idEnd;
  if (!literal(line, at, AFTER_ID)) return false;
  at += AFTER_ID.length;
  const tsEnd = at + 24;
  if (line[tsEnd] !== QUOTE || !canonicalTimestamp(line, at, tsEnd)) return false;
  at = tsEnd;
  if (!literal(line, at, AFTER_TS)) return false;
  at += AFTER_TS.length;
  const level = digit(line, at);
  if (level < 0 || level > 7) return false;
  at++;
  if (!literal(line, at, AFTER_LEVEL)) return false;
  at += AFTER_LEVEL.length;
  const daemonEnd = plainString(line, at);
  if (daemonEnd <= at || daemonEnd - at > MAX_DAEMON_LENGTH) return false;
  at = daemonEnd;
  if (!literal(line, at, AFTER_DAEMON)) return false;
  at += AFTER_DAEMON.length;
  const messageEnd = jsonString(line, at);
  if (messageEnd === -1) return false;
  at = messageEnd;
  if (!literal(line, at, AFTER_MESSAGE)) return false;
  at += AFTER_MESSAGE.length;
  if (line[at] !== 0x7d /* } */) {
    for (let keys = 0; ; keys++) {
      if (line[at] !== QUOTE || keys === MAX_FAST_FIELDS) return false;
      const keyEnd = plainString(line, at + 1);
      if (keyEnd <= at + 1 || keyEnd - at - 1 > MAX_FIELD_KEY_LENGTH) return false;
      // A key twice: JSON.parse keeps the last value, so the sent bytes are not what is meant.
      if (keys > 0 && seenKey(line, at + 1, keyEnd, keys)) return false;
      keyStarts[keys] = at + 1;
      keyEnds[keys] = keyEnd;
      if (line[keyEnd + 1] !== 0x3a /* : */ || line[keyEnd + 2] !== QUOTE) return false;
      const valueEnd = jsonString(line, keyEnd + 3);
      if (valueEnd === -1) return false;
      at = valueEnd + 1;
      if (line[at] === 0x2c /* , */) {
        at++;
        continue;
      }
      if (line[at] === 0x7d) break;
      return false;
    }
  }
  at++;
  if (!literal(line, at, PID)) return false;
  at += PID.length;
  if (literal(line, at, NULL)) {
    at += 4;
  } else {
    const start = at;
    while (digit(line, at) >= 0) at++;
    const len = at - start;
    if (len === 0 || len > 10 || (len > 1 && line[start] === 0x30)) return false;
    if (len === 10 && num(line, start, 10) > 4294967295) return false;
  }
  if (!literal(line, at, HOSTNAME)) return false;
  at += HOSTNAME.length;
  if (literal(line, at, NULL)) {
    at += 4;
  } else {
    if (line[at] !== QUOTE) return false;
    const hostEnd = plainString(line, at + 1);
    if (hostEnd <= at + 1 || hostEnd - at - 1 > MAX_HOSTNAME_LENGTH) return false;
    at = hostEnd + 1;
  }
  if (at !== line.length - 1 || line[at] !== 0x7d) return false;
  // JSON.parse would replace invalid UTF-8; stored bytes must be valid as they are. Every byte
  // outside the literals and digits above went through a string scan, which set highBytes.
  if (highBytes && !isUtf8(line)) return false;
  out.level = level;
  out.idStart = idStart;
  out.idEnd = idEnd;
  return true;
}

/**
 * Owns the canonical line: the one byte layout an entry is stored in. Every reader and writer of
 * that layout uses this module: the writer ({@link encodeEntry}), the client's byte encoder (its
 * literals and id writer), the server's intake ({@link canonicalizeLine}: a validating scanner
 * that copies any accepted line into canonical bytes), the peer suffix ({@link peerSuffix}) and
 * the leading-id reader used to seed dedupe from stored files ({@link readLeadingId}).
 *
 * The layout: `{"id":…,"timestamp":…,"level":N,"daemon":…,"message":…,"fields":{…},"pid":…,
 * "hostname":…}` with no spaces, strings as `JSON.stringify` writes them, then `,"peer":…` before
 * the closing brace when the server knows the sender.
 */
import { isUtf8 } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { BACKSLASH, QUOTE } from './json-bytes';
import { LEVEL_ALIASES } from './level';
import {
  MAX_DAEMON_LENGTH,
  MAX_FIELD_KEY_LENGTH,
  MAX_HOSTNAME_LENGTH,
  MAX_ID_LENGTH,
  nowIso,
  type LogEntry,
  type PeerIdentity,
} from './entry';

/** The keys of a stored entry, in the order they are written. */
export const CANONICAL_KEYS = ['id', 'timestamp', 'level', 'daemon', 'message', 'fields', 'pid', 'hostname', 'peer'] as const;

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Byte literals of the layout, between the values (`HEAD` starts a line, `FIELDS_END` closes fields). */
export const CANONICAL_LITERALS = {
  HEAD: bytes('{"id":'),
  TIMESTAMP: bytes(',"timestamp":'),
  LEVEL: bytes(',"level":'),
  DAEMON: bytes(',"daemon":'),
  MESSAGE: bytes(',"message":'),
  FIELDS: bytes(',"fields":{'),
  PID: bytes('},"pid":'),
  HOSTNAME: bytes(',"hostname":'),
  PEER: bytes(',"peer":'),
} as const;

const L = CANONICAL_LITERALS;

/** Encodes an entry as one canonical JSON line, without the trailing newline. */
export function encodeEntry(entry: LogEntry): string {
  // Built in CANONICAL_KEYS order; JSON.stringify keeps insertion order.
  return JSON.stringify({
    id: entry.id,
    timestamp: entry.timestamp,
    level: entry.level,
    daemon: entry.daemon,
    message: entry.message,
    fields: entry.fields,
    pid: entry.pid,
    hostname: entry.hostname,
    peer: entry.peer === undefined ? undefined : entry.peer === null ? null : encodablePeer(entry.peer),
  });
}

/** `peer` in the canonical key order: pid, uid, gid, comm, exe, unit (absent ones left out). */
function encodablePeer(peer: PeerIdentity): PeerIdentity {
  return { pid: peer.pid, uid: peer.uid, gid: peer.gid, comm: peer.comm, exe: peer.exe, unit: peer.unit };
}

/**
 * The bytes that close a stored line after its `hostname` value: `,"peer":{…}}` (`,"peer":null}`
 * for `null`, a bare `}` for `undefined`: no peer key). Computed once per connection.
 */
export function peerSuffix(peer: PeerIdentity | null | undefined): Buffer {
  if (peer === undefined) return bytes('}');
  return bytes(`,"peer":${JSON.stringify(peer === null ? null : encodablePeer(peer))}}`);
}

/**
 * The id of a line that starts in the canonical layout (`{"id":"…"`), decoded; undefined for a
 * line laid out otherwise (the caller may parse it).
 */
export function readLeadingId(line: string): string | undefined {
  if (!line.startsWith('{"id":"')) return undefined;
  const start = 7;
  let i = start;
  for (;;) {
    const q = line.indexOf('"', i);
    if (q < 0) return undefined;
    let slashes = 0;
    for (let j = q - 1; j >= start && line.charCodeAt(j) === 0x5c; j--) slashes++;
    if (slashes % 2 === 1) {
      i = q + 1;
      continue;
    }
    const backslash = line.indexOf('\\', start);
    if (backslash === -1 || backslash > q) return line.slice(start, q);
    try {
      return JSON.parse(line.slice(start - 1, q + 1)) as string;
    } catch {
      return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The client's id writer: a random (version 4) UUID written as bytes, from CSPRNG blocks.

// Lowercase hex digits of every byte value, two per byte.
const HEX = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  HEX[2 * b] = '0123456789abcdef'.charCodeAt(b >> 4);
  HEX[2 * b + 1] = '0123456789abcdef'.charCodeAt(b & 15);
}
const RANDOM = Buffer.allocUnsafe(16 * 512);
let randomAt = RANDOM.length;

/** Writes a random (version 4) UUID's 36 characters at `pos`; returns the end. */
export function writeRandomUuid(buf: Uint8Array, pos: number): number {
  if (randomAt === RANDOM.length) {
    randomFillSync(RANDOM);
    randomAt = 0;
  }
  const r = randomAt;
  randomAt += 16;
  for (let i = 0; i < 16; i++) {
    let b = RANDOM[r + i] as number;
    if (i === 6) b = (b & 0x0f) | 0x40;
    else if (i === 8) b = (b & 0x3f) | 0x80;
    if (i === 4 || i === 6 || i === 8 || i === 10) buf[pos++] = 0x2d;
    buf[pos++] = HEX[2 * b] as number;
    buf[pos++] = HEX[2 * b + 1] as number;
  }
  return pos;
}

// The current timestamp (nowIso, formatted once a millisecond) as bytes.
const isoBytes = Buffer.alloc(32);
let isoLength = 0;
let isoText = '';

/** Writes the current time (`nowIso()`, 24 ASCII characters) at `pos`; returns the end. */
export function writeNowIso(buf: Uint8Array, pos: number): number {
  const iso = nowIso();
  if (iso !== isoText) {
    isoText = iso;
    isoLength = isoBytes.write(iso, 0, 'latin1');
  }
  for (let i = 0; i < isoLength; i++) buf[pos + i] = isoBytes[i] as number;
  return pos + isoLength;
}

// ---------------------------------------------------------------------------------------------
// The validating scanner.

/**
 * What the server fills in for the keys a line leaves out, and how it closes the line. Built
 * once per connection (see {@link canonicalContext}).
 */
export interface CanonicalContext {
  /** The daemon name to fill in, as a JSON string (`"web"`). */
  readonly daemon: Buffer;
  /** The hostname to fill in, as JSON (`"host01"` or `null`). */
  readonly hostname: Buffer;
  /** What closes the line after `hostname` (see {@link peerSuffix}). */
  readonly suffix: Buffer;
  /** Bytes the canonical line may have beyond the sent line's length (see {@link canonicalRoom}). */
  readonly extraBytes: number;
  /** Tests only: the id and timestamp to fill in instead of a random UUID and the current time. */
  readonly fill?: { id(): string; timestamp(): string };
}

/** A {@link CanonicalContext} for a connection. */
export function canonicalContext(
  daemon: string,
  hostname: string | null,
  peer: PeerIdentity | null | undefined,
  fill?: { id(): string; timestamp(): string },
): CanonicalContext {
  const d = bytes(JSON.stringify(daemon));
  const h = bytes(JSON.stringify(hostname));
  const suffix = peerSuffix(peer);
  // Every key and a generated id/timestamp (a filled one may be longer: tests only), and `{}`.
  let extraBytes = 128 + 36 + 2 + 24 + 2 + d.length + h.length + suffix.length + 8;
  if (fill !== undefined) extraBytes += 2 * (MAX_ID_LENGTH * 6 + 64);
  return { daemon: d, hostname: h, suffix, extraBytes, fill };
}

/** Bytes the canonical form of a line of `lineBytes` may take at most. */
export function canonicalRoom(lineBytes: number, context: CanonicalContext): number {
  return lineBytes + context.extraBytes;
}

/**
 * Where {@link canonicalizeLine} wrote a line: `out[start, end)`, its level, and its id at
 * `out[idStart, idEnd)` (UTF-8, no escapes). The caller passes one object; nothing is allocated.
 */
export interface CanonicalLine {
  level: number;
  end: number;
  idStart: number;
  idEnd: number;
}

/**
 * Where a canonical line's id is (see {@link scanCanonicalEntry}).
 */
export interface ScannedEntry {
  level: number;
  idStart: number;
  idEnd: number;
}

const NULL = bytes('null');
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Most field keys the fast path takes in one entry; an entry with more takes the slow path. Each
 * key is compared with the ones before it (a duplicate key must not be stored as sent), so the
 * bound keeps that check at a few hundred comparisons of lengths at worst.
 */
const MAX_FAST_FIELDS = 32;

// Spans of the line being scanned (reused: no allocation per line). Per top-level key: start and
// end of its value token (strings with their quotes), or -1 when absent.
const K_ID = 0;
const K_TIMESTAMP = 1;
const K_LEVEL = 2;
const K_DAEMON = 3;
const K_MESSAGE = 4;
const K_FIELDS = 5;
const K_PID = 6;
const K_HOSTNAME = 7;
const starts = new Int32Array(8);
const ends = new Int32Array(8);
// Field pairs: key start/end (without quotes), value token start/end (with quotes).
const fieldSpans = new Int32Array(4 * MAX_FAST_FIELDS);
let fieldCount = 0;
// Which top-level keys the line has (bit K_*).
let present = 0;
let levelValue = 0;
// A scanned string had a byte >= 0x80: only then is the line checked as UTF-8.
let highBytes = false;
// Set when the line is in canonical order with no whitespace (then it is copied in one piece).
let inOrder = true;

// Byte classes for the string scan: what a JSON string body may hold without a closer look.
const C_CONTROL = 1;
const C_HIGH = 2;
const C_SPECIAL = 4; // quote or backslash
const CLASS = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) CLASS[b] = C_CONTROL;
for (let b = 0x80; b < 0x100; b++) CLASS[b] = C_HIGH;
CLASS[QUOTE] = C_SPECIAL;
CLASS[BACKSLASH] = C_SPECIAL;

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
}

function skipWs(line: Buffer, at: number): number {
  let b = line[at];
  if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) return at;
  inOrder = false;
  while (b !== undefined && isWs(b)) b = line[++at];
  return at;
}

/**
 * End (index of the closing quote) of a string that has no escapes, no control bytes and no
 * DEL, starting at `at` (just after its opening quote); -1 otherwise. Names (id, daemon,
 * hostname, keys) must be plain: anything else takes the slow path, which words the error if any.
 */
function plainString(line: Buffer, at: number): number {
  const n = line.length;
  for (let i = at; i < n; i++) {
    const b = line[i] as number;
    if (b === QUOTE) return i;
    if (b < 0x20 || b === BACKSLASH || b === 0x7f) return -1;
    if (b >= 0x80) highBytes = true;
  }
  return -1;
}

/**
 * End of a JSON string body starting at `at` (escapes checked, no raw control bytes); -1 if
 * invalid or not as JSON.stringify writes it. Long runs go by `indexOf` for the quote and one
 * pass that ORs byte classes (no branch per byte); escapes take the byte loop.
 */
function jsonString(line: Buffer, at: number): number {
  // Short strings byte by byte (a native indexOf costs more than the scan), one table lookup each.
  const n = line.length;
  const stop = at + 64 < n ? at + 64 : n;
  let i = at;
  for (; i < stop; i++) {
    const c = CLASS[line[i] as number] as number;
    if (c === 0) continue;
    if (c === C_HIGH) {
      highBytes = true;
      continue;
    }
    if (line[i] === QUOTE) return i;
    return c === C_CONTROL ? -1 : escapedString(line, i);
  }
  if (i === n) return -1;
  // Long strings: indexOf finds the quote, then the bytes before it are checked four at a time
  // (SWAR: a control byte, a backslash, a high bit anywhere in the word), no branch per byte.
  const q = line.indexOf(QUOTE, i);
  if (q < 0) return -1;
  if (line.buffer !== viewBuffer) {
    viewBuffer = line.buffer;
    view = new DataView(viewBuffer);
  }
  const v = view as DataView;
  const base = line.byteOffset;
  let ctl = 0;
  let bs = 0;
  let hi = 0;
  for (; i + 4 <= q; i += 4) {
    const w = v.getUint32(base + i, true);
    const x = w ^ 0x5c5c5c5c;
    ctl |= (w - 0x20202020) & ~w;
    bs |= (x - 0x01010101) & ~x;
    hi |= w;
  }
  for (; i < q; i++) {
    const b = line[i] as number;
    if (b < 0x20) ctl = -1;
    else if (b === BACKSLASH) bs = -1;
    hi |= b << 24;
  }
  if ((ctl & 0x80808080) !== 0) return -1;
  if ((hi & 0x80808080) !== 0) highBytes = true;
  if ((bs & 0x80808080) === 0) return q;
  return escapedString(line, at);
}

// A view of the ArrayBuffer the last long string was in (lines of one socket chunk share one).
let viewBuffer: ArrayBufferLike | undefined;
let view: DataView | undefined;

/** {@link jsonString} for a string with escapes: byte by byte. */
function escapedString(line: Buffer, at: number): number {
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

/** True when field key `line[start, end)` equals one of the first `count` keys seen (plain keys: bytes decide). */
function seenKey(line: Buffer, start: number, end: number, count: number): boolean {
  const len = end - start;
  for (let k = 0; k < count; k++) {
    const s = fieldSpans[4 * k] as number;
    if ((fieldSpans[4 * k + 1] as number) - s !== len) continue;
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
const lastTimestamp = Buffer.alloc(24);
let lastTimestampSet = false;

/** `YYYY-MM-DDTHH:MM:SS.sssZ` denoting a real instant (what the client and the server write). */
function canonicalTimestamp(line: Buffer, at: number, end: number): boolean {
  if (end - at !== 24) return false;
  if (lastTimestampSet) {
    let i = 0;
    while (i < 24 && line[at + i] === lastTimestamp[i]) i++;
    if (i === 24) return true;
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
  for (let i = 0; i < 24; i++) lastTimestamp[i] = line[at + i] as number;
  lastTimestampSet = true;
  return true;
}

// Level names the slow path takes (parseLogLevel), as lowercase ASCII bytes with their level.
const LEVEL_NAME_BYTES: readonly (readonly [Buffer, number])[] = LEVEL_ALIASES.map(([name, level]) => [bytes(name), level] as const);

/** The level named by `line[start, end)` (ASCII, any case), or -1. */
function levelByName(line: Buffer, start: number, end: number): number {
  const len = end - start;
  for (const [name, level] of LEVEL_NAME_BYTES) {
    if (name.length !== len) continue;
    let i = 0;
    // ASCII letters only: OR 0x20 lowercases them (a non-letter never matches a name's letter).
    while (i < len && ((line[start + i] as number) | 0x20) === name[i]) i++;
    if (i === len) return level;
  }
  return -1;
}

/** Which top-level key `line[start, end)` is (K_*), 8 for `peer`, -1 for any other. */
function keyIndex(line: Buffer, start: number, end: number): number {
  const c = line[start];
  switch (end - start) {
    case 2:
      return c === 0x69 && line[start + 1] === 0x64 ? K_ID : -1;
    case 3:
      return same(line, start, 'pid') ? K_PID : -1;
    case 4:
      return same(line, start, 'peer') ? 8 : -1;
    case 5:
      return same(line, start, 'level') ? K_LEVEL : -1;
    case 6:
      return c === 0x64 ? (same(line, start, 'daemon') ? K_DAEMON : -1) : same(line, start, 'fields') ? K_FIELDS : -1;
    case 7:
      return same(line, start, 'message') ? K_MESSAGE : -1;
    case 8:
      return same(line, start, 'hostname') ? K_HOSTNAME : -1;
    case 9:
      return same(line, start, 'timestamp') ? K_TIMESTAMP : -1;
  }
  return -1;
}

function same(line: Buffer, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (line[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** End of an integer 0..4294967295 (plain digits, no sign, fraction or exponent) at `at`, or -1. */
function u32End(line: Buffer, at: number): number {
  let i = at;
  while (digit(line, i) >= 0) i++;
  const len = i - at;
  if (len === 0 || len > 10 || (len > 1 && line[at] === 0x30)) return -1;
  if (len === 10 && num(line, at, 10) > 4294967295) return -1;
  const b = line[i];
  if (b === 0x2e || b === 0x65 || b === 0x45) return -1;
  return i;
}

/** True when `line[start, end)` (a field key) is an array index: JSON.parse would move it first. */
function indexLike(line: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (digit(line, i) < 0) return false;
  return true;
}

/** Scans the value of field object at `at` (just after `{`); returns the index after `}` or -1. */
function scanFields(line: Buffer, at: number): number {
  fieldCount = 0;
  at = skipWs(line, at);
  if (line[at] === 0x7d) return at + 1;
  for (;;) {
    if (line[at] !== QUOTE || fieldCount === MAX_FAST_FIELDS) return -1;
    const keyEnd = plainString(line, at + 1);
    if (keyEnd <= at + 1 || keyEnd - at - 1 > MAX_FIELD_KEY_LENGTH) return -1;
    // JSON.parse orders array-index keys first; a key twice keeps the last value: slow path.
    if (indexLike(line, at + 1, keyEnd)) return -1;
    if (fieldCount > 0 && seenKey(line, at + 1, keyEnd, fieldCount)) return -1;
    const f = 4 * fieldCount;
    fieldSpans[f] = at + 1;
    fieldSpans[f + 1] = keyEnd;
    at = skipWs(line, keyEnd + 1);
    if (line[at] !== 0x3a /* : */) return -1;
    at = skipWs(line, at + 1);
    if (line[at] !== QUOTE) return -1;
    const valueEnd = jsonString(line, at + 1);
    if (valueEnd === -1) return -1;
    fieldSpans[f + 2] = at;
    fieldSpans[f + 3] = valueEnd + 1;
    fieldCount++;
    at = skipWs(line, valueEnd + 1);
    if (line[at] === 0x2c /* , */) {
      at = skipWs(line, at + 1);
      continue;
    }
    if (line[at] === 0x7d) return at + 1;
    return -1;
  }
}

/**
 * Scans one line as an entry, validating it without building objects: one JSON object with the
 * entry keys in any order (each at most once; `message` required), whitespace allowed between
 * tokens, names plain, strings escaped as JSON.stringify writes them, a canonical timestamp, a
 * level as a digit or a name, at most 32 fields. False when the line must take the slow path
 * (which then accepts it or words the error): anything else, including a client-sent `peer`.
 */
function scanLine(line: Buffer): boolean {
  highBytes = false;
  inOrder = true;
  let at = skipWs(line, 0);
  if (line[at] !== 0x7b) return false;
  at = skipWs(line, at + 1);
  let seen = 0;
  let expected = 0;
  for (;;) {
    if (line[at] !== QUOTE) return false;
    const keyEnd = plainString(line, at + 1);
    if (keyEnd < 0) return false;
    const k = keyIndex(line, at + 1, keyEnd);
    if (k < 0 || k === 8 || (seen & (1 << k)) !== 0) return false;
    seen |= 1 << k;
    if (k !== expected++) inOrder = false;
    at = skipWs(line, keyEnd + 1);
    if (line[at] !== 0x3a) return false;
    at = skipWs(line, at + 1);
    const start = at;
    const b = line[at];
    switch (k) {
      case K_ID:
      case K_DAEMON:
      case K_HOSTNAME: {
        if (k === K_HOSTNAME && b === 0x6e && same(line, at, 'null')) {
          at += 4;
          break;
        }
        if (b !== QUOTE) return false;
        const end = plainString(line, at + 1);
        const max = k === K_ID ? MAX_ID_LENGTH : k === K_DAEMON ? MAX_DAEMON_LENGTH : MAX_HOSTNAME_LENGTH;
        if (end <= at + 1 || end - at - 1 > max) return false;
        at = end + 1;
        break;
      }
      case K_TIMESTAMP: {
        if (b !== QUOTE || line[at + 25] !== QUOTE || !canonicalTimestamp(line, at + 1, at + 25)) return false;
        at += 26;
        break;
      }
      case K_LEVEL: {
        if (b === QUOTE) {
          const end = plainString(line, at + 1);
          if (end < 0) return false;
          levelValue = levelByName(line, at + 1, end);
          if (levelValue < 0) return false;
          inOrder = false;
          at = end + 1;
        } else {
          levelValue = digit(line, at);
          if (levelValue < 0 || levelValue > 7) return false;
          at++;
          const c = line[at];
          if (c !== undefined && (digit(line, at) >= 0 || c === 0x2e || c === 0x65 || c === 0x45)) return false;
        }
        break;
      }
      case K_MESSAGE: {
        if (b !== QUOTE) return false;
        const end = jsonString(line, at + 1);
        if (end < 0) return false;
        at = end + 1;
        break;
      }
      case K_FIELDS: {
        if (b !== 0x7b) return false;
        at = scanFields(line, at + 1);
        if (at < 0) return false;
        break;
      }
      case K_PID: {
        if (b === 0x6e && same(line, at, 'null')) {
          at += 4;
          break;
        }
        at = u32End(line, at);
        if (at < 0) return false;
        break;
      }
    }
    starts[k] = start;
    ends[k] = at;
    at = skipWs(line, at);
    if (line[at] === 0x2c) {
      at = skipWs(line, at + 1);
      continue;
    }
    if (line[at] !== 0x7d) return false;
    at = skipWs(line, at + 1);
    if (at !== line.length) return false;
    break;
  }
  present = seen;
  if ((seen & (1 << K_MESSAGE)) === 0) return false;
  if (seen !== 0xff) inOrder = false;
  // JSON.parse would replace invalid UTF-8; stored bytes must be valid as they are. Every byte
  // outside literals and digits went through a string scan, which set highBytes.
  if (highBytes && !isUtf8(line)) return false;
  if ((seen & (1 << K_LEVEL)) === 0) levelValue = 6;
  return true;
}

// The layout's literals with the quotes around string values, for the exact-layout check.
const Q = bytes('"');
const HEAD_ID = Buffer.concat([L.HEAD, Q]);
const AFTER_ID = Buffer.concat([Q, L.TIMESTAMP, Q]);
const AFTER_TS = Buffer.concat([Q, L.LEVEL]);
const AFTER_LEVEL = Buffer.concat([L.DAEMON, Q]);
const AFTER_DAEMON = Buffer.concat([Q, L.MESSAGE, Q]);
const AFTER_MESSAGE = Buffer.concat([Q, L.FIELDS]);
const PID = L.PID;
const HOSTNAME = L.HOSTNAME;

/** True when `line` holds the bytes of `lit` at `at`. */
export function literal(line: Buffer, at: number, lit: Buffer): boolean {
  if (at + lit.length > line.length) return false;
  for (let i = 0; i < lit.length; i++) if (line[at + i] !== lit[i]) return false;
  return true;
}

/**
 * The common case first: a complete entry already in the canonical layout (what the client
 * sends), checked literal by literal, which costs a third of the general scan. Fills the spans
 * of id and level; false sends the line to {@link scanLine} (usually at its first bytes).
 */
function scanLayout(line: Buffer): boolean {
  if (!literal(line, 0, HEAD_ID)) return false;
  highBytes = false;
  let at = HEAD_ID.length;
  const idEnd = plainString(line, at);
  if (idEnd <= at || idEnd - at > MAX_ID_LENGTH) return false;
  starts[K_ID] = at - 1;
  ends[K_ID] = idEnd + 1;
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
      // JSON.parse orders array-index keys first; a key twice keeps the last value.
      if (indexLike(line, at + 1, keyEnd)) return false;
      if (keys > 0 && seenKey(line, at + 1, keyEnd, keys)) return false;
      fieldSpans[4 * keys] = at + 1;
      fieldSpans[4 * keys + 1] = keyEnd;
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
  // `at` is on the fields' closing brace, where PID (`},"pid":`) begins.
  if (!literal(line, at, PID)) return false;
  at += PID.length;
  if (literal(line, at, NULL)) {
    at += 4;
  } else {
    at = u32End(line, at);
    if (at < 0) return false;
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
  // JSON.parse would replace invalid UTF-8; stored bytes must be valid as they are.
  if (highBytes && !isUtf8(line)) return false;
  levelValue = level;
  return true;
}

/** {@link scanLayout}, else {@link scanLine}; `inOrder` says which layout the line has. */
function scan(line: Buffer): boolean {
  if (scanLayout(line)) {
    inOrder = true;
    return true;
  }
  return scanLine(line);
}

function put(out: Buffer, pos: number, src: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n > 32) {
    // A plain Uint8Array over the span: half the cost of a Buffer's subarray (no species
    // constructor), and less than a byte loop past ~32 bytes.
    out.set(new Uint8Array(src.buffer, src.byteOffset + start, n), pos);
    return pos + n;
  }
  for (let i = 0; i < n; i++) out[pos + i] = src[start + i] as number;
  return pos + n;
}

function putAll(out: Buffer, pos: number, src: Uint8Array): number {
  const n = src.length;
  if (n > 32) {
    out.set(src, pos);
    return pos + n;
  }
  return put(out, pos, src, 0, n);
}

function putSpan(out: Buffer, pos: number, line: Buffer, k: number): number {
  return put(out, pos, line, starts[k] as number, ends[k] as number);
}

function putFilled(out: Buffer, pos: number, text: string): number {
  return pos + out.write(JSON.stringify(text), pos, 'utf8');
}

/**
 * Writes the canonical form of `line` at `out[at…]` and fills `result`: the bytes the slow
 * path (JSON.parse, check, complete, encode) would store for it, with what it leaves out of id,
 * timestamp, level, daemon, fields, pid and hostname filled in from `context`, closed by
 * `context.suffix`. `out` must have {@link canonicalRoom} bytes free at `at`. Returns false,
 * writing nothing that counts, when the line must take the slow path (see {@link scanLine}).
 */
export function canonicalizeLine(line: Buffer, context: CanonicalContext, out: Buffer, at: number, result: CanonicalLine): boolean {
  if (!scan(line)) return false;
  result.level = levelValue;
  if (inOrder) {
    // Already canonical: the line without its closing brace, then the suffix.
    const idStart = at + (starts[K_ID] as number) + 1;
    result.idStart = idStart;
    result.idEnd = idStart + (ends[K_ID] as number) - (starts[K_ID] as number) - 2;
    // The whole line, then the suffix over its closing brace: copying a whole Uint8Array needs
    // no subarray view (a view per line was 8 % of the server's main thread).
    out.set(line, at);
    const pos = putAll(out, at + line.length - 1, context.suffix);
    result.end = pos;
    return true;
  }
  let pos = putAll(out, at, L.HEAD);
  if ((present & (1 << K_ID)) !== 0) {
    result.idStart = pos + 1;
    pos = putSpan(out, pos, line, K_ID);
    result.idEnd = pos - 1;
  } else {
    result.idStart = pos + 1;
    if (context.fill !== undefined) pos = putFilled(out, pos, context.fill.id());
    else {
      out[pos] = QUOTE;
      pos = writeRandomUuid(out, pos + 1);
      out[pos++] = QUOTE;
    }
    result.idEnd = pos - 1;
  }
  pos = putAll(out, pos, L.TIMESTAMP);
  if ((present & (1 << K_TIMESTAMP)) !== 0) pos = putSpan(out, pos, line, K_TIMESTAMP);
  else if (context.fill !== undefined) pos = putFilled(out, pos, context.fill.timestamp());
  else {
    out[pos] = QUOTE;
    pos = writeNowIso(out, pos + 1);
    out[pos++] = QUOTE;
  }
  pos = putAll(out, pos, L.LEVEL);
  out[pos++] = 0x30 + levelValue;
  pos = putAll(out, pos, L.DAEMON);
  pos = (present & (1 << K_DAEMON)) !== 0 ? putSpan(out, pos, line, K_DAEMON) : putAll(out, pos, context.daemon);
  pos = putAll(out, pos, L.MESSAGE);
  pos = putSpan(out, pos, line, K_MESSAGE);
  pos = putAll(out, pos, L.FIELDS);
  if ((present & (1 << K_FIELDS)) !== 0) {
    for (let f = 0; f < fieldCount; f++) {
      if (f > 0) out[pos++] = 0x2c;
      out[pos++] = QUOTE;
      pos = put(out, pos, line, fieldSpans[4 * f] as number, (fieldSpans[4 * f + 1] as number) + 1);
      out[pos++] = 0x3a;
      pos = put(out, pos, line, fieldSpans[4 * f + 2] as number, fieldSpans[4 * f + 3] as number);
    }
  }
  pos = putAll(out, pos, L.PID);
  pos = (present & (1 << K_PID)) !== 0 ? putSpan(out, pos, line, K_PID) : putAll(out, pos, NULL);
  pos = putAll(out, pos, L.HOSTNAME);
  pos = (present & (1 << K_HOSTNAME)) !== 0 ? putSpan(out, pos, line, K_HOSTNAME) : putAll(out, pos, context.hostname);
  pos = putAll(out, pos, context.suffix);
  result.end = pos;
  return true;
}

/**
 * True when `line` is a complete entry already in the canonical layout (all eight keys in order,
 * no spaces, a digit level), which the slow path would store unchanged; fills `out` with its
 * level and where its id is. Lines with a `peer` (stored lines) are not entries a client sends:
 * false.
 */
export function scanCanonicalEntry(line: Buffer, out: ScannedEntry): boolean {
  if (!scan(line) || !inOrder) return false;
  out.level = levelValue;
  out.idStart = (starts[K_ID] as number) + 1;
  out.idEnd = (ends[K_ID] as number) - 1;
  return true;
}

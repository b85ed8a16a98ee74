import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { inspect } from 'node:util';
import { CANONICAL_LITERALS, encodeEntry, nowIso, writeNowIso, writeRandomUuid, type LogFields, type LogLevel } from '@logstream/protocol';

/** Node's Buffer has `utf8Write(string, offset)` under `write(string, offset, 'utf8')`. */
const utf8Write = (Buffer.prototype as unknown as { utf8Write?: (this: Buffer, text: string, offset: number) => number }).utf8Write;

/** Writes `text` as UTF-8 at `pos`; returns the bytes written. */
export function writeUtf8(buf: Buffer, text: string, pos: number): number {
  // utf8Write: Buffer#write without its argument juggling, which costs more than a short copy.
  return utf8Write !== undefined ? utf8Write.call(buf, text, pos) : buf.write(text, pos, 'utf8');
}

/** JSON escapes at most 6 bytes per UTF-16 unit (`\u001f`, a lone surrogate); UTF-8 at most 3. */
const MAX_BYTES_PER_UNIT = 6;

// The layout's literals (owned by the protocol's canonical-line module), with the quotes around
// the id and timestamp this encoder always writes.
const L = CANONICAL_LITERALS;
const QUOTE = Buffer.from('"');
const ID_START = new Uint8Array(Buffer.concat([L.HEAD, QUOTE]));
const TIMESTAMP_START = new Uint8Array(Buffer.concat([QUOTE, L.TIMESTAMP, QUOTE]));
const LEVEL_START = new Uint8Array(Buffer.concat([QUOTE, L.LEVEL]));
const FIELDS_START = new Uint8Array(L.FIELDS);
// Longest timestamp writeNowIso writes.
const ISO_BYTES = 32;

function copyBytes(buf: Buffer, pos: number, src: Uint8Array): number {
  // A loop beats a native copy for the few dozen bytes these parts have.
  for (let i = 0; i < src.length; i++) buf[pos + i] = src[i] as number;
  return pos + src.length;
}

/**
 * `JSON.stringify(text)` written at `pos`: printable ASCII byte by byte, anything else through
 * JSON.stringify. Returns the end, or -1 when `buf` might not hold it plus `reserve` bytes.
 */
function writeJsonString(buf: Buffer, pos: number, text: string, reserve: number): number {
  const n = text.length;
  if (buf.length - pos < n * MAX_BYTES_PER_UNIT + 2 + reserve) return -1;
  buf[pos] = 0x22;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) break;
    buf[pos + 1 + i] = c;
  }
  if (i === n) {
    buf[pos + 1 + n] = 0x22;
    return pos + n + 2;
  }
  return pos + writeUtf8(buf, JSON.stringify(text), pos);
}

/** A field's value as the text the protocol stores (fields are strings). */
export function fieldText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'undefined':
      return '';
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'symbol':
      return value.toString();
    case 'function':
      return `[function ${value.name || 'anonymous'}]`;
  }
  if (value === null) return 'null';
  try {
    // JSON for objects, as an operator reads them back; undefined from a toJSON() that gives nothing.
    return JSON.stringify(value) ?? '';
  } catch {
    // Cycles, BigInts inside: logging must not throw into the application.
    return inspect(value, { depth: 4, breakLength: Infinity });
  }
}

/** Where and when an entry was made, when not here and now (e.g. a line a pino worker relays). */
export interface EntryOrigin {
  /** ISO 8601 text. */
  timestamp?: string;
  pid?: number;
  hostname?: string;
}

/**
 * Encodes entries as the protocol's canonical JSON line (the key order and form the server's
 * fast path stores as it is): straight into a byte page with no intermediate string in the
 * common case, or as a string for entries that wait for room or need a page of their own.
 */
export class EntryEncoder {
  readonly #daemon: string;
  readonly #hostname: string;
  readonly #pid: number;
  // `,"daemon":…,"message":` and `},"pid":…,"hostname":…}\n`: the same for every entry.
  readonly #daemonPart: Uint8Array;
  readonly #tail: Uint8Array;
  // Bytes of a line besides the message and the fields' keys and values.
  readonly #fixed: number;

  constructor(daemonName: string, hostname: string = osHostname(), pid: number = process.pid) {
    this.#daemon = daemonName;
    this.#hostname = hostname;
    this.#pid = pid;
    this.#daemonPart = new Uint8Array(Buffer.concat([L.DAEMON, Buffer.from(JSON.stringify(daemonName)), L.MESSAGE]));
    this.#tail = new Uint8Array(Buffer.concat([L.PID, Buffer.from(`${pid}`), L.HOSTNAME, Buffer.from(`${JSON.stringify(hostname)}}\n`)]));
    this.#fixed =
      ID_START.length +
      36 +
      TIMESTAMP_START.length +
      ISO_BYTES +
      LEVEL_START.length +
      1 +
      this.#daemonPart.length +
      FIELDS_START.length +
      this.#tail.length;
  }

  /**
   * Writes the entry's line (with its newline) into `buf` at `pos` and returns where it ends,
   * or -1 when `buf` might not have room (what was written past `pos` is then garbage).
   */
  encodeInto(buf: Buffer, pos: number, level: LogLevel, message: string, fields: Record<string, unknown> | undefined): number {
    if (buf.length - pos < this.#fixed) return -1;
    pos = copyBytes(buf, pos, ID_START);
    pos = writeRandomUuid(buf, pos);
    pos = copyBytes(buf, pos, TIMESTAMP_START);
    pos = writeNowIso(buf, pos);
    pos = copyBytes(buf, pos, LEVEL_START);
    buf[pos++] = 0x30 + level;
    pos = copyBytes(buf, pos, this.#daemonPart);
    const tail = this.#tail.length;
    pos = writeJsonString(buf, pos, message, FIELDS_START.length + tail);
    if (pos < 0) return -1;
    pos = copyBytes(buf, pos, FIELDS_START);
    if (fields !== undefined && fields !== null) {
      let first = true;
      for (const key in fields) {
        if (!Object.prototype.hasOwnProperty.call(fields, key)) continue;
        if (first) first = false;
        else buf[pos++] = 0x2c;
        pos = writeJsonString(buf, pos, key, 1 + tail);
        if (pos < 0) return -1;
        buf[pos++] = 0x3a;
        pos = writeJsonString(buf, pos, fieldText(fields[key]), 1 + tail);
        if (pos < 0) return -1;
      }
    }
    return copyBytes(buf, pos, this.#tail);
  }

  /** The same line as {@link encodeInto} writes, as a string (through the protocol's encodeEntry). */
  encodeLine(level: LogLevel, message: string, fields: Record<string, unknown> | undefined, origin?: EntryOrigin): string {
    // fromEntries defines own properties, so an own "__proto__" key stays a field.
    const text: LogFields =
      fields === undefined || fields === null ? {} : Object.fromEntries(Object.keys(fields).map((k) => [k, fieldText(fields[k])]));
    const entry = {
      id: randomUUID(),
      timestamp: origin?.timestamp ?? nowIso(),
      level,
      daemon: this.#daemon,
      message,
      fields: text,
      pid: origin?.pid ?? this.#pid,
      hostname: origin?.hostname ?? this.#hostname,
    };
    return `${encodeEntry(entry)}\n`;
  }
}

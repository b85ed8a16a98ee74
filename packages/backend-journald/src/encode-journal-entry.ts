import type { LogEntry } from '@logstream/protocol';
import { journalFieldName, MAX_JOURNAL_FIELD_NAME_LENGTH } from './journal-field-name';

/**
 * The datagram size limit of Linux's default `net.core.wmem_default` (212992 bytes) minus the
 * 32 bytes the kernel keeps back (`len > sk_sndbuf - 32` is EMSGSIZE). The backend reads the
 * real value from `/proc/sys/net/core/wmem_default`; this is the fallback and the encoder's default.
 */
export const DEFAULT_MAX_ENTRY_BYTES = 212_992 - 32;

/** The smallest `maxEntryBytes` allowed: every valid entry can be truncated to fit it. */
export const MIN_MAX_ENTRY_BYTES = 4096;

/**
 * Client fields written as journal fields of their own; the rest of an entry's fields are kept
 * together as JSON in `LOGSTREAM_FIELDS_OVERFLOW`. journald ignores a whole entry of more than
 * 1024 fields (`ENTRY_FIELD_COUNT_MAX`), and this backend writes up to 10 of its own.
 */
export const MAX_DIRECT_FIELDS = 1000;

/** Options of {@link encodeJournalEntry}. */
export interface JournalEncodeOptions {
  /** `SYSLOG_IDENTIFIER` of every entry. Default: the entry's `daemon`. */
  syslogIdentifier?: string | undefined;
  /**
   * Largest encoded entry, in bytes (at least {@link MIN_MAX_ENTRY_BYTES}); a larger entry has its
   * largest values cut, each ending in `… [truncated N bytes]`. Default {@link DEFAULT_MAX_ENTRY_BYTES}.
   */
  maxEntryBytes?: number | undefined;
}

/** One entry in journald's native format, ready to send as one datagram. */
export interface EncodedJournalEntry {
  /** The datagram. */
  data: Buffer;
  /** Bytes cut from values to fit `maxEntryBytes` (the sum of every marker's N); 0 when whole. */
  truncatedBytes: number;
  /** Fields kept in `LOGSTREAM_FIELDS_OVERFLOW` instead of fields of their own; usually 0. */
  overflowFields: number;
}

interface Field {
  name: string;
  value: string | Buffer;
  /** UTF-8 length of `value`. */
  bytes: number;
  /** Written in the binary form (`KEY\n` + u64le length + bytes + `\n`) because the value has a LF. */
  binary: boolean;
  /** Already truncated: a value is cut at most once, so markers never nest. */
  cut: boolean;
}

const ELLIPSIS = '\u2026';
// "… [truncated " + " bytes]": 3 + 12 + 7 bytes, plus the digits of N.
const MARKER_BASE_BYTES = 22;

function makeField(name: string, value: string): Field {
  return { name, value, bytes: Buffer.byteLength(value, 'utf8'), binary: value.includes('\n'), cut: false };
}

function fieldSize(f: Field): number {
  return f.name.length + (f.binary ? 10 : 2) + f.bytes;
}

function totalSize(fields: readonly Field[]): number {
  let total = 0;
  for (const f of fields) total += fieldSize(f);
  return total;
}

function digits(n: number): number {
  return String(n).length;
}

// journalFieldName is pure and keys repeat across entries: cache it (bounded, cleared when full).
const nameCache = new Map<string, string>();
const NAME_CACHE_MAX = 4096;

/** {@link journalFieldName} of `key`, from a bounded cache. */
export function cachedFieldName(key: string): string {
  let name = nameCache.get(key);
  if (name === undefined) {
    if (nameCache.size >= NAME_CACHE_MAX) nameCache.clear();
    name = journalFieldName(key);
    nameCache.set(key, name);
  }
  return name;
}

/** `name`, or `name_2`, `name_3`… when `used` has it already. */
export function uniqueName(name: string, used: Set<string>): string {
  if (!used.has(name)) return name;
  for (let i = 2; ; i++) {
    const suffix = `_${i}`;
    const candidate = name.slice(0, MAX_JOURNAL_FIELD_NAME_LENGTH - suffix.length) + suffix;
    if (!used.has(candidate)) return candidate;
  }
}

function buildFields(entry: LogEntry, identifier: string, maxDirect: number): { fields: Field[]; overflow: number } {
  const fields: Field[] = [
    makeField('MESSAGE', entry.message),
    makeField('PRIORITY', String(entry.level)),
    makeField('SYSLOG_IDENTIFIER', identifier),
  ];
  if (entry.pid !== null && entry.pid !== undefined) fields.push(makeField('SYSLOG_PID', String(entry.pid)));
  // journald adds OBJECT_UID, OBJECT_COMM, OBJECT_EXE, OBJECT_SYSTEMD_UNIT… for this pid itself
  // when the sender (this server) runs as root, as it does for the trusted _PID of a sender.
  if (entry.peer !== undefined && entry.peer !== null) fields.push(makeField('OBJECT_PID', String(entry.peer.pid)));
  fields.push(
    makeField('LOGSTREAM_ID', entry.id),
    makeField('LOGSTREAM_DAEMON', entry.daemon),
    makeField('LOGSTREAM_TIMESTAMP', entry.timestamp),
  );
  if (entry.hostname !== null && entry.hostname !== undefined) {
    fields.push(makeField('LOGSTREAM_HOSTNAME', entry.hostname));
  }
  const used = new Set<string>();
  let overflow: Record<string, string> | undefined;
  let overflowCount = 0;
  let direct = 0;
  for (const key in entry.fields) {
    if (!Object.prototype.hasOwnProperty.call(entry.fields, key)) continue;
    const value = entry.fields[key] as string;
    if (direct >= maxDirect) {
      // A null prototype: a key "__proto__" must stay a key, not replace the prototype.
      overflow ??= Object.create(null) as Record<string, string>;
      overflow[key] = value;
      overflowCount++;
      continue;
    }
    direct++;
    const name = uniqueName(cachedFieldName(key), used);
    used.add(name);
    fields.push(makeField(name, value));
  }
  if (overflow !== undefined) fields.push(makeField('LOGSTREAM_FIELDS_OVERFLOW', JSON.stringify(overflow)));
  return { fields, overflow: overflowCount };
}

function cutField(f: Field, excess: number): number {
  const buf = typeof f.value === 'string' ? Buffer.from(f.value, 'utf8') : f.value;
  const len = buf.length;
  // Remove n bytes so that n minus the marker's own length covers the excess.
  let keep = Math.max(0, len - (excess + MARKER_BASE_BYTES + digits(len)));
  // Never split a UTF-8 sequence: back up over continuation bytes.
  while (keep > 0 && ((buf[keep] as number) & 0xc0) === 0x80) keep--;
  const removed = len - keep;
  const value = Buffer.concat([buf.subarray(0, keep), Buffer.from(`${ELLIPSIS} [truncated ${removed} bytes]`, 'utf8')]);
  f.value = value;
  f.bytes = value.length;
  f.binary = value.includes(0x0a);
  f.cut = true;
  return removed;
}

/** Cuts the largest values until the fields fit `max`; returns the bytes removed, or -1 when they cannot fit. */
function shrink(fields: Field[], max: number): number {
  let total = totalSize(fields);
  // Room for LOGSTREAM_TRUNCATED=<removed>\n (removed <= total).
  const budget = max - ('LOGSTREAM_TRUNCATED'.length + 2 + digits(total));
  let removed = 0;
  while (total > budget) {
    let best: Field | undefined;
    for (const f of fields) {
      if (f.cut || f.bytes <= MARKER_BASE_BYTES + digits(f.bytes)) continue;
      if (best === undefined || f.bytes > best.bytes) best = f;
    }
    if (best === undefined) return -1;
    const before = fieldSize(best);
    removed += cutField(best, total - budget);
    total += fieldSize(best) - before;
  }
  fields.push(makeField('LOGSTREAM_TRUNCATED', String(removed)));
  return removed;
}

/** `total` is {@link totalSize} of `fields`. */
function serialize(fields: readonly Field[], total: number): Buffer {
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const f of fields) {
    at += out.write(f.name, at, 'latin1');
    if (f.binary) {
      out[at++] = 0x0a;
      out.writeUInt32LE(f.bytes % 0x1_0000_0000, at);
      out.writeUInt32LE(Math.floor(f.bytes / 0x1_0000_0000), at + 4);
      at += 8;
    } else {
      out[at++] = 0x3d;
    }
    at += typeof f.value === 'string' ? out.write(f.value, at, 'utf8') : f.value.copy(out, at);
    out[at++] = 0x0a;
  }
  return out;
}

/**
 * Encodes one entry in journald's native protocol: `KEY=VALUE\n` per field, or `KEY\n` + the
 * value's length as a 64-bit little-endian integer + the value + `\n` when the value holds a LF
 * (so multi-line messages stay whole). The fields are, in order:
 *
 * | journal field | from |
 * | --- | --- |
 * | `MESSAGE` | `message` |
 * | `PRIORITY` | `level` (0–7) |
 * | `SYSLOG_IDENTIFIER` | `options.syslogIdentifier`, else `daemon` |
 * | `SYSLOG_PID` | `pid`, the client's word (left out when null) |
 * | `OBJECT_PID` | `peer.pid`, the sender as the kernel says (left out without `peer`); journald adds `OBJECT_UID`, `OBJECT_COMM`, `OBJECT_EXE`, `OBJECT_SYSTEMD_UNIT`… for it when the server runs as root |
 * | `LOGSTREAM_ID` | `id` |
 * | `LOGSTREAM_DAEMON` | `daemon` |
 * | `LOGSTREAM_TIMESTAMP` | `timestamp`, as sent (RFC 3339) |
 * | `LOGSTREAM_HOSTNAME` | `hostname` (left out when null) |
 * | `journalFieldName(key)` | each of `fields`, in order; `_2`, `_3`, … when two keys map to one name |
 * | `LOGSTREAM_FIELDS_OVERFLOW` | JSON of the fields after the first {@link MAX_DIRECT_FIELDS} |
 * | `LOGSTREAM_TRUNCATED` | bytes cut, only when the entry was truncated |
 *
 * An entry larger than `maxEntryBytes` is cut to fit: the largest value first (usually
 * `MESSAGE`), each cut value ending in `… [truncated N bytes]`, never inside a UTF-8 sequence.
 * Should that not be enough (thousands of fields), every field is moved into
 * `LOGSTREAM_FIELDS_OVERFLOW` and the cut is done again.
 *
 * @throws RangeError when `maxEntryBytes` is below {@link MIN_MAX_ENTRY_BYTES}, or when the entry
 *   cannot be cut to fit (only possible for entries whose id, daemon or hostname break the limits
 *   of `LogEntrySchema`).
 */
export function encodeJournalEntry(entry: LogEntry, options: JournalEncodeOptions = {}): EncodedJournalEntry {
  const max = options.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
  if (!(max >= MIN_MAX_ENTRY_BYTES)) {
    throw new RangeError(`maxEntryBytes ${max} is below the minimum ${MIN_MAX_ENTRY_BYTES}`);
  }
  const identifier = options.syslogIdentifier ?? entry.daemon;
  let { fields, overflow } = buildFields(entry, identifier, MAX_DIRECT_FIELDS);
  const total = totalSize(fields);
  if (total <= max) return { data: serialize(fields, total), truncatedBytes: 0, overflowFields: overflow };

  let removed = shrink(fields, max);
  if (removed < 0) {
    ({ fields, overflow } = buildFields(entry, identifier, 0));
    removed = shrink(fields, max);
    if (removed < 0) {
      throw new RangeError(`journal entry ${entry.id} cannot be cut to fit ${max} bytes`);
    }
  }
  return { data: serialize(fields, totalSize(fields)), truncatedBytes: removed, overflowFields: overflow };
}

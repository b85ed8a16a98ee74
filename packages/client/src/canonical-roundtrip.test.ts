import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  canonicalContext,
  canonicalRoom,
  canonicalizeLine,
  encodeEntry,
  readLeadingId,
  scanCanonicalEntry,
  type LogEntry,
  type LogLevel,
  type PeerIdentity,
} from '@logstream/protocol';
import { EntryEncoder } from './entry-encoder';

// One property through every reader and writer of the canonical line: the protocol's writer
// (encodeEntry), its validating scanner and canonicalizer, its leading-id reader, JSON.parse,
// and the client's byte encoder.

const anyText = fc.string({
  unit: fc.oneof(
    fc.constantFrom('a', 'Z', ' ', '"', '\\', '\n', '\r', '\t', '\b', '\f', '\u0000', '\u001f', '\u007f', 'é', '€', '😀', '\u2028', '/'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 30,
});
// Names as the scanner takes them: 1..n characters, no control characters, quotes or backslashes.
const name = (max: number) =>
  fc
    .string({
      unit: fc.oneof(
        fc.constantFrom('a', 'Z', '-', '.', ' ', 'é', '😀', '/'),
        fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
      ),
      minLength: 1,
      maxLength: max,
    })
    // eslint-disable-next-line no-control-regex -- names may not hold control characters
    .filter((s) => !/["\\\u0000-\u001f\u007f]/.test(s) && Buffer.byteLength(s) <= max);
const fieldKey = name(40).filter((k) => !/^\d+$/.test(k));
const timestamp = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
const peer: fc.Arbitrary<PeerIdentity | null> = fc.oneof(
  fc.constant(null),
  fc.record(
    { pid: fc.nat(), uid: fc.nat(), gid: fc.nat(), comm: anyText, exe: anyText, unit: anyText },
    { requiredKeys: ['pid', 'uid', 'gid'] },
  ),
);
const entry: fc.Arbitrary<LogEntry> = fc.record({
  id: fc.oneof(fc.uuid(), name(128)),
  timestamp,
  level: fc.integer({ min: 0, max: 7 }) as fc.Arbitrary<LogLevel>,
  daemon: name(255),
  message: fc.oneof(
    anyText,
    fc.string({
      unit: fc.oneof(
        { weight: 10, arbitrary: fc.constant('a') },
        { weight: 1, arbitrary: fc.constantFrom('"', '\\', '\n', '\u0000', 'é', '😀', '\u007f') },
      ),
      minLength: 60,
      maxLength: 300,
    }),
  ),
  fields: fc.dictionary(fieldKey, anyText, { maxKeys: 5 }),
  pid: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 4294967295 })),
  hostname: fc.oneof(fc.constant(null), name(255)),
});

describe('the canonical line, through every reader and writer', () => {
  it('round-trips: writer → scanner (level, id offsets) → leading-id reader → JSON.parse; with the peer suffix; and the client encoder writes the same bytes', () => {
    fc.assert(
      fc.property(entry, fc.oneof(fc.constant(undefined), peer), (e, p) => {
        const text = encodeEntry(e);
        const line = Buffer.from(text);
        // The validating scanner takes it as it is, and finds its level and id.
        const scanned = { level: -1, idStart: 0, idEnd: 0 };
        expect(scanCanonicalEntry(line, scanned)).toBe(true);
        expect(scanned.level).toBe(e.level);
        expect(line.toString('utf8', scanned.idStart, scanned.idEnd)).toBe(e.id);
        expect(readLeadingId(text)).toBe(e.id);
        expect(JSON.parse(text)).toEqual(e);

        // The server's intake closes it with the connection's peer: the writer's bytes for the
        // entry with that peer.
        const context = canonicalContext('other', 'otherhost', p);
        const out = Buffer.alloc(canonicalRoom(line.length, context));
        const result = { level: -1, end: 0, idStart: 0, idEnd: 0 };
        expect(canonicalizeLine(line, context, out, 0, result)).toBe(true);
        const stored = out.toString('utf8', 0, result.end);
        const withPeer: LogEntry = p === undefined ? e : { ...e, peer: p };
        expect(stored).toBe(encodeEntry(withPeer));
        expect(out.toString('utf8', result.idStart, result.idEnd)).toBe(e.id);
        expect(result.level).toBe(e.level);
        expect(readLeadingId(stored)).toBe(e.id);
        expect(JSON.parse(stored)).toEqual(withPeer);

        // The client's byte encoder writes the writer's bytes (its own id and time).
        const encoder = new EntryEncoder(e.daemon, e.hostname ?? 'h', e.pid ?? 1);
        const buf = Buffer.alloc(64 + 6 * line.length + 1024);
        const end = encoder.encodeInto(buf, 0, e.level, e.message, e.fields);
        expect(end).toBeGreaterThan(0);
        const sent = buf.toString('utf8', 0, end);
        const made = JSON.parse(sent) as LogEntry;
        expect(sent).toBe(
          `${encodeEntry({ ...e, id: made.id, timestamp: made.timestamp, pid: e.pid ?? 1, hostname: e.hostname ?? 'h' })}\n`,
        );
        expect(scanCanonicalEntry(Buffer.from(sent.slice(0, -1)), scanned)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('reads the leading id of escaped and odd lines as JSON.parse does, and nothing from other layouts', () => {
    expect(readLeadingId('{"id":"a\\"b\\\\","x":1}')).toBe('a"b\\');
    expect(readLeadingId('{"id":"\\u00e9","x":1}')).toBe('é');
    expect(readLeadingId('{"id":"bad\\x"}')).toBeUndefined();
    expect(readLeadingId('{"id":"unterminated')).toBeUndefined();
    expect(readLeadingId('{ "id":"a"}')).toBeUndefined();
    expect(readLeadingId('{"message":"m","id":"a"}')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeEntryLine, encodeEntry, type LogEntry } from '@logstream/protocol';
import { completeEntry } from './enrich';
import { scanCanonicalEntry as scanInto } from './fast-scan';

/** The scanner's answer as { id, level }, or undefined for the slow path. */
function scanCanonicalEntry(line: Buffer): { id: string; level: number } | undefined {
  const out = { level: 0, idStart: 0, idEnd: 0 };
  if (!scanInto(line, out)) return undefined;
  return { id: line.toString('utf8', out.idStart, out.idEnd), level: out.level };
}

function slowPath(line: Buffer): { id: string; level: number; canonical: boolean } | undefined {
  const decoded = decodeEntryLine(line);
  if (!decoded.ok) return undefined;
  const { entry, canonical } = completeEntry(decoded.entry, { daemon: 'd', hostname: 'h' }, !decoded.levelWasName);
  return { id: entry.id, level: entry.level, canonical };
}

const timestamp = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
const text = fc.string({
  unit: fc.oneof(
    fc.constant('a'),
    fc.constant('"'),
    fc.constant('\\'),
    fc.constant('\n'),
    fc.constant('é'),
    fc.constant('\u0001'),
    fc.constant('😀'),
    fc.constant(' '),
  ),
  maxLength: 20,
});
const entry: fc.Arbitrary<LogEntry> = fc.record({
  id: fc.oneof(fc.uuid(), text, fc.string({ maxLength: 140 })),
  timestamp: fc.oneof(
    timestamp,
    fc.constant('2024-02-30T10:00:00.000Z'),
    fc.constant('2024-01-15T10:30:45Z'),
    fc.constant('2024-01-15T10:30:60.000Z'),
  ),
  level: fc.integer({ min: 0, max: 7 }) as fc.Arbitrary<LogEntry['level']>,
  daemon: fc.oneof(fc.constant('web-server'), text, fc.string({ maxLength: 300 })),
  message: text,
  fields: fc.dictionary(fc.oneof(text, fc.constant('user_id')), text, { maxKeys: 4 }),
  pid: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 2 ** 32 + 5 })),
  hostname: fc.oneof(fc.constant(null), fc.constant('server01'), text),
});

describe('scanCanonicalEntry', () => {
  it('takes the fast path for what the client sends', () => {
    const line = Buffer.from(
      encodeEntry({
        id: '550e8400-e29b-41d4-a716-446655440000',
        timestamp: '2024-01-15T10:30:45.123Z',
        level: 6,
        daemon: 'web-server',
        message: 'Request "processed"\n ünï',
        fields: { user_id: '12345', path: '/a\\b' },
        pid: 1234,
        hostname: 'server01',
      }),
    );
    expect(scanCanonicalEntry(line)).toEqual({ id: '550e8400-e29b-41d4-a716-446655440000', level: 6 });
  });

  it('accepts only what the slow path accepts unchanged, with the same id and level', () => {
    fc.assert(
      fc.property(entry, fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (e, at, byte, mutate) => {
        const bytes = Buffer.from(encodeEntry(e));
        if (mutate && bytes.length > 0) bytes[at % bytes.length] = byte;
        const fast = scanCanonicalEntry(bytes);
        if (fast === undefined) return;
        const slow = slowPath(bytes);
        expect(slow).toBeDefined();
        expect(slow?.canonical).toBe(true);
        expect(slow?.id).toBe(fast.id);
        expect(slow?.level).toBe(fast.level);
      }),
      { numRuns: 20_000 },
    );
  });

  it('takes the fast path for every valid client-shaped entry', () => {
    const clientEntry = entry.filter(
      (e) =>
        /^[ -~]{1,128}$/.test(e.id) &&
        !/["\\]/.test(e.id) &&
        /^[ -~]{1,255}$/.test(e.daemon) &&
        !/["\\]/.test(e.daemon) &&
        (e.hostname === null || (/^[ -~]{1,255}$/.test(e.hostname) && !/["\\]/.test(e.hostname))) &&
        Object.keys(e.fields).every((k) => /^[ -~]{1,255}$/.test(k) && !/["\\]/.test(k)) &&
        (e.pid === null || e.pid <= 4294967295) &&
        !Number.isNaN(Date.parse(e.timestamp)) &&
        e.timestamp.endsWith('Z') &&
        e.timestamp.length === 24 &&
        new Date(e.timestamp).toISOString() === e.timestamp,
    );
    fc.assert(
      fc.property(clientEntry, (e) => {
        expect(scanCanonicalEntry(Buffer.from(encodeEntry(e)))).toEqual({ id: e.id, level: e.level });
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses invalid UTF-8 and leaves it to the slow path', () => {
    const line = Buffer.from(
      encodeEntry({
        id: 'x',
        timestamp: '2024-01-15T10:30:45.123Z',
        level: 6,
        daemon: 'd',
        message: 'AB',
        fields: {},
        pid: null,
        hostname: null,
      }),
    );
    const at = line.indexOf('AB');
    line[at] = 0xff;
    expect(scanCanonicalEntry(line)).toBeUndefined();
  });
});

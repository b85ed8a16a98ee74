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

/** What the slow path makes of a line: its id, level and the canonical bytes it stores. */
function slowPath(line: Buffer): { id: string; level: number; stored: Buffer } | undefined {
  const decoded = decodeEntryLine(line);
  if (!decoded.ok) return undefined;
  const { entry } = completeEntry(decoded.entry, { daemon: 'd', hostname: 'h' });
  return { id: entry.id, level: entry.level, stored: Buffer.from(encodeEntry(entry)) };
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

  it('leaves to the slow path every escape JSON.stringify would not write (so what it keeps is canonical)', () => {
    const base = encodeEntry({
      id: '550e8400-e29b-41d4-a716-446655440000',
      timestamp: '2024-01-15T10:30:45.123Z',
      level: 6,
      daemon: 'd',
      message: 'MSG',
      fields: {},
      pid: null,
      hostname: 'h',
    });
    const fast = (message: string) => scanCanonicalEntry(Buffer.from(base.replace('MSG', message))) !== undefined;
    for (const escape of ['\\u1001', '\\/', '\\u001F', '\\u000a', '\\u0009', '\\ud83d\\ude00']) expect(fast(escape), escape).toBe(false);
    for (const escape of ['\\u001f', '\\u0001', '\\n', '\\"', '\\\\']) expect(fast(escape), escape).toBe(true);
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
        // The bytes kept as they are are exactly what the slow path would store.
        expect(slow?.stored.equals(bytes)).toBe(true);
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

  it('never takes a line with a key twice: it goes to the slow path, which stores each key once', () => {
    const base = {
      id: 'x',
      timestamp: '2024-01-15T10:30:45.123Z',
      level: 6 as const,
      daemon: 'd',
      message: 'm',
      fields: { a: '1', b: '2' },
      pid: null,
      hostname: null,
    };
    const canonical = encodeEntry(base);
    const twice = [
      canonical.replace('"fields":{"a":"1","b":"2"}', '"fields":{"a":"1","b":"2","a":"3"}'),
      canonical.replace('"fields":{"a":"1","b":"2"}', '"fields":{"a":"1","a":"1"}'),
      canonical.replace('"level":6,', '"level":0,"level":6,'),
      canonical.slice(0, -1) + ',"level":0}',
      canonical.slice(0, -1) + ',"message":"other"}',
    ];
    for (const text of twice) {
      const line = Buffer.from(text);
      expect(scanCanonicalEntry(line)).toBeUndefined();
      const slow = slowPath(line);
      if (slow === undefined) continue;
      const stored = slow.stored.toString();
      expect(stored).not.toBe(text);
      expect(JSON.parse(stored)).toEqual(JSON.parse(text));
    }
  });

  it('never takes a line with a duplicate field key, wherever it is (property)', () => {
    const key = fc.constantFrom('a', 'b', 'user_id', 'k', 'ab');
    fc.assert(
      fc.property(fc.array(fc.tuple(key, text), { minLength: 2, maxLength: 40 }), (pairs) => {
        const fieldsText = pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',');
        const line = Buffer.from(
          `{"id":"x","timestamp":"2024-01-15T10:30:45.123Z","level":6,"daemon":"d","message":"m","fields":{${fieldsText}},"pid":null,"hostname":null}`,
        );
        const fast = scanCanonicalEntry(line);
        const keys = pairs.map(([k]) => k);
        if (new Set(keys).size !== keys.length || keys.length > 32) expect(fast).toBeUndefined();
        if (fast !== undefined) expect(slowPath(line)?.stored.equals(line)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('leaves an entry of more than 32 fields to the slow path', () => {
    const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    const line = (n: number) =>
      Buffer.from(
        encodeEntry({
          id: 'x',
          timestamp: '2024-01-15T10:30:45.123Z',
          level: 6,
          daemon: 'd',
          message: 'm',
          fields: fields(n),
          pid: 1,
          hostname: 'h',
        }),
      );
    expect(scanCanonicalEntry(line(32))).toEqual({ id: 'x', level: 6 });
    expect(scanCanonicalEntry(line(33))).toBeUndefined();
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

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  canonicalContext,
  canonicalRoom,
  canonicalizeLine,
  decodeEntryLine,
  encodeEntry,
  scanCanonicalEntry as scanInto,
  type LogEntry,
  type PeerIdentity,
} from '@logstream/protocol';
import { completeEntry } from './enrich';

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

// ------------------------------------------------------------------------------------------
// The intake's fast path (canonicalizeLine) against the slow path it replaces.

const FILL_ID = '00000000-0000-4000-8000-000000000001';
const FILL_TS = '2030-06-01T12:00:00.000Z';
const fill = { id: () => FILL_ID, timestamp: () => FILL_TS };

/**
 * What the slow path stored before: JSON.parse, check, complete (with the same id and time
 * filled in), then the canonical encoding with the connection's peer last.
 */
function oldSlowPath(line: Buffer, daemon: string, hostname: string, peer: PeerIdentity | null): Buffer | undefined {
  const decoded = decodeEntryLine(line);
  if (!decoded.ok) return undefined;
  const input = { ...decoded.entry };
  input.id ??= FILL_ID;
  input.timestamp ??= FILL_TS;
  const { entry } = completeEntry(input, { daemon, hostname });
  return Buffer.from(encodeEntry({ ...entry, peer }));
}

/** What the new fast path stores for `line`, or undefined when it leaves the line to the slow path. */
function fastPath(
  line: Buffer,
  daemon: string,
  hostname: string,
  peer: PeerIdentity | null,
): { bytes: Buffer; id: string; level: number } | undefined {
  const context = canonicalContext(daemon, hostname, peer, fill);
  // Garbage around the room: the path must write only inside [at, end).
  const at = 7;
  const out = Buffer.alloc(at + canonicalRoom(line.length, context), 0xee);
  const result = { level: -1, end: 0, idStart: 0, idEnd: 0 };
  if (!canonicalizeLine(line, context, out, at, result)) return undefined;
  return { bytes: out.subarray(at, result.end), id: out.toString('utf8', result.idStart, result.idEnd), level: result.level };
}

const peers: fc.Arbitrary<PeerIdentity | null> = fc.oneof(
  fc.constant(null),
  fc.record(
    { pid: fc.nat(), uid: fc.nat(), gid: fc.nat(), comm: fc.string(), exe: fc.string(), unit: fc.constantFrom('a.service', 'x "y".scope') },
    { requiredKeys: ['pid', 'uid', 'gid'] },
  ),
);
const ws = fc.constantFrom('', '', '', ' ', '  ', '\t', ' \r ');
const levelText = fc.oneof(
  fc.integer({ min: 0, max: 7 }).map(String),
  fc.constantFrom(
    '"info"',
    '"WARN"',
    '"Err"',
    '"debug"',
    '"informational"',
    '"panic"',
    '"crit"',
    '"notice"',
    '"verbose"',
    '6.0',
    '8',
    '-1',
    '1e0',
    '"6"',
  ),
);
// Long enough for the word-at-a-time string check (past its first 64 bytes), with every kind of byte.
const longText = fc.string({
  unit: fc.oneof(
    { weight: 20, arbitrary: fc.constant('a') },
    { weight: 1, arbitrary: fc.constantFrom('"', '\\', '\n', 'é', '\u0001', '\u001f', '\u007f', '😀', ' ', '\u2028') },
  ),
  minLength: 60,
  maxLength: 400,
});
const fieldKey = fc.oneof(fc.constantFrom('user_id', 'a', 'b', '0', '12', '01', '__proto__', 'x y', 'é'), text);

/** One line: some of the entry's keys (message always), in any order, with any spacing. */
const anyShape = fc
  .record({
    e: entry,
    keep: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    order: fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
    spaces: fc.array(ws, { minLength: 60, maxLength: 60 }),
    level: levelText,
    fields: fc.array(fc.tuple(fieldKey, fc.oneof(text, longText)), { maxLength: 5 }),
    long: fc.option(longText, { nil: undefined }),
    clientPeer: fc.oneof(fc.constant(undefined), fc.constant('{"pid":1,"uid":0,"gid":0}'), fc.constant('"root"')),
  })
  .map(({ e, keep, order, spaces, level, fields, long, clientPeer }) => {
    let s = 0;
    const sp = () => spaces[s++ % spaces.length] as string;
    const parts: [string, string][] = [];
    const add = (key: string, value: string, i: number) => {
      if (key === 'message' || keep[i]) parts.push([key, value]);
    };
    add('id', JSON.stringify(e.id), 0);
    add('timestamp', JSON.stringify(e.timestamp), 1);
    add('level', level, 2);
    add('daemon', JSON.stringify(e.daemon), 3);
    add('message', JSON.stringify(long ?? e.message), 4);
    add(
      'fields',
      `{${sp()}${fields.map(([k, v]) => `${JSON.stringify(k)}${sp()}:${sp()}${JSON.stringify(v)}`).join(`${sp()},${sp()}`)}${sp()}}`,
      5,
    );
    add('pid', JSON.stringify(e.pid), 6);
    add('hostname', JSON.stringify(e.hostname), 7);
    if (clientPeer !== undefined) parts.push(['peer', clientPeer]);
    // A permutation from the random keys (stable for equal ones).
    const ordered = parts
      .map((p, i) => ({ p, k: order[i] ?? 0 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.p);
    return `${sp()}{${sp()}${ordered.map(([k, v]) => `"${k}"${sp()}:${sp()}${v}`).join(`${sp()},${sp()}`)}${sp()}}${sp()}`;
  });

describe('canonicalizeLine (the intake fast path)', () => {
  it('stores every line in any key order and any subset of keys byte for byte as the slow path did', () => {
    let fast = 0;
    fc.assert(
      fc.property(anyShape, fc.constantFrom('web', 'd "q"'), fc.constantFrom('host01', 'h'), peers, (text, daemon, hostname, peer) => {
        const line = Buffer.from(text);
        const slow = oldSlowPath(line, daemon, hostname, peer);
        const got = fastPath(line, daemon, hostname, peer);
        if (got === undefined) return;
        fast++;
        expect(slow, text).toBeDefined();
        expect(got.bytes.toString(), text).toBe(slow?.toString());
        const stored = JSON.parse(got.bytes.toString()) as LogEntry;
        expect(got.id).toBe(stored.id);
        expect(got.level).toBe(stored.level);
        // The server's word on the sender, never the client's.
        expect(stored.peer).toEqual(peer);
      }),
      { numRuns: 30_000 },
    );
    // Most shapes take the fast path (the property would hold vacuously otherwise).
    expect(fast).toBeGreaterThan(1000);
  });

  it('stores a mutated line only as the slow path would (otherwise leaves it to the slow path)', () => {
    fc.assert(
      fc.property(anyShape, fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 255 }), peers, (text, at, byte, peer) => {
        const line = Buffer.from(text);
        if (line.length > 0) line[at % line.length] = byte;
        const got = fastPath(line, 'd', 'h', peer);
        if (got === undefined) return;
        expect(got.bytes.equals(oldSlowPath(line, 'd', 'h', peer) ?? Buffer.alloc(0)), line.toString()).toBe(true);
      }),
      { numRuns: 30_000 },
    );
  });

  it('takes partial lines, other key orders, spaced JSON and level names', () => {
    const peer = { pid: 42, uid: 1000, gid: 1000, comm: 'sh' };
    for (const text of [
      '{"message":"hello","level":"info"}',
      '{"level":3,"message":"boom"}',
      '{ "message": "spaced", "fields": { "a": "1" } }',
      '{"hostname":"h2","message":"m","pid":7,"daemon":"x","id":"abc","timestamp":"2024-01-15T10:30:45.123Z","fields":{},"level":2}',
    ]) {
      const got = fastPath(Buffer.from(text), 'web', 'host01', peer);
      expect(got, text).toBeDefined();
      expect(got?.bytes.toString()).toBe(oldSlowPath(Buffer.from(text), 'web', 'host01', peer)?.toString());
    }
    expect(fastPath(Buffer.from('{"message":"m"}'), 'web', 'host01', null)?.bytes.toString()).toBe(
      `{"id":"${FILL_ID}","timestamp":"${FILL_TS}","level":6,"daemon":"web","message":"m","fields":{},"pid":null,"hostname":"host01","peer":null}`,
    );
  });

  it('leaves a client-sent peer to the slow path, which drops it', () => {
    const text = '{"message":"m","peer":{"pid":1,"uid":0,"gid":0,"comm":"init"}}';
    expect(fastPath(Buffer.from(text), 'd', 'h', null)).toBeUndefined();
    const stored = JSON.parse(oldSlowPath(Buffer.from(text), 'd', 'h', { pid: 9, uid: 9, gid: 9 })?.toString() ?? '') as LogEntry;
    expect(stored.peer).toEqual({ pid: 9, uid: 9, gid: 9 });
  });

  it('generates a fresh UUID and the current time for a partial line', () => {
    const context = canonicalContext('web', 'h', null);
    const out = Buffer.alloc(canonicalRoom(20, context));
    const result = { level: 0, end: 0, idStart: 0, idEnd: 0 };
    expect(canonicalizeLine(Buffer.from('{"message":"m"}'), context, out, 0, result)).toBe(true);
    const stored = JSON.parse(out.toString('utf8', 0, result.end)) as LogEntry;
    expect(stored.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(out.toString('utf8', result.idStart, result.idEnd)).toBe(stored.id);
    expect(Math.abs(Date.parse(stored.timestamp) - Date.now())).toBeLessThan(60_000);
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as v from 'valibot';
import { LogEntryInputSchema, checkEntryInput, isTimestamp } from './entry';
import { encodeEntry } from './canonical-line';
import { decodeEntryLine } from './ndjson';
import { levelName, parseLogLevel } from './level';
import { encodeAck, encodeError, encodeReady, parseServerFrame, checkDaemonName } from './frames';
import { LogStreamError } from './errors';

describe('levels', () => {
  it('parses numbers and names, case-insensitively, with the usual aliases', () => {
    expect(parseLogLevel(0)).toBe(0);
    expect(parseLogLevel(7)).toBe(7);
    expect(parseLogLevel(8)).toBeUndefined();
    expect(parseLogLevel(1.5)).toBeUndefined();
    expect(parseLogLevel('WARNING')).toBe(4);
    expect(parseLogLevel('warn')).toBe(4);
    expect(parseLogLevel('emerg')).toBe(0);
    expect(parseLogLevel('6')).toBeUndefined();
    expect(levelName(3)).toBe('error');
  });
});

describe('checkEntryInput', () => {
  it('accepts a minimal entry and normalises a level name', () => {
    expect(checkEntryInput({ message: 'hi' })).toEqual({ ok: true, entry: { message: 'hi' } });
    expect(checkEntryInput({ message: 'hi', level: 'err' })).toEqual({ ok: true, entry: { message: 'hi', level: 3 } });
  });

  it('names the key and what was expected', () => {
    const cases: [unknown, string][] = [
      [{ message: 1 }, 'message: expected a string'],
      [{ message: 'a', level: 9 }, 'level: expected a level 0-7'],
      [{ message: 'a', fields: { user: 5 } }, 'fields.user: expected a string value'],
      [{ message: 'a', test: 1 }, 'test: unknown key'],
      [{ message: 'a', timestamp: 'yesterday' }, 'timestamp: expected an RFC 3339 timestamp'],
      [{ message: 'a', pid: -1 }, 'pid:'],
      [[1, 2], '0: unknown key'],
      [{ level: 1 }, 'message: Invalid key'],
    ];
    for (const [input, text] of cases) {
      const r = checkEntryInput(input);
      expect(r.ok, JSON.stringify(input)).toBe(false);
      if (!r.ok) expect(r.message).toContain(text);
    }
  });

  it('agrees with the valibot schema on arbitrary values', () => {
    const entryish = fc.record(
      {
        id: fc.oneof(fc.string({ maxLength: 140 }), fc.integer()),
        timestamp: fc.oneof(fc.constant('2024-01-15T10:30:45.123Z'), fc.string(), fc.constant('2024-02-30T10:30:45Z')),
        level: fc.oneof(fc.integer({ min: -2, max: 10 }), fc.constantFrom('info', 'warn', 'nope'), fc.double()),
        daemon: fc.oneof(fc.string({ maxLength: 300 }), fc.constant(null)),
        message: fc.oneof(fc.string(), fc.integer()),
        fields: fc.oneof(fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer())), fc.constant(null)),
        pid: fc.oneof(fc.integer({ min: -5, max: 2 ** 33 }), fc.constant(null), fc.double()),
        hostname: fc.oneof(fc.string({ maxLength: 300 }), fc.constant(null)),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(entryish, (value) => {
        const viaSchema = v.safeParse(LogEntryInputSchema, structuredClone(value)).success;
        expect(checkEntryInput(structuredClone(value)).ok).toBe(viaSchema);
      }),
      { numRuns: 2000 },
    );
  });

  it('checks timestamps as real RFC 3339 instants', () => {
    expect(isTimestamp('2024-01-15T10:30:45.123Z')).toBe(true);
    expect(isTimestamp('2024-01-15T10:30:45+02:00')).toBe(true);
    expect(isTimestamp('2024-01-15 10:30:45Z')).toBe(false);
    expect(isTimestamp('2024-01-15T10:30:45')).toBe(false);
  });
});

describe('encoding', () => {
  it('encodes entries in the canonical key order and round-trips them', () => {
    const entry = {
      hostname: 'h',
      pid: 1,
      fields: { a: 'b"\n' },
      message: 'm',
      daemon: 'd',
      level: 6 as const,
      timestamp: '2024-01-15T10:30:45.123Z',
      id: 'x',
    };
    const line = encodeEntry(entry);
    expect(Object.keys(JSON.parse(line) as object)).toEqual(['id', 'timestamp', 'level', 'daemon', 'message', 'fields', 'pid', 'hostname']);
    const back = decodeEntryLine(line);
    expect(back.ok && back.entry).toEqual(entry);
    const limit = Error.stackTraceLimit;
    expect(decodeEntryLine('{nope')).toEqual({ ok: false, code: 'INVALID_JSON', message: expect.stringMatching(/^invalid JSON: .*JSON/) });
    // A refused line leaves Error.stackTraceLimit as it found it.
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it('encodes and parses frames', () => {
    expect(parseServerFrame(encodeReady(100).trim())).toEqual({ type: 'ready', version: 1, max_line_bytes: 100 });
    expect(parseServerFrame(encodeAck(42).trim())).toEqual({ type: 'ack', seq: 42 });
    const err = parseServerFrame(encodeError({ kind: 'serde', code: 'INVALID_JSON', message: 'bad', seq: 3 }).trim());
    expect(err).toEqual({ type: 'error', kind: 'serde', code: 'INVALID_JSON', message: 'bad', seq: 3 });
    expect(parseServerFrame('garbage')).toBeUndefined();
    expect(checkDaemonName('web-server')).toBeUndefined();
    expect(checkDaemonName('{x')).toBeDefined();
    expect(checkDaemonName('')).toBeDefined();
  });

  it('recognises LogStreamError across copies by its marker', () => {
    const e = new LogStreamError('config', 'x', { code: 'CONFIG' });
    expect(LogStreamError.is(e)).toBe(true);
    expect(LogStreamError.is(new Error('x'))).toBe(false);
    expect(e.kind).toBe('config');
  });
});

describe('EntryBatch.ndjson', () => {
  it('joins lines with newlines whether or not they lie back to back in one chunk', async () => {
    const { EntryBatch } = await import('./batch');
    const chunk = Buffer.from('{"a":1}\n{"b":2}\r\n{"c":3}\n{"d":4}X{"e":5}\n');
    const views = [chunk.subarray(0, 7), chunk.subarray(8, 15), chunk.subarray(17, 24), chunk.subarray(25, 32), chunk.subarray(33, 40)];
    const other = Buffer.from('{"f":6}');
    const batch = new EntryBatch([...views, other], [6, 6, 6, 6, 6, 6]);
    expect(batch.ndjson().toString()).toBe('{"a":1}\n{"b":2}\n{"c":3}\n{"d":4}\n{"e":5}\n{"f":6}\n');
    expect(batch.byteLength).toBe(batch.ndjson().length);
  });

  it('from NDJSON runs: hands over a single run as it is, joins several, and cuts lines across them', async () => {
    const { EntryBatch } = await import('./batch');
    const arena = Buffer.from('{"a":1}\n{"bb":2}\n{"c":3}\n');
    const one = EntryBatch.fromNdjson([arena.subarray(0, 17)], [7, 16], [6, 3]);
    expect(one.ndjson().buffer).toBe(arena.buffer);
    expect(one.ndjson().toString()).toBe('{"a":1}\n{"bb":2}\n');
    expect(one.lines.map(String)).toEqual(['{"a":1}', '{"bb":2}']);
    expect(one.byteLength).toBe(17);
    const next = Buffer.from('{"d":4}\n');
    const two = EntryBatch.fromNdjson([arena.subarray(8), next], [8, 16, 24], [6, 6, 2]);
    expect(two.lines.map(String)).toEqual(['{"bb":2}', '{"c":3}', '{"d":4}']);
    expect(two.ndjson().toString()).toBe('{"bb":2}\n{"c":3}\n{"d":4}\n');
    expect(two.byteLength).toBe(25);
    expect(two.filter(2).lines.map(String)).toEqual(['{"d":4}']);
    expect(two.entries().map((e) => Object.keys(e)[0])).toEqual(['bb', 'c', 'd']);
  });
});

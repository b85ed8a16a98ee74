import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeEntry, type LogLevel } from '@logstream/protocol';
import { EntryEncoder, fieldText } from './entry-encoder';
import { EntryPages } from './entry-pages';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const text = fc.string({
  unit: fc.oneof(
    fc.constantFrom('a', 'Z', ' ', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', 'é', '€', '😀', '\ud800', '\udfff', '\u2028'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 30,
});
const fieldValue = fc.oneof(
  text,
  fc.integer(),
  fc.boolean(),
  fc.constant(undefined),
  fc.constant(null),
  fc.dictionary(text, text, { maxKeys: 2 }),
);
const entryArgs = fc.record({
  level: fc.integer({ min: 0, max: 7 }) as fc.Arbitrary<LogLevel>,
  message: text,
  fields: fc.option(fc.dictionary(text, fieldValue, { maxKeys: 4 }), { nil: undefined }),
  daemon: fc.oneof(
    fc.constant('web-server'),
    text.filter((s) => s.length > 0),
  ),
  hostname: fc.oneof(fc.constant('server01'), text),
});

/** The protocol's canonical line for what `encodeInto` was given, with the id and time it chose. */
function expectedLine(
  line: string,
  a: { level: LogLevel; message: string; fields?: Record<string, unknown>; daemon: string; hostname: string },
): string {
  const parsed = JSON.parse(line) as { id: string; timestamp: string };
  // fromEntries defines own properties, "__proto__" included (as JSON.parse does).
  const fields = Object.fromEntries(Object.entries(a.fields ?? {}).map(([k, v]) => [k, fieldText(v)])) as Record<string, string>;
  return `${encodeEntry({ id: parsed.id, timestamp: parsed.timestamp, level: a.level, daemon: a.daemon, message: a.message, fields, pid: 4242, hostname: a.hostname })}\n`;
}

describe('EntryEncoder', () => {
  it('writes the protocol canonical line, byte for byte, with a fresh v4 id and the current time', () => {
    fc.assert(
      fc.property(entryArgs, (a) => {
        const encoder = new EntryEncoder(a.daemon, a.hostname, 4242);
        const buf = Buffer.alloc(64 * 1024, 0xee);
        const before = Date.now();
        const end = encoder.encodeInto(buf, 7, a.level, a.message, a.fields);
        const after = Date.now();
        expect(end).toBeGreaterThan(7);
        expect(buf.subarray(0, 7).every((b) => b === 0xee)).toBe(true);
        expect(buf[end]).toBe(0xee);
        const line = buf.toString('utf8', 7, end);
        expect(line).toBe(expectedLine(line, a));
        const { id, timestamp } = JSON.parse(line) as { id: string; timestamp: string };
        expect(id).toMatch(UUID_V4);
        expect(Date.parse(timestamp)).toBeGreaterThanOrEqual(before);
        expect(Date.parse(timestamp)).toBeLessThanOrEqual(after);
        // The string form is the same line (for entries waiting for room).
        const asString = encoder.encodeLine(a.level, a.message, a.fields);
        expect(asString).toBe(expectedLine(asString, a));
      }),
      { numRuns: 500 },
    );
  });

  it('answers -1 instead of writing past the end of a buffer that is too small', () => {
    fc.assert(
      fc.property(entryArgs, fc.integer({ min: 0, max: 600 }), (a, size) => {
        const encoder = new EntryEncoder(a.daemon, a.hostname, 4242);
        const backing = Buffer.alloc(size + 16, 0xee);
        const buf = backing.subarray(0, size);
        const end = encoder.encodeInto(buf, 0, a.level, a.message, a.fields);
        expect(backing.subarray(size).every((b) => b === 0xee)).toBe(true);
        if (end >= 0) {
          const line = buf.toString('utf8', 0, end);
          expect(line).toBe(expectedLine(line, a));
        }
      }),
      { numRuns: 500 },
    );
    // Strings that grow the most when escaped, at every buffer size around their length.
    const encoder = new EntryEncoder('d', 'h', 4242);
    for (const worst of ['\u0001'.repeat(40), '\ud800'.repeat(40), '😀'.repeat(20), '"\\'.repeat(20)]) {
      const a = { level: 2 as LogLevel, message: worst, fields: { [worst]: worst }, daemon: 'd', hostname: 'h' };
      const full = Buffer.byteLength(encoder.encodeLine(2, worst, a.fields));
      for (let size = 0; size <= full + 8; size++) {
        const backing = Buffer.alloc(size + 16, 0xee);
        const end = encoder.encodeInto(backing.subarray(0, size), 0, 2, worst, a.fields);
        expect(backing.subarray(size).every((b) => b === 0xee)).toBe(true);
        if (end >= 0) expect(backing.toString('utf8', 0, end)).toBe(expectedLine(backing.toString('utf8', 0, end), a));
        if (size >= full + 6 * 3 * worst.length) expect(end).toBeGreaterThan(0);
      }
    }
  });

  it('writes an own "__proto__" field like any other', () => {
    const fields = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, unknown>;
    const encoder = new EntryEncoder('d', 'h', 1);
    const buf = Buffer.alloc(512);
    const line = buf.toString('utf8', 0, encoder.encodeInto(buf, 0, 6, 'm', fields));
    expect(line).toContain('"fields":{"__proto__":"x","a":"b"}');
    expect(encoder.encodeLine(6, 'm', fields)).toContain('"fields":{"__proto__":"x","a":"b"}');
  });

  it('never repeats an id', () => {
    const encoder = new EntryEncoder('d');
    const buf = Buffer.alloc(512);
    const ids = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      encoder.encodeInto(buf, 0, 6, 'm', undefined);
      ids.add(buf.toString('latin1', 7, 43));
    }
    expect(ids.size).toBe(100_000);
  });

  it('turns any field value into text without throwing', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    expect(fieldText(circular)).toContain('[Circular');
    expect(fieldText({ n: 10n })).toContain('10n');
    expect(fieldText({ toJSON: () => undefined })).toBe('');
    expect(fieldText(null)).toBe('null');
    expect(fieldText(12.5)).toBe('12.5');
    expect(fieldText([1, 'x'])).toBe('[1,"x"]');
    expect(fieldText(function named() {})).toBe('[function named]');
    expect(fieldText(Symbol('s'))).toBe('Symbol(s)');
  });
});

describe('EntryPages.appendEntry', () => {
  it('holds entries of any size, each exactly as encoded, in order', () => {
    const encoder = new EntryEncoder('d', 'h', 1);
    const pages = new EntryPages();
    const messages = ['small', 'x'.repeat(200_000), 'é'.repeat(600_000), 'tail', '\u0001'.repeat(300_000), 'y'.repeat(2_000_000)];
    for (let round = 0; round < 3; round++) for (const m of messages) pages.appendEntry(encoder, 3, m, { k: m.slice(0, 3) });
    const sent = [];
    for (let chunk; (chunk = pages.nextChunk()) !== undefined;) sent.push(chunk);
    const lines = Buffer.concat(sent).toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual([...messages, ...messages, ...messages]);
  });
});

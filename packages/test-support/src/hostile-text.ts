// Text that attacks a log line: the generators the escaping property tests share, a sample
// entry, and the reading back of a syslog-format line.
import fc from 'fast-check';
import { expect } from 'vitest';

/** The fields of a stored entry the generators fill (structurally a `LogEntry` of @logstream/protocol). */
export interface SampleEntry {
  id: string;
  timestamp: string;
  level: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;
  daemon: string;
  message: string;
  fields: Record<string, string>;
  pid: number | null;
  hostname: string | null;
}

/** An INFO entry of `web-server` on `server01`, with `over` on top. */
export function sampleEntry(over: Partial<SampleEntry> = {}): SampleEntry {
  return {
    id: '550e8400-e29b-41d4-a716-446655440000',
    timestamp: '2024-01-15T10:30:45.123Z',
    level: 6,
    daemon: 'web-server',
    message: 'Request processed',
    fields: { user_id: '12345' },
    pid: 1234,
    hostname: 'server01',
    ...over,
  };
}

/**
 * Characters that move a terminal's cursor, end a line or reorder text (C0, DEL, C1, bidi
 * controls, line and paragraph separators, lone surrogates), the ones that carry a line's
 * structure or could make an escape ambiguous (quotes, `=`, brackets, `: `, `#` before octal
 * digits), and other text an output format must carry through (wide spaces, non-ASCII letters,
 * an astral character).
 */
export const HOSTILE_PIECES: readonly string[] = [
  ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)),
  '\u007f',
  ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(0x80 + i)),
  '\u061c',
  '\u200e',
  '\u200f',
  '\u2028',
  '\u2029',
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u00a0',
  '\u3000',
  '\ufeff',
  '\ud800',
  '\udc00',
  '\ud83c\udf89',
  'é',
  '日本',
  '#',
  '#0',
  '#012',
  '0',
  '7',
  '8',
  '\\',
  '\\n',
  '"',
  '=',
  ' ',
  '[',
  ']',
  ':',
  ': ',
  'sshd[1]: ',
];

/** Strings of up to `maxLength` pieces: {@link HOSTILE_PIECES} mixed with any other code point. */
export function hostileString(maxLength = 40): fc.Arbitrary<string> {
  return fc.string({
    unit: fc.oneof(fc.constantFrom(...HOSTILE_PIECES), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
    maxLength,
  });
}

/** Entries whose every text field is a {@link hostileString}, with one of `timestamps`. */
export function hostileEntry(
  timestamps: readonly string[] = ['2024-01-15T10:30:45.123Z', '2016-12-31T23:59:60.5+02:00'],
): fc.Arbitrary<SampleEntry> {
  return fc.record({
    id: fc.uuid(),
    timestamp: fc.constantFrom(...timestamps),
    level: fc.constantFrom<SampleEntry['level'][]>(0, 1, 2, 3, 4, 5, 6, 7),
    daemon: hostileString(),
    message: hostileString(),
    fields: fc.dictionary(hostileString(10), hostileString(), { maxKeys: 4 }),
    pid: fc.option(fc.nat()),
    hostname: fc.option(hostileString()),
  });
}

/** What no line a terminal shows may hold: C0, DEL, C1, bidi controls, line and paragraph separators. */
// eslint-disable-next-line no-control-regex
export const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/**
 * Asserts that `line` is one line a terminal shows as it is: written with its newline, that is
 * the only line break, and it holds no C0 control, DEL, C1, bidi control or line separator.
 */
export function expectOneSafeLine(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  expect(bytes.indexOf(0x0a)).toBe(bytes.length - 1);
  expect(bytes.findIndex((b, i) => b < 0x20 && i < bytes.length - 1)).toBe(-1);
  expect(bytes.includes(0x7f)).toBe(false);
  expect(TERMINAL_UNSAFE.test(bytes.toString('utf8').slice(0, -1))).toBe(false);
}

/** What any reader of a syslog-format line sees: each `#ooo` back to its byte, then UTF-8. */
export function decodeSyslogLine(line: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < line.length;) {
    const digits = line.slice(i + 1, i + 4);
    if (line[i] === '#' && /^[0-7]{3}$/.test(digits)) {
      bytes.push(parseInt(digits, 8));
      i += 4;
      continue;
    }
    const ch = String.fromCodePoint(line.codePointAt(i) as number);
    bytes.push(...Buffer.from(ch));
    i += ch.length;
  }
  return Buffer.from(bytes).toString('utf8');
}

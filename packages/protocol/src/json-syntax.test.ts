import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsonSyntaxError } from './json-syntax';

/** What JSON.parse says of the bytes' UTF-8 text. */
function parses(bytes: Uint8Array): boolean {
  try {
    JSON.parse(Buffer.from(bytes).toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

const tokens = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"',
  '\\',
  ' ',
  '\t',
  '\r',
  '0',
  '-',
  '1',
  '.',
  'e',
  'E',
  '+',
  'true',
  'false',
  'null',
  'u',
  'a',
  'é',
  '\u0001',
  '"k"',
  '\\u00',
  'g',
  'F',
  'G',
  'f',
];
/** JSON texts, then bytes changed, inserted or cut at random places. */
const mutated = fc
  .tuple(
    fc.json({ maxDepth: 4 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 3 }), fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 2 }))), {
      maxLength: 3,
    }),
  )
  .map(([text, edits]) => {
    let s = text;
    for (const [at, kind, what] of edits) {
      const k = s.length === 0 ? 0 : at % (s.length + 1);
      if (kind === 0) s = s.slice(0, k) + what + s.slice(k);
      else if (kind === 1) s = s.slice(0, k) + what + s.slice(k + 1);
      else if (kind === 2) s = s.slice(0, k) + s.slice(k + 1);
      else s = s.slice(0, k);
    }
    return Buffer.from(s, 'utf8');
  });

describe('jsonSyntaxError', () => {
  it('accepts exactly what JSON.parse accepts: JSON texts, edited at random', () => {
    fc.assert(
      fc.property(mutated, (bytes) => {
        expect(jsonSyntaxError(bytes) === undefined).toBe(parses(bytes));
      }),
      { numRuns: 20_000 },
    );
  });

  it('accepts exactly what JSON.parse accepts: random bytes, invalid UTF-8 included', () => {
    const byte = fc.oneof(fc.constantFrom(...Buffer.from('{}[],:"\\ 0123456789-+.eEtruefalsn')), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 24 }), (arr) => {
        const bytes = Uint8Array.from(arr);
        expect(jsonSyntaxError(bytes) === undefined).toBe(parses(bytes));
        // Inside a string, any byte JSON allows there.
        const inString = Uint8Array.from([0x22, ...arr.filter((b) => b !== 0x22 && b !== 0x5c), 0x22]);
        expect(jsonSyntaxError(inString) === undefined).toBe(parses(inString));
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with JSON.parse on every byte in every place of an escape and a number', () => {
    const shapes = [
      '"\\u00X1"',
      '"\\u0X01"',
      '"\\uX001"',
      '"\\u000X"',
      '"\\X"',
      '"aXb"',
      '[1X]',
      '[X1]',
      '[-X]',
      '[1.X]',
      '[1eX]',
      '[1e+X]',
      '{"a"X1}',
      '{X}',
      'tXue',
    ];
    for (const shape of shapes) {
      for (let b = 0; b < 256; b++) {
        const bytes = Buffer.from(shape, 'latin1');
        bytes[shape.indexOf('X')] = b;
        expect([shape, b, jsonSyntaxError(bytes) === undefined]).toEqual([shape, b, parses(bytes)]);
      }
    }
  });

  it('words where and why, with the byte offset', () => {
    const check = (text: string) => jsonSyntaxError(Buffer.from(text));
    expect(check('{"message": oops}')).toBe("unexpected 'o' at byte 12");
    expect(check('{"message":"x"')).toBe('unexpected end of line at byte 14');
    expect(check('{"message":"x"} trailing')).toBe('unexpected data after the value at byte 16');
    expect(check('{message:1}')).toBe('expected a property name in double quotes at byte 1');
    expect(check('{"a" 1}')).toBe("expected ':' after a property name at byte 5");
    expect(check('{"a":"\\q"}')).toBe('bad escape in a string at byte 6');
    expect(check('{"a":"x\u0001"}')).toBe('control character in a string at byte 7');
    expect(check('{"a":"x')).toBe('unterminated string at byte 5');
    expect(check('\u00e9')).toBe('unexpected byte 0xc3 at byte 0');
    expect(check('')).toBe('unexpected end of line at byte 0');
    expect(check(' {"a":[1,-0.5e+3,true,false,null,{}],"b":"\\u00e9\\n"} ')).toBeUndefined();
  });

  it('handles nesting as deep as a line allows', () => {
    const deep = Buffer.from(`${'['.repeat(40_000)}1${']'.repeat(40_000)}`);
    expect(jsonSyntaxError(deep)).toBeUndefined();
    expect(jsonSyntaxError(deep.subarray(0, deep.length - 1))).toBe(`unexpected end of line at byte ${deep.length - 1}`);
    expect(jsonSyntaxError(Buffer.from(`${'{"a":'.repeat(10_000)}1${'}'.repeat(9_999)}]`))).toBe(
      `unexpected ']' at byte ${10_000 * 5 + 1 + 9_999}`,
    );
  });
});

/**
 * Checks that bytes are one JSON text without decoding them: no string is built and nothing is
 * thrown, so a line of garbage is refused for a fraction of what `JSON.parse` and its
 * SyntaxError cost. It accepts exactly what `JSON.parse(bytes.toString('utf8'))` accepts (bytes
 * of invalid UTF-8 inside a string decode to U+FFFD there, which is still a string character).
 */

const OBJECT = 1;
const ARRAY = 2;

// Containers open at each depth; grown (never shrunk) for deeply nested input.
let stack = new Uint8Array(64);
// Where and why the last check failed.
let problem = '';

function fail(what: string, at: number): number {
  problem = `${what} at byte ${at}`;
  return -1;
}

function unexpected(bytes: Uint8Array, at: number, end: number): number {
  if (at >= end) return fail('unexpected end of line', at);
  const c = bytes[at] as number;
  const shown = c >= 0x21 && c <= 0x7e ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
  return fail(`unexpected ${shown}`, at);
}

function skipSpace(bytes: Uint8Array, at: number, end: number): number {
  while (at < end) {
    const c = bytes[at] as number;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    at++;
  }
  return at;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

/** The end of the string starting at `at` (its opening quote), or -1. */
function skipString(bytes: Uint8Array, at: number, end: number): number {
  for (let i = at + 1; i < end;) {
    const c = bytes[i] as number;
    if (c === 0x22) return i + 1;
    if (c < 0x20) return fail('control character in a string', i);
    if (c !== 0x5c) {
      i++;
      continue;
    }
    const e = bytes[i + 1];
    if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      i += 2;
    } else if (e === 0x75 && isHex(bytes[i + 2]) && isHex(bytes[i + 3]) && isHex(bytes[i + 4]) && isHex(bytes[i + 5])) {
      i += 6;
    } else {
      return fail('bad escape in a string', i);
    }
  }
  return fail('unterminated string', at);
}

function skipDigits(bytes: Uint8Array, at: number, end: number): number {
  while (at < end && (bytes[at] as number) >= 0x30 && (bytes[at] as number) <= 0x39) at++;
  return at;
}

/** The end of the number starting at `at`, or -1. */
function skipNumber(bytes: Uint8Array, at: number, end: number): number {
  let i = at;
  if (bytes[i] === 0x2d) i++;
  if (bytes[i] === 0x30) i++;
  else if (i < end && (bytes[i] as number) >= 0x31 && (bytes[i] as number) <= 0x39) i = skipDigits(bytes, i + 1, end);
  else return unexpected(bytes, i, end);
  if (bytes[i] === 0x2e) {
    const digits = skipDigits(bytes, i + 1, end);
    if (digits === i + 1) return unexpected(bytes, digits, end);
    i = digits;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i++;
    if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
    const digits = skipDigits(bytes, i, end);
    if (digits === i) return unexpected(bytes, digits, end);
    i = digits;
  }
  return i;
}

function skipWord(bytes: Uint8Array, at: number, end: number, word: string): number {
  for (let k = 0; k < word.length; k++) {
    if (bytes[at + k] !== word.charCodeAt(k)) return unexpected(bytes, at + k, end);
  }
  return at + word.length;
}

/** After `{` or a `,` in an object: the key and its colon; returns where the value starts, or -1. */
function skipKey(bytes: Uint8Array, at: number, end: number): number {
  if (bytes[at] !== 0x22) return at >= end ? unexpected(bytes, at, end) : fail('expected a property name in double quotes', at);
  const keyEnd = skipString(bytes, at, end);
  if (keyEnd < 0) return -1;
  const colon = skipSpace(bytes, keyEnd, end);
  if (bytes[colon] !== 0x3a) return colon >= end ? unexpected(bytes, colon, end) : fail("expected ':' after a property name", colon);
  return skipSpace(bytes, colon + 1, end);
}

/**
 * Where `bytes[start, end)` stop being one JSON text, as a short description with the byte
 * offset (e.g. `unexpected 'o' at byte 12`); undefined when the bytes are valid JSON.
 */
export function jsonSyntaxError(bytes: Uint8Array, start = 0, end = bytes.length): string | undefined {
  let depth = 0;
  let i = skipSpace(bytes, start, end);
  let wantValue = true;
  while (i >= 0) {
    if (wantValue) {
      const c = bytes[i];
      if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        if (depth === stack.length) {
          const deeper = new Uint8Array(stack.length * 2);
          deeper.set(stack);
          stack = deeper;
        }
        stack[depth++] = c === 0x7b ? OBJECT : ARRAY;
        i = skipSpace(bytes, i + 1, end);
        if (bytes[i] === (c === 0x7b ? 0x7d : 0x5d)) {
          depth--;
          i++;
          wantValue = false;
        } else if (c === 0x7b) {
          i = skipKey(bytes, i, end);
        }
        continue;
      }
      if (c === 0x22) i = skipString(bytes, i, end);
      else if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) i = skipNumber(bytes, i, end);
      else if (c === 0x74) i = skipWord(bytes, i, end, 'true');
      else if (c === 0x66) i = skipWord(bytes, i, end, 'false');
      else if (c === 0x6e) i = skipWord(bytes, i, end, 'null');
      else i = unexpected(bytes, i, end);
      wantValue = false;
      continue;
    }
    // After a value: the end, a separator, or the close of its container.
    i = skipSpace(bytes, i, end);
    if (depth === 0) {
      if (i === end) return undefined;
      i = fail('unexpected data after the value', i);
      break;
    }
    const c = bytes[i];
    const open = stack[depth - 1];
    if (c === 0x2c /* , */) {
      i = skipSpace(bytes, i + 1, end);
      if (open === OBJECT) i = skipKey(bytes, i, end);
      wantValue = true;
    } else if ((c === 0x7d && open === OBJECT) || (c === 0x5d && open === ARRAY)) {
      depth--;
      i++;
    } else {
      i = unexpected(bytes, i, end);
    }
  }
  return problem;
}

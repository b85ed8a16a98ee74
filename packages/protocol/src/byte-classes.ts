// Owns the byte tests the formatters use on a line's raw spans: lookup tables of which bytes a
// span may hold for its bytes to be written as they are.
import type { TextSpan } from './canonical-reader';

/** A 256-entry table: 1 for each byte in `ranges` (inclusive `[low, high]` pairs). */
export function byteTable(...ranges: [number, number][]): Uint8Array {
  const table = new Uint8Array(256);
  for (const [low, high] of ranges) for (let b = low; b <= high; b++) table[b] = 1;
  return table;
}

/** True when every byte of `buf[start, end)` is in `table`. */
export function allBytesIn(buf: Buffer, start: number, end: number, table: Uint8Array): boolean {
  for (let i = start; i < end; i++) if (table[buf[i] as number] === 0) return false;
  return true;
}

/**
 * True when `buf[start, end)` (valid UTF-8 without C0 controls, as a JSON string's raw bytes
 * are) holds DEL, a C1 control (U+0080–U+009F), a bidi control (U+061C, U+200E, U+200F,
 * U+202A–U+202E, U+2066–U+2069) or a line or paragraph separator (U+2028, U+2029): the
 * characters no log line may hold raw.
 */
export function hasUnsafeText(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    if (b < 0x7f) continue;
    if (b === 0x7f) return true;
    if (b === 0xc2) {
      const c = buf[i + 1] as number;
      if (c >= 0x80 && c <= 0x9f) return true;
    } else if (b === 0xd8) {
      if (buf[i + 1] === 0x9c) return true;
    } else if (b === 0xe2) {
      const c = buf[i + 1] as number;
      const d = buf[i + 2] as number;
      if (c === 0x80 && (d === 0x8e || d === 0x8f || (d >= 0xa8 && d <= 0xae))) return true;
      if (c === 0x81 && d >= 0xa6 && d <= 0xa9) return true;
    }
  }
  return false;
}

/**
 * True when the span is `YYYY-MM-DDTHH:MM:SS.sssZ` without a leap second: the form entries
 * carry, which is its own RFC 5424 TIMESTAMP ({@link formatRfc5424Timestamp} returns it as is).
 */
export function isUtcMillis(line: Buffer, ts: TextSpan): boolean {
  const s = ts.start;
  return (
    !ts.escaped &&
    ts.end - s === 24 &&
    line[s + 10] === 0x54 &&
    line[s + 19] === 0x2e &&
    line[s + 23] === 0x5a &&
    line[s + 4] === 0x2d &&
    line[s + 7] === 0x2d &&
    line[s + 13] === 0x3a &&
    line[s + 16] === 0x3a &&
    !(line[s + 17] === 0x36 && line[s + 18] === 0x30)
  );
}

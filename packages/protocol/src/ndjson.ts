import { checkEntryInput, type LogEntryInput } from './entry';
import type { LogStreamErrorCode } from './errors';
import { jsonSyntaxError } from './json-syntax';

/** The result of decoding one line as an entry. */
export type DecodeResult =
  /** `levelWasName`: the line gave its level as a name, now a number in `entry`. */
  { ok: true; entry: LogEntryInput; levelWasName: boolean } | { ok: false; code: LogStreamErrorCode; message: string };

/** Decodes and checks one NDJSON line (without its newline). Never throws. */
export function decodeEntryLine(line: Buffer | string): DecodeResult {
  if (typeof line !== 'string') {
    // Garbage is refused from its bytes: no string, no exception (and no memory to collect).
    const syntax = jsonSyntaxError(line);
    if (syntax !== undefined) return { ok: false, code: 'INVALID_JSON', message: `invalid JSON: ${syntax}` };
  }
  let value: unknown;
  // Bytes that passed jsonSyntaxError always parse; only a string can throw here.
  try {
    value = JSON.parse(typeof line === 'string' ? line : line.toString('utf8'));
  } catch (error) {
    return { ok: false, code: 'INVALID_JSON', message: `invalid JSON: ${(error as Error).message}` };
  }
  const levelWasName = typeof (value as { level?: unknown } | null)?.level === 'string';
  const checked = checkEntryInput(value);
  if (checked.ok) return { ok: true, entry: checked.entry, levelWasName };
  return { ok: false, code: 'INVALID_ENTRY', message: `invalid entry: ${checked.message}` };
}

import { parseLogLevel, type LogLevel } from '@logstream/protocol';

function oneLevel(text: string): LogLevel | undefined {
  if (/^[0-7]$/.test(text)) return Number(text) as LogLevel;
  return parseLogLevel(text);
}

/**
 * Parses `-p`: one level (`3`, `err`) means that level and every more severe one (0..3); a range
 * `FROM..TO` (`0..3`, `emerg..err`, `warning..info`) means those levels, both included. Names are
 * the syslog names and aliases (`emerg`, `alert`, `crit`, `err`/`error`, `warning`/`warn`,
 * `notice`, `info`, `debug`), case-insensitive.
 *
 * @returns the range, or `undefined` for anything else.
 */
export function parseLevelSpec(text: string): { minLevel: LogLevel; maxLevel: LogLevel } | undefined {
  const range = text.split('..');
  if (range.length === 1) {
    const level = oneLevel(text);
    return level === undefined ? undefined : { minLevel: 0, maxLevel: level };
  }
  if (range.length !== 2) return undefined;
  const from = oneLevel(range[0] as string);
  const to = oneLevel(range[1] as string);
  if (from === undefined || to === undefined) return undefined;
  return from <= to ? { minLevel: from, maxLevel: to } : { minLevel: to, maxLevel: from };
}

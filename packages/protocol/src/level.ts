/**
 * Syslog severities, as in RFC 5424 and the spec: 0 is the most severe, 7 the least.
 * An entry passes a minimum level `min` when `entry.level <= min`.
 */
export const LogLevel = {
  Emergency: 0,
  Alert: 1,
  Critical: 2,
  Error: 3,
  Warning: 4,
  Notice: 5,
  Info: 6,
  Debug: 7,
} as const;

/** A numeric level, 0 (emergency) to 7 (debug). */
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

/** A level's canonical lower-case name. */
export type LogLevelName = 'emergency' | 'alert' | 'critical' | 'error' | 'warning' | 'notice' | 'info' | 'debug';

/** Canonical names, indexed by level. */
export const LEVEL_NAMES: readonly LogLevelName[] = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'];

// Canonical names plus the usual syslog/severity aliases (syslog.h, logger(1), journald).
/** Every level name `parseLogLevel` accepts (lowercase), with its level; the scanner reads the same list. */
export const LEVEL_ALIASES: readonly (readonly [string, LogLevel])[] = [
  ['emergency', 0],
  ['emerg', 0],
  ['panic', 0],
  ['alert', 1],
  ['critical', 2],
  ['crit', 2],
  ['error', 3],
  ['err', 3],
  ['warning', 4],
  ['warn', 4],
  ['notice', 5],
  ['info', 6],
  ['informational', 6],
  ['debug', 7],
];
const LEVELS_BY_NAME: ReadonlyMap<string, LogLevel> = new Map<string, LogLevel>(LEVEL_ALIASES);

/** True when `value` is an integer level 0–7. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 7;
}

/**
 * Parses a level from a number (0–7) or a name (`"info"`, `"warning"`, `"warn"`, `"err"`, …,
 * case-insensitive). Returns `undefined` for anything else; numeric strings are not levels.
 */
export function parseLogLevel(value: unknown): LogLevel | undefined {
  if (typeof value === 'number') return isLogLevel(value) ? value : undefined;
  if (typeof value === 'string') return LEVELS_BY_NAME.get(value.toLowerCase());
  return undefined;
}

/** The canonical name of a level, e.g. `levelName(4) === 'warning'`. */
export function levelName(level: LogLevel): LogLevelName {
  return LEVEL_NAMES[level] as LogLevelName;
}

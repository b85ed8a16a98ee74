const UNIT_MS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};
const RELATIVE = /^([+-])(\d+)(s|sec|m|min|h|d|w)$/;
const AGO = /^(\d+)\s*(s|sec|m|min|h|d|w)\s+ago$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?$/;
const ZONED = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})$/;

/**
 * Parses a `-S` / `-U` time, as journalctl reads them:
 * - `now`, `today`, `yesterday`, `tomorrow` (local midnight);
 * - relative to now: `-1h`, `+30m`, `-2d`, `-90s`, `-1w` (units `s`/`sec`, `m`/`min`, `h`, `d`, `w`),
 *   or `1h ago`;
 * - ISO-8601: `2026-11-25`, `2026-11-25 14:30`, `2026-11-25T14:30:05.250` (local time), or with a
 *   zone `2026-11-25T14:30:05Z`, `2026-11-25T14:30:05+01:00`;
 * - `@1764081000` (seconds since the epoch, fractions allowed).
 *
 * @returns milliseconds since the epoch, or `undefined` when `text` is none of these.
 */
export function parseTimeSpec(text: string, nowMs = Date.now()): number | undefined {
  const t = text.trim();
  const midnight = (days: number): number => {
    const d = new Date(nowMs);
    return new Date(d.getFullYear(), d.getMonth(), d.getDate() + days).getTime();
  };
  if (t === 'now') return nowMs;
  if (t === 'today') return midnight(0);
  if (t === 'yesterday') return midnight(-1);
  if (t === 'tomorrow') return midnight(1);
  let m = RELATIVE.exec(t);
  if (m !== null) return nowMs + (m[1] === '-' ? -1 : 1) * Number(m[2]) * (UNIT_MS[m[3] as string] as number);
  m = AGO.exec(t);
  if (m !== null) return nowMs - Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  if (/^@\d+(\.\d+)?$/.test(t)) return Math.round(Number(t.slice(1)) * 1000);
  m = LOCAL.exec(t);
  if (m !== null) {
    const [y, mo, d, h, mi, s, frac] = m.slice(1).map((x): string => x ?? '');
    const date = new Date(
      Number(y),
      Number(mo) - 1,
      Number(d),
      Number(h || 0),
      Number(mi || 0),
      Number(s || 0),
      Number((frac || '0').padEnd(3, '0').slice(0, 3)),
    );
    // Reject what Date would roll over (2026-02-30, 25:00).
    if (date.getFullYear() !== Number(y) || date.getMonth() !== Number(mo) - 1 || date.getDate() !== Number(d)) return undefined;
    if (h !== '' && (date.getHours() !== Number(h) || date.getMinutes() !== Number(mi))) return undefined;
    return date.getTime();
  }
  if (ZONED.test(t)) {
    const ms = Date.parse(t.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

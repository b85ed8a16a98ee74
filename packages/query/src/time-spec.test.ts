import { describe, expect, it } from 'vitest';
import { parseTimeSpec } from './time-spec';

const NOW = Date.parse('2026-11-25T14:30:00.000Z');

describe('parseTimeSpec', () => {
  it('reads relative forms', () => {
    expect(parseTimeSpec('now', NOW)).toBe(NOW);
    expect(parseTimeSpec('-1h', NOW)).toBe(NOW - 3_600_000);
    expect(parseTimeSpec('+30m', NOW)).toBe(NOW + 1_800_000);
    expect(parseTimeSpec('-2d', NOW)).toBe(NOW - 2 * 86_400_000);
    expect(parseTimeSpec('-90s', NOW)).toBe(NOW - 90_000);
    expect(parseTimeSpec('-1w', NOW)).toBe(NOW - 7 * 86_400_000);
    expect(parseTimeSpec('15min ago', NOW)).toBe(NOW - 900_000);
  });

  it('reads today, yesterday, tomorrow as local midnights', () => {
    const today = new Date(NOW);
    const midnight = new Date(today.getFullYear(), today.getMonth(), today.getDate()).getTime();
    expect(parseTimeSpec('today', NOW)).toBe(midnight);
    expect(parseTimeSpec('yesterday', NOW)).toBe(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1).getTime());
    expect(parseTimeSpec('tomorrow', NOW)).toBe(new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1).getTime());
  });

  it('reads ISO-8601, local or zoned, and @seconds', () => {
    expect(parseTimeSpec('2026-11-25T14:30:05Z')).toBe(Date.parse('2026-11-25T14:30:05Z'));
    expect(parseTimeSpec('2026-11-25T14:30:05.250+01:00')).toBe(Date.parse('2026-11-25T13:30:05.250Z'));
    expect(parseTimeSpec('2026-11-25 14:30:05+0100')).toBe(Date.parse('2026-11-25T13:30:05Z'));
    expect(parseTimeSpec('2026-11-25')).toBe(new Date(2026, 10, 25).getTime());
    expect(parseTimeSpec('2026-11-25 14:30')).toBe(new Date(2026, 10, 25, 14, 30).getTime());
    expect(parseTimeSpec('2026-11-25T14:30:05.5')).toBe(new Date(2026, 10, 25, 14, 30, 5, 500).getTime());
    expect(parseTimeSpec('@1764081000')).toBe(1764081000_000);
    expect(parseTimeSpec('@1764081000.25')).toBe(1764081000_250);
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'soon', '-1y', '1h', '2026-13-01', '2026-02-30', '2026-11-25 25:00', '2026-11-25T14:30:05+25:00', '@x']) {
      expect(parseTimeSpec(bad, NOW), bad).toBeUndefined();
    }
  });
});

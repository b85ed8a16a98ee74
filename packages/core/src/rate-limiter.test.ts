import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RateLimiter } from './rate-limiter';

function limiter(intervalMs: number, burst: number, maxSenders?: number) {
  const told: [string, number][] = [];
  const limit = new RateLimiter({
    intervalMs,
    burst,
    ...(maxSenders === undefined ? {} : { maxSenders }),
    onSuppressed: (sender, count) => told.push([sender, count]),
  });
  return { limit, told };
}

async function until(predicate: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('RateLimiter', () => {
  it('stores the burst of a window, drops the rest under one window number, and tells the count at the next entry after it', () => {
    const { limit, told } = limiter(1000, 3);
    const t = 1_000_000;
    expect([0, 1, 2].map((i) => limit.take('a', t + i))).toEqual([0, 0, 0]);
    const drops = [3, 4, 999].map((i) => limit.take('a', t + i));
    expect(drops[0]).toBeGreaterThan(0);
    expect(new Set(drops)).toEqual(new Set([drops[0]]));
    expect(told).toEqual([]);
    // The next window: told first, then a fresh burst under a new number.
    expect(limit.take('a', t + 1000)).toBe(0);
    expect(told).toEqual([['a', 3]]);
    limit.take('a', t + 1001);
    limit.take('a', t + 1002);
    const next = limit.take('a', t + 1003);
    expect(next).toBeGreaterThan(0);
    expect(next).not.toBe(drops[0]);
    limit.flush();
    expect(told).toEqual([
      ['a', 3],
      ['a', 1],
    ]);
  });

  it('keeps senders apart', () => {
    const { limit } = limiter(1000, 1);
    expect(limit.take('a', 5)).toBe(0);
    expect(limit.take('a', 6)).toBeGreaterThan(0);
    expect(limit.take('b', 7)).toBe(0);
  });

  it('a window that dropped nothing ends without a word', () => {
    const { limit, told } = limiter(100, 2);
    limit.take('a', 0);
    limit.take('a', 200);
    limit.flush();
    expect(told).toEqual([]);
  });

  it('a clock that went back ends the window instead of making it last', () => {
    const { limit, told } = limiter(1000, 1);
    limit.take('a', 50_000);
    expect(limit.take('a', 50_001)).toBeGreaterThan(0);
    expect(limit.take('a', 10_000)).toBe(0);
    expect(told).toEqual([['a', 1]]);
  });

  it('ends the windows of senders that went quiet by a timer, telling what they dropped', async () => {
    const { limit, told } = limiter(50, 1);
    const now = Date.now();
    limit.take('a', now);
    limit.take('a', now);
    limit.take('a', now);
    limit.take('b', now);
    await until(() => limit.size === 0);
    expect(told).toEqual([['a', 2]]);
  });

  it('memory stays bounded under pid churn: at most maxSenders windows, the oldest ended early and told', () => {
    const { limit, told } = limiter(60_000, 1, 100);
    const now = Date.now();
    for (let pid = 0; pid < 10_000; pid++) {
      limit.take(`uid 1000 pid ${pid}`, now);
      limit.take(`uid 1000 pid ${pid}`, now);
      expect(limit.size).toBeLessThanOrEqual(100);
    }
    expect(told.length).toBe(10_000 - 100);
    expect(told[0]).toEqual(['uid 1000 pid 0', 1]);
    limit.flush();
    expect(limit.size).toBe(0);
  });

  it('refuses a burst or interval that is not a positive integer', () => {
    expect(() => limiter(0, 1)).toThrow(/intervalMs must be a positive integer, got 0/);
    expect(() => limiter(1000, 0)).toThrow(/burst must be a positive integer, got 0/);
    expect(() => limiter(1000, 1.5)).toThrow(/burst/);
  });

  it("matches a model: a window opens at a sender's first entry and stores at most burst; every drop is told once", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 40 })), { maxLength: 200 }),
        (burst, steps) => {
          const { limit, told } = limiter(100, burst);
          const model = new Map<string, { openedAt: number; stored: number }>();
          let now = 1_000_000;
          let dropped = 0;
          for (const [sender, advance] of steps) {
            now += advance;
            let w = model.get(sender);
            if (w === undefined || now - w.openedAt >= 100) model.set(sender, (w = { openedAt: now, stored: 0 }));
            const admitted = w.stored < burst;
            if (admitted) w.stored++;
            else dropped++;
            expect(limit.take(sender, now) === 0).toBe(admitted);
          }
          limit.flush();
          expect(told.reduce((sum, [, n]) => sum + n, 0)).toBe(dropped);
        },
      ),
    );
  });
});

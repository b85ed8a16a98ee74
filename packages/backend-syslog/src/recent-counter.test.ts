import { describe, expect, it } from 'vitest';
import { RecentCounter } from './recent-counter';

describe('RecentCounter', () => {
  it('counts what happened within the window only', () => {
    let now = 0;
    const c = new RecentCounter(1000, 10, () => now);
    c.add(5);
    now = 500;
    c.add(3);
    expect(c.total()).toBe(8);
    now = 1150;
    expect(c.total()).toBe(3);
    now = 5000;
    expect(c.total()).toBe(0);
    c.add(1);
    c.reset();
    expect(c.total()).toBe(0);
  });
});

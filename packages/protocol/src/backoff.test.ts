import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff';

describe('Backoff', () => {
  it('starts at 100 ms, doubles, stops at 5 s, and resets', () => {
    const b = new Backoff(() => 0.5);
    expect(Array.from({ length: 8 }, () => b.next())).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('spreads each delay by ±20 %', () => {
    expect(new Backoff(() => 0).next()).toBe(80);
    expect(new Backoff(() => 0.999999).next()).toBe(120);
  });
});

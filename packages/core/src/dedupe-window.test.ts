import { afterEach, describe, expect, it, vi } from 'vitest';
import { DedupeWindow } from './dedupe-window';

const bytes = (id: string) => {
  const line = Buffer.from(`{"id":"${id}"}`);
  return [line, 7, 7 + Buffer.byteLength(id)] as const;
};

afterEach(() => {
  vi.useRealTimers();
});

describe('DedupeWindow', () => {
  it('drops a repeat among the last capacity ids, and forgets older ones', () => {
    const w = new DedupeWindow(3);
    expect(['a', 'b', 'c'].map((id) => w.add(id))).toEqual([true, true, true]);
    expect(w.addBytes(...bytes('b'))).toBe(false);
    expect(w.add('d')).toBe(true);
    expect(w.has('a')).toBe(false);
    expect(w.add('a')).toBe(true);
  });

  it('holds seeded ids however many new ids arrive, until seedHoldMs has passed', () => {
    vi.useFakeTimers();
    const w = new DedupeWindow(4, { seedHoldMs: 60_000 });
    w.seed(['s1', 's2']);
    w.seed(['s3']);
    expect(w.seeded).toBe(3);
    // A client that came back first floods the window with new ids...
    for (let i = 0; i < 100; i++) expect(w.addBytes(...bytes(`new-${i}`))).toBe(true);
    // ...and a late client's resends are still recognised, by bytes and by string.
    expect(w.addBytes(...bytes('s1'))).toBe(false);
    expect(w.add('s2')).toBe(false);
    expect(w.has('s3')).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(w.seeded).toBe(0);
    expect(w.add('s1')).toBe(true);
  });

  it('releaseSeed forgets the seed at once; an empty seed is a no-op', () => {
    const w = new DedupeWindow(8);
    w.seed([]);
    expect(w.seeded).toBe(0);
    w.seed(['x']);
    w.releaseSeed();
    expect(w.add('x')).toBe(true);
  });
});

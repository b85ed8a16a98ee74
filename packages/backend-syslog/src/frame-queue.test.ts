import { describe, expect, it } from 'vitest';
import { FrameQueue } from './frame-queue';

const b = (s: string) => Buffer.from(s);

describe('FrameQueue', () => {
  it('is a FIFO that tracks count and bytes', () => {
    const q = new FrameQueue(10, 100);
    q.push(b('aa'));
    q.push(b('bbb'));
    expect([q.length, q.bytes]).toEqual([2, 5]);
    expect(q.peek()?.toString()).toBe('aa');
    expect(q.shift()?.toString()).toBe('aa');
    expect([q.length, q.bytes]).toEqual([1, 3]);
  });

  it('drops the oldest frames past the entry bound and says how many', () => {
    const q = new FrameQueue(3, 1000);
    for (const s of ['1', '2', '3']) expect(q.push(b(s))).toBe(0);
    expect(q.push(b('4'))).toBe(1);
    expect(q.take(1000).map(String)).toEqual(['2', '3', '4']);
  });

  it('drops the oldest frames past the byte bound, keeping a single oversized frame', () => {
    const q = new FrameQueue(100, 10);
    q.push(b('aaaa'));
    q.push(b('bbbb'));
    expect(q.push(b('cccc'))).toBe(1);
    expect(q.bytes).toBe(8);
    expect(q.push(b('x'.repeat(20)))).toBe(2);
    expect([q.length, q.bytes]).toEqual([1, 20]);
  });

  it('takes up to a byte budget, at least one frame', () => {
    const q = new FrameQueue(100, 1000);
    for (let i = 0; i < 5; i++) q.push(b('x'.repeat(10)));
    expect(q.take(25)).toHaveLength(2);
    expect(q.take(1)).toHaveLength(1);
    expect(q.length).toBe(2);
    expect(q.clear()).toBe(2);
    expect([q.length, q.bytes, q.take(10).length]).toEqual([0, 0, 0]);
  });

  it('stays consistent across many pushes and shifts (compaction)', () => {
    const q = new FrameQueue(5000, 1e9);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 3000; i++) q.push(b(String(next++)));
      for (let i = 0; i < 2900; i++) {
        const got = Number(q.shift()?.toString());
        // Frames dropped for the bound are skipped.
        expect(got).toBeGreaterThanOrEqual(expected);
        expected = got + 1;
      }
    }
    expect(q.length).toBeLessThanOrEqual(5000);
  });
});

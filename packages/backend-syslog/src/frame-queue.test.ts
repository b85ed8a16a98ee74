import { describe, expect, it } from 'vitest';
import { FrameQueue, type Frame } from './frame-queue';

const A = {};
const B = {};
let seq = 0;
const f = (s: string, owner: object = A): Frame => ({ data: Buffer.from(s), seq: ++seq, owner });
const text = (frames: (Frame | undefined)[]) => frames.map((x) => x?.data.toString());

describe('FrameQueue', () => {
  it('is a FIFO that tracks count and bytes', () => {
    const q = new FrameQueue(10, 100);
    q.push(f('aa'));
    q.push(f('bbb'));
    expect([q.length, q.bytes]).toEqual([2, 5]);
    expect(q.peek()?.data.toString()).toBe('aa');
    expect(q.shift()?.data.toString()).toBe('aa');
    expect([q.length, q.bytes]).toEqual([1, 3]);
  });

  it('has room within both bounds, and always when empty; never evicts', () => {
    const q = new FrameQueue(3, 10);
    expect(q.hasRoom(1000)).toBe(true);
    q.push(f('aaaa'));
    expect(q.hasRoom(6)).toBe(true);
    expect(q.hasRoom(7)).toBe(false);
    q.push(f('b'));
    q.push(f('c'));
    expect(q.hasRoom(1)).toBe(false);
    // Past the bounds on purpose (the writer checks hasRoom): nothing is dropped.
    q.push(f('dddddddddd'));
    expect(text(q.take(1000))).toEqual(['aaaa', 'b', 'c', 'dddddddddd']);
  });

  it('takes up to a byte budget, at least one frame', () => {
    const q = new FrameQueue(100, 1000);
    for (let i = 0; i < 5; i++) q.push(f('x'.repeat(10)));
    expect(q.take(25)).toHaveLength(2);
    expect(q.take(1)).toHaveLength(1);
    expect(q.length).toBe(2);
    expect(q.clear()).toBe(2);
    expect([q.length, q.bytes, q.take(10).length]).toEqual([0, 0, 0]);
  });

  it('puts taken frames back at the head, in order, with or without free slots before it', () => {
    const q = new FrameQueue(100, 1000);
    for (const s of ['1', '2', '3', '4']) q.push(f(s));
    const taken = q.take(2);
    expect(text(taken)).toEqual(['1', '2']);
    q.push(f('5'));
    q.unshift(taken);
    expect([q.length, q.bytes]).toEqual([5, 5]);
    expect(text(q.take(1000))).toEqual(['1', '2', '3', '4', '5']);
    q.push(f('b'));
    q.unshift([f('x'), f('y')]);
    expect(text(q.take(1000))).toEqual(['x', 'y', 'b']);
  });

  it("removes one owner's frames and keeps the others in order", () => {
    const q = new FrameQueue(100, 1000);
    q.push(f('a1', A));
    q.push(f('b1', B));
    q.push(f('a2', A));
    q.push(f('b2', B));
    q.shift();
    expect(q.removeOwned(A)).toBe(1);
    expect([q.length, q.bytes]).toEqual([2, 4]);
    expect(q.removeOwned({})).toBe(0);
    expect(text(q.take(1000))).toEqual(['b1', 'b2']);
  });

  it('stays consistent across many pushes and shifts (compaction)', () => {
    const q = new FrameQueue(5000, 1e9);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 3000; i++) q.push(f(String(next++)));
      let inOrder = true;
      for (let i = 0; i < 2900; i++) inOrder &&= Number(q.shift()?.data.toString()) === expected++;
      expect(inOrder, `round ${round}`).toBe(true);
    }
    expect(q.length).toBe(20 * 100);
  });
});

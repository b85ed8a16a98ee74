import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineSplitter } from './line-splitter';

function run(maxLineBytes: number, chunks: Buffer[]) {
  const splitter = new LineSplitter(maxLineBytes);
  const lines: string[] = [];
  const oversize: number[] = [];
  let maxHeld = 0;
  const sink = { line: (l: Buffer) => lines.push(l.toString()), oversize: (n: number) => oversize.push(n) };
  for (const chunk of chunks) {
    splitter.push(chunk, sink);
    maxHeld = Math.max(maxHeld, splitter.bufferedBytes);
  }
  splitter.end(sink);
  return { lines, oversize, maxHeld };
}

describe('LineSplitter', () => {
  it('splits lines across chunk boundaries and strips CR', () => {
    const r = run(100, [Buffer.from('ab'), Buffer.from('c\r\nde'), Buffer.from('f\n\ng')]);
    expect(r.lines).toEqual(['abc', 'def', '', 'g']);
    expect(r.oversize).toEqual([]);
  });

  it('reports an oversized line with its full length and goes on with the next', () => {
    const big = 'x'.repeat(1000);
    const r = run(10, [Buffer.from(`ok\n${big.slice(0, 300)}`), Buffer.from(`${big.slice(300)}\nnext\n`)]);
    expect(r.lines).toEqual(['ok', 'next']);
    expect(r.oversize).toEqual([1000]);
  });

  it('never holds more than the limit of a partial line, however it is fed', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 30 }), fc.integer({ min: 1, max: 64 }), (parts, max) => {
        const chunks = parts.map((p) => Buffer.from(p));
        const r = run(max, chunks);
        expect(r.maxHeld).toBeLessThanOrEqual(max + 1);
        // Every line of the input is either emitted or reported, in order.
        const text = Buffer.concat(chunks);
        const expected = text.length === 0 ? [] : text.toString('latin1').split('\n');
        if (expected.length > 0 && expected[expected.length - 1] === '') expected.pop();
        expect(r.lines.length + r.oversize.length).toBe(expected.length);
      }),
    );
  });
});

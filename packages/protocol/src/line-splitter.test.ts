import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineSplitter } from './line-splitter';

function run(maxLineBytes: number, chunks: Buffer[]) {
  const splitter = new LineSplitter(maxLineBytes);
  const lines: string[] = [];
  const oversize: number[] = [];
  let maxHeld = 0;
  const sink = {
    line: (l: Buffer) => {
      lines.push(l.toString());
    },
    oversize: (n: number) => oversize.push(n),
  };
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

  it('stops where the sink asks and takes the rest of the chunk later, losing and repeating nothing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 120 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 50 }),
        (parts, max, stops) => {
          const chunks = parts.map((p) => Buffer.from(p.map((b) => (b % 4 === 0 ? 0x0a : b))));
          const whole = run(max, chunks);
          const splitter = new LineSplitter(max);
          const lines: string[] = [];
          const oversize: number[] = [];
          let k = 0;
          const sink = {
            line: (l: Buffer) => {
              lines.push(l.toString());
              return stops[k++ % stops.length];
            },
            oversize: (n: number) => oversize.push(n),
          };
          for (const chunk of chunks) {
            let rest = chunk;
            for (let guard = 0; rest.length > 0; guard++) {
              const taken = splitter.push(rest, sink);
              expect(taken).toBeGreaterThan(0);
              expect(taken).toBeLessThanOrEqual(rest.length);
              if (taken < rest.length) expect(rest[taken - 1]).toBe(0x0a);
              rest = rest.subarray(taken);
              expect(guard).toBeLessThan(10_000);
            }
          }
          splitter.end(sink);
          expect({ lines, oversize }).toEqual({ lines: whole.lines, oversize: whole.oversize });
        },
      ),
    );
  });

  it('holds an unfinished line in at most about three times its size, however it is fed', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9000 }), { maxLength: 60 }), fc.integer({ min: 1, max: 100_000 }), (sizes, max) => {
        const splitter = new LineSplitter(max);
        const lines: number[] = [];
        const sink = { line: (l: Buffer) => void lines.push(l.length), oversize: () => undefined };
        let sent = 0;
        for (const n of sizes) {
          splitter.push(Buffer.alloc(n, 0x61), sink);
          sent += n;
          if (sent <= max + 1) {
            expect(splitter.bufferedBytes).toBe(sent);
            // Views keep their whole chunk (here the chunk is the piece) and a gathering buffer
            // closed early wastes less than the piece that did not fit.
            expect(splitter.heldBytes).toBeLessThanOrEqual(3 * sent);
            expect(splitter.inLine).toBe(true);
          } else {
            // Past the limit the line is discarded as it streams: nothing held.
            expect(splitter.heldBytes).toBe(0);
            expect(splitter.inLine).toBe(true);
          }
        }
        splitter.push(Buffer.from('\n'), sink);
        expect(splitter.heldBytes).toBe(0);
        expect(splitter.inLine).toBe(false);
        if (sent <= max) expect(lines).toEqual(sent === 0 ? [0] : [sent]);
      }),
    );
  });

  it('the same lines however a stream of large and small lines is cut, and never more than ~3x held', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 30_000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 40 }),
        (lengths, cuts) => {
          const text = Buffer.from(lengths.map((n, i) => String.fromCharCode(97 + (i % 26)).repeat(n)).join('\n'));
          const chunks: Buffer[] = [];
          for (let at = 0, k = 0; at < text.length; k++) {
            const n = cuts[k % cuts.length] as number;
            // A chunk of its own memory, as a socket read is.
            chunks.push(Buffer.from(text.subarray(at, at + n)));
            at += n;
          }
          const splitter = new LineSplitter(50_000);
          const lines: string[] = [];
          const sink = { line: (l: Buffer) => void lines.push(l.toString()), oversize: () => undefined };
          for (const chunk of chunks) {
            splitter.push(chunk, sink);
            expect(splitter.heldBytes).toBeLessThanOrEqual(3 * splitter.bufferedBytes);
          }
          splitter.end(sink);
          // A last line without a newline counts; an empty one after the last newline is no line.
          const expected = text.toString().split('\n');
          if (expected[expected.length - 1] === '') expected.pop();
          expect(lines).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('one byte at a time: the same lines as whole chunks, byte for byte', () => {
    const text = Buffer.from('first line\r\nsecond\n\n' + 'x'.repeat(300) + '\nlast');
    const whole = run(100, [text]);
    const bytes = run(
      100,
      [...text].map((b) => Buffer.from([b])),
    );
    expect({ lines: bytes.lines, oversize: bytes.oversize }).toEqual({ lines: whole.lines, oversize: whole.oversize });
    expect(whole.lines).toEqual(['first line', 'second', '', 'last']);
    expect(whole.oversize).toEqual([300]);
  });

  it('reset() drops the unfinished line and the memory it held', () => {
    const splitter = new LineSplitter(1000);
    const lines: string[] = [];
    const sink = { line: (l: Buffer) => void lines.push(l.toString()), oversize: () => undefined };
    splitter.push(Buffer.from('dropped part'), sink);
    expect(splitter.heldBytes).toBeGreaterThan(0);
    splitter.reset();
    expect({ held: splitter.heldBytes, buffered: splitter.bufferedBytes, inLine: splitter.inLine }).toEqual({
      held: 0,
      buffered: 0,
      inLine: false,
    });
    splitter.push(Buffer.from('next\n'), sink);
    expect(lines).toEqual(['next']);
  });
});

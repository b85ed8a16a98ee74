import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EntryPages } from './entry-pages';

describe('EntryPages', () => {
  it('sends, acknowledges and resends exactly like a queue of lines', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => `${JSON.stringify(s)}\n`),
      fc.constantFrom('é😀\n', `${'x'.repeat(700_000)}\n`, `${'y'.repeat(1_300_000)}\n`),
    );
    const op = fc.oneof(
      line.map((l) => ({ kind: 'append' as const, l })),
      fc.constant({ kind: 'send' as const }),
      fc.integer({ min: 0, max: 5 }).map((n) => ({ kind: 'ack' as const, n })),
      fc.constant({ kind: 'rewind' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const pages = new EntryPages();
        const model: string[] = [];
        let sent = 0; // entries of `model` sent on the current connection
        for (const o of ops) {
          if (o.kind === 'append') {
            pages.append(o.l);
            model.push(o.l);
          } else if (o.kind === 'send') {
            const chunk = pages.nextChunk();
            if (sent === model.length) {
              expect(chunk).toBeUndefined();
            } else {
              // A chunk is a whole number of the next unsent entries, in order.
              const text = chunk!.toString('utf8');
              let k = sent;
              let joined = '';
              while (joined.length < text.length && k < model.length) joined += model[k++];
              expect(text).toBe(joined);
              sent = k;
            }
          } else if (o.kind === 'ack') {
            const n = Math.min(o.n, sent); // the server acks only what it received
            pages.ack(n);
            model.splice(0, n);
            sent -= n;
          } else {
            pages.rewind();
            sent = 0;
          }
          expect(pages.length).toBe(model.length);
          expect(pages.unsent).toBe(model.length - sent);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('releases pages once their entries are acknowledged', () => {
    const pages = new EntryPages();
    const line = `${'z'.repeat(1000)}\n`;
    for (let i = 0; i < 5000; i++) pages.append(line);
    expect(pages.bytes).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    while (pages.nextChunk() !== undefined) continue;
    pages.ack(4000);
    expect(pages.bytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    pages.ack(1000);
    expect(pages.length).toBe(0);
    expect(pages.bytes).toBe(1024 * 1024);
  });

  it('keeps order across growth, in-place compaction and reuse of its slots', () => {
    const pages = new EntryPages();
    const line = (i: number) => `{"n":${i},"pad":"${'x'.repeat(200)}"}\n`; // 20,000 of them span several 1 MiB pages
    const sendAll = () => {
      const out: Buffer[] = [];
      for (let c; (c = pages.nextChunk()) !== undefined;) out.push(c);
      return Buffer.concat(out).toString();
    };
    let expected = '';
    for (let i = 0; i < 20_000; i++) {
      pages.append(line(i));
      expected += line(i);
    }
    expect(sendAll()).toBe(expected);
    pages.ack(15_000); // past 4096 and more than half: the rest moves to the front
    expect(pages.length).toBe(5_000);
    expected = '';
    for (let i = 20_000; i < 25_000; i++) {
      pages.append(line(i));
      expected += line(i);
    }
    expect(sendAll()).toBe(expected);
    pages.rewind(); // a reconnect resends what is unacknowledged, oldest first
    let all = '';
    for (let i = 15_000; i < 25_000; i++) all += line(i);
    expect(sendAll()).toBe(all);
    pages.ack(10_000);
    expect(pages.length).toBe(0);
    pages.append(line(1));
    expect(sendAll()).toBe(line(1));
  });
});

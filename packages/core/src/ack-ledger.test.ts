import { describe, expect, it } from 'vitest';
import { AckLedger } from './ack-ledger';

describe('AckLedger', () => {
  it('releases acks in the order batches were routed, never one ahead of an older batch', () => {
    const released: string[] = [];
    const ledger = new AckLedger<string>((key, seq) => released.push(`${key}:${seq}`));
    const first = ledger.open(new Map([['a', 3]]), 100);
    const second = ledger.open(
      new Map([
        ['a', 5],
        ['b', 2],
      ]),
      50,
    );
    const third = ledger.open(new Map([['b', 4]]), 25);
    expect(ledger.bytes).toBe(175);

    // The newest batches are stored first: nothing may be acknowledged yet.
    ledger.settle(third);
    ledger.settle(second);
    expect(released).toEqual([]);
    expect(ledger.bytes).toBe(175);
    expect(ledger.size).toBe(3);

    // The oldest is stored: all three go, oldest first.
    ledger.settle(first);
    expect(released).toEqual(['a:3', 'a:5', 'b:2', 'b:4']);
    expect(ledger.bytes).toBe(0);
    expect(ledger.size).toBe(0);
  });

  it('releases a settled head at once and keeps the rest until theirs are stored', () => {
    const released: number[] = [];
    const ledger = new AckLedger<object>((_key, seq) => released.push(seq));
    const conn = {};
    const one = ledger.open(new Map([[conn, 1]]), 10);
    const two = ledger.open(new Map([[conn, 2]]), 10);
    ledger.settle(one);
    expect(released).toEqual([1]);
    expect(ledger.bytes).toBe(10);
    ledger.settle(two);
    expect(released).toEqual([1, 2]);
    // A batch with no acks (nothing read) passes through without a release.
    ledger.settle(ledger.open(new Map(), 0));
    expect(released).toEqual([1, 2]);
  });
});

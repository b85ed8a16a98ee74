import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IdWindow } from './id-window';

/** The obvious model: a set of the last `capacity` distinct ids added (per kind: ≤128 bytes, longer). */
class Ring {
  set = new Set<string>();
  ring: string[] = [];
  constructor(readonly capacity: number) {}
  add(id: string): boolean {
    if (this.set.has(id)) return false;
    if (this.ring.length === this.capacity) this.set.delete(this.ring.shift() as string);
    this.ring.push(id);
    this.set.add(id);
    return true;
  }
}

class Model {
  short: Ring;
  long: Ring;
  constructor(capacity: number) {
    this.short = new Ring(capacity);
    this.long = new Ring(capacity);
  }
  add(id: string): boolean {
    return (Buffer.byteLength(id) > 128 ? this.long : this.short).add(id);
  }
  has(id: string): boolean {
    return (Buffer.byteLength(id) > 128 ? this.long : this.short).set.has(id);
  }
}

describe('IdWindow', () => {
  it('behaves exactly like a bounded set of the last ids, across wrap-around and hash collisions', () => {
    const id = fc.oneof(
      fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
      fc.uuid(),
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.string({ minLength: 100, maxLength: 140, unit: 'grapheme' }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.array(id, { maxLength: 300 }), (capacity, ids) => {
        const window = new IdWindow(capacity);
        const model = new Model(capacity);
        for (const x of ids) {
          expect(window.add(x)).toBe(model.add(x));
          expect(window.has(x)).toBe(true);
        }
        for (const x of ids) expect(window.has(x)).toBe(model.has(x));
      }),
      { numRuns: 3000 },
    );
  });

  it('stays exact over many evictions and table rebuilds (tombstones reused, nothing dropped early)', () => {
    const capacity = 1000;
    const window = new IdWindow(capacity);
    const model = new Model(capacity);
    let seed = 1;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let n = 0; n < 60_000; n++) {
      // Mostly new ids, some recent repeats, some just out of the window.
      const r = rand() % 10;
      const id = r < 7 ? `id-${n}` : `id-${Math.max(0, n - (r < 9 ? rand() % capacity : capacity + (rand() % 50)))}`;
      expect(window.add(id)).toBe(model.add(id));
    }
    for (let n = 59_000 - 2 * capacity; n < 60_000; n++) expect(window.has(`id-${n}`)).toBe(model.has(`id-${n}`));
    expect(window.size).toBe(capacity);
  });

  it('reads ids straight from a line', () => {
    const window = new IdWindow(4);
    const line = Buffer.from('{"id":"abc","x":1}');
    expect(window.addBytes(line, 7, 10)).toBe(true);
    expect(window.add('abc')).toBe(false);
    expect(window.size).toBe(1);
  });
});

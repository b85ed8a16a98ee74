/**
 * The last `capacity` entry ids, to drop an entry a client sends again after a reconnect.
 * Allocation-free on the hot path: ids are hashed (32-bit Murmur3) straight from the line's
 * bytes and kept in a ring of fixed 128-byte slots (one copy, into the slot that the oldest id
 * leaves), found through an open-addressing table of slot numbers next to their hashes, so a
 * probe touches one cache line; a hash match is confirmed byte for byte, so two different ids are
 * never taken for one (a false positive would lose a log).
 *
 * Nothing moves on eviction: the evicted id's table entry (known from its slot, no probe) becomes
 * a tombstone that a later insert may reuse. The table is four times the capacity, so probes
 * stay short; when tombstones and live entries fill half of it, it is rebuilt from the ring's
 * stored hashes (no id is hashed again): at most once per `capacity` inserts, a few ns each
 * amortised.
 * Memory: capacity × (128 + 13) bytes plus 32 bytes per id for the table (~11 MiB for 65536).
 * Ids longer than 128 bytes (possible only with multi-byte characters) go to a small string set
 * with the same bound.
 */
export class IdWindow {
  readonly capacity: number;
  readonly #keys: Buffer;
  readonly #lens: Uint8Array;
  readonly #hashes: Int32Array;
  // Where each slot's id is in the table; -1: the slot is empty.
  readonly #at: Int32Array;
  // Pairs: slot number + 1 (0: never used, -1: tombstone), then that slot's hash.
  readonly #table: Int32Array;
  readonly #mask: number;
  #next = 0;
  #size = 0;
  // Table entries that are not empty (live ids and tombstones); past half the table: rebuild.
  #filled = 0;
  // Rare ids over SLOT bytes: exact strings, in their own ring.
  readonly #long = new Set<string>();
  readonly #longRing: (string | undefined)[] = [];
  #longNext = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#keys = Buffer.alloc(capacity * SLOT);
    this.#lens = new Uint8Array(capacity);
    this.#hashes = new Int32Array(capacity);
    this.#at = new Int32Array(capacity).fill(-1);
    let size = 8;
    while (size < capacity * 4) size *= 2;
    this.#table = new Int32Array(size * 2);
    this.#mask = size - 1;
  }

  /** Ids remembered now. */
  get size(): number {
    return this.#size + this.#long.size;
  }

  /** Adds the id whose UTF-8 bytes are `buf[start, end)`; false when it is already in the window. */
  addBytes(buf: Buffer, start: number, end: number): boolean {
    const len = end - start;
    if (len > SLOT) return this.#addLong(buf.toString('utf8', start, end));
    const h = hashBytes(buf, start, end);
    const table = this.#table;
    const mask = this.#mask;
    let i = h & mask;
    let free = -1;
    for (;;) {
      const v = table[2 * i] as number;
      if (v === 0) break;
      if (v < 0) {
        if (free < 0) free = i;
      } else if (table[2 * i + 1] === h && this.#lens[v - 1] === len && this.#same(buf, start, len, v - 1)) {
        return false;
      }
      i = (i + 1) & mask;
    }
    const slot = this.#next;
    const old = this.#at[slot] as number;
    // The oldest id leaves: its entry becomes a tombstone, nothing moves.
    if (old >= 0) table[2 * old] = -1;
    else this.#size++;
    if (free < 0) {
      free = i;
      this.#filled++;
    }
    table[2 * free] = slot + 1;
    table[2 * free + 1] = h;
    this.#at[slot] = free;
    const keys = this.#keys;
    const base = slot * SLOT;
    for (let k = 0; k < len; k++) keys[base + k] = buf[start + k] as number;
    this.#lens[slot] = len;
    this.#hashes[slot] = h;
    this.#next = slot + 1 === this.capacity ? 0 : slot + 1;
    if (this.#filled > (mask + 1) >>> 1) this.#rebuild();
    return true;
  }

  /** Adds an id given as a string; false when it is already in the window. */
  add(id: string): boolean {
    const bytes = Buffer.from(id, 'utf8');
    return this.addBytes(bytes, 0, bytes.length);
  }

  /** True when the id whose UTF-8 bytes are `buf[start, end)` is in the window; adds nothing. */
  hasBytes(buf: Buffer, start: number, end: number): boolean {
    const len = end - start;
    if (len > SLOT) return this.#long.has(buf.toString('utf8', start, end));
    const h = hashBytes(buf, start, end);
    const table = this.#table;
    let i = h & this.#mask;
    for (;;) {
      const v = table[2 * i] as number;
      if (v === 0) return false;
      if (v > 0 && table[2 * i + 1] === h && this.#lens[v - 1] === len && this.#same(buf, start, len, v - 1)) return true;
      i = (i + 1) & this.#mask;
    }
  }

  /** True when `id` is in the window. */
  has(id: string): boolean {
    const b = Buffer.from(id, 'utf8');
    return this.hasBytes(b, 0, b.length);
  }

  #same(buf: Buffer, start: number, len: number, slot: number): boolean {
    const keys = this.#keys;
    const base = slot * SLOT;
    for (let i = 0; i < len; i++) if (keys[base + i] !== buf[start + i]) return false;
    return true;
  }

  /** Drops the tombstones: every live slot back into an empty table, from its stored hash. */
  #rebuild(): void {
    const table = this.#table;
    const mask = this.#mask;
    table.fill(0);
    this.#filled = 0;
    for (let slot = 0; slot < this.capacity; slot++) {
      if ((this.#at[slot] as number) < 0) continue;
      const h = this.#hashes[slot] as number;
      let i = h & mask;
      while (table[2 * i] !== 0) i = (i + 1) & mask;
      table[2 * i] = slot + 1;
      table[2 * i + 1] = h;
      this.#at[slot] = i;
      this.#filled++;
    }
  }

  #addLong(id: string): boolean {
    if (this.#long.has(id)) return false;
    const old = this.#longRing[this.#longNext];
    if (old !== undefined) this.#long.delete(old);
    this.#longRing[this.#longNext] = id;
    this.#long.add(id);
    this.#longNext = (this.#longNext + 1) % this.capacity;
    return true;
  }
}

const SLOT = 128;

/** Murmur3 (32-bit) of `buf[start, end)`, four bytes a step; a signed 32-bit result. */
function hashBytes(buf: Buffer, start: number, end: number): number {
  let h = end - start;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    let k = (buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let shift = 0; i < end; i++, shift += 8) k |= (buf[i] as number) << shift;
  k = Math.imul(k, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

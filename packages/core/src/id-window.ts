/**
 * The last `capacity` entry ids, to drop an entry a client sends again after a reconnect.
 * Allocation-free on the hot path: ids are hashed (32-bit Murmur3) straight from the line's
 * bytes, kept in a ring of fixed 128-byte slots, and found through an open-addressing table
 * that holds each slot's number next to its hash, so a probe touches one cache line; a hash
 * match is confirmed byte for byte, so two different ids are never taken for one. Hashing,
 * copying and comparing go four bytes at a time through DataViews (a byte loop cost ~40 % more
 * per id here). Memory: capacity × (128 + 5) bytes plus 16 bytes per id for the table (~10 MiB
 * for 65536).
 * Ids longer than 128 bytes (possible only with multi-byte characters) go to a small string set
 * with the same bound.
 */
export class IdWindow {
  readonly capacity: number;
  readonly #keys: Buffer;
  readonly #keyView: DataView;
  // Length of each slot's id; 0: the slot was never used (ids have a byte at least).
  readonly #lens: Uint8Array;
  readonly #hashes: Int32Array;
  readonly #table: Int32Array;
  // A DataView of the buffer ids were last read from (the intake's arena, mostly): ids are
  // hashed, copied and compared four bytes at a time.
  #source: Buffer | undefined;
  #sourceView: DataView | undefined;
  readonly #mask: number;
  #next = 0;
  #size = 0;
  // Rare ids over SLOT bytes: exact strings, in their own ring.
  readonly #long = new Set<string>();
  readonly #longRing: (string | undefined)[] = [];
  #longNext = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#keys = Buffer.alloc(capacity * SLOT);
    this.#keyView = new DataView(this.#keys.buffer, this.#keys.byteOffset, this.#keys.length);
    this.#lens = new Uint8Array(capacity);
    this.#hashes = new Int32Array(capacity);
    let size = 2;
    while (size < capacity * 2) size *= 2;
    // Pairs: slot number + 1 (0: empty), then that slot's hash.
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
    const view = this.#viewOf(buf);
    const h = hashBytes(view, buf, start, end);
    if (this.#find(view, buf, start, len, h) !== -1) return false;
    const slot = this.#next;
    if (this.#lens[slot] !== 0) this.#remove(slot);
    const keys = this.#keyView;
    const base = slot * SLOT;
    let b = 0;
    for (; b + 4 <= len; b += 4) keys.setInt32(base + b, view.getInt32(start + b));
    for (; b < len; b++) keys.setUint8(base + b, buf[start + b] as number);
    this.#lens[slot] = len;
    this.#hashes[slot] = h;
    const table = this.#table;
    let i = h & this.#mask;
    while (table[2 * i] !== 0) i = (i + 1) & this.#mask;
    table[2 * i] = slot + 1;
    table[2 * i + 1] = h;
    this.#next = slot + 1 === this.capacity ? 0 : slot + 1;
    if (this.#size < this.capacity) this.#size++;
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
    const view = this.#viewOf(buf);
    return this.#find(view, buf, start, len, hashBytes(view, buf, start, end)) !== -1;
  }

  #viewOf(buf: Buffer): DataView {
    if (buf !== this.#source) {
      this.#source = buf;
      this.#sourceView = new DataView(buf.buffer, buf.byteOffset, buf.length);
    }
    return this.#sourceView as DataView;
  }

  /** True when `id` is in the window. */
  has(id: string): boolean {
    const b = Buffer.from(id, 'utf8');
    return this.hasBytes(b, 0, b.length);
  }

  #find(view: DataView, buf: Buffer, start: number, len: number, h: number): number {
    const table = this.#table;
    let i = h & this.#mask;
    for (;;) {
      const v = table[2 * i] as number;
      if (v === 0) return -1;
      if (table[2 * i + 1] === h && this.#lens[v - 1] === len && this.#same(view, buf, start, len, v - 1)) return i;
      i = (i + 1) & this.#mask;
    }
  }

  #same(view: DataView, buf: Buffer, start: number, len: number, slot: number): boolean {
    const keys = this.#keyView;
    const base = slot * SLOT;
    let i = 0;
    for (; i + 4 <= len; i += 4) if (keys.getInt32(base + i) !== view.getInt32(start + i)) return false;
    for (; i < len; i++) if (keys.getUint8(base + i) !== buf[start + i]) return false;
    return true;
  }

  /** Removes `slot` from the table (linear probing: shift later entries back, no tombstones). */
  #remove(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let j = (this.#hashes[slot] as number) & mask;
    while (table[2 * j] !== slot + 1) j = (j + 1) & mask;
    table[2 * j] = 0;
    let k = j;
    for (;;) {
      k = (k + 1) & mask;
      const v = table[2 * k] as number;
      if (v === 0) return;
      const h = table[2 * k + 1] as number;
      const ideal = h & mask;
      // The entry at k may move to the hole at j unless its ideal place lies cyclically in (j, k].
      const stays = j <= k ? ideal > j && ideal <= k : ideal > j || ideal <= k;
      if (!stays) {
        table[2 * j] = v;
        table[2 * j + 1] = h;
        table[2 * k] = 0;
        j = k;
      }
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

/**
 * Murmur3 (32-bit) of `buf[start, end)` (`view`: a DataView of `buf`), four bytes a step; a
 * signed 32-bit result.
 */
function hashBytes(view: DataView, buf: Buffer, start: number, end: number): number {
  let h = end - start;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    let k = view.getInt32(i, true);
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

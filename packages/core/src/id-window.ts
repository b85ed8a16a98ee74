/**
 * The last `capacity` entry ids, to drop an entry a client sends again after a reconnect.
 * Allocation-free on the hot path: ids are hashed (FNV-1a) straight from the line's bytes, kept
 * in a ring of fixed 128-byte slots, and found through an open-addressing table of typed arrays;
 * a hash match is confirmed byte for byte, so two different ids are never taken for one.
 * Memory: capacity × (128 + 9) bytes plus 8 bytes per table slot (~11 MiB for 65536).
 * Ids longer than 128 bytes (possible only with multi-byte characters) go to a small string set
 * with the same bound.
 */
export class IdWindow {
  readonly capacity: number;
  readonly #keys: Buffer;
  readonly #lens: Uint8Array;
  readonly #hashes: Uint32Array;
  readonly #used: Uint8Array;
  readonly #table: Int32Array;
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
    this.#lens = new Uint8Array(capacity);
    this.#hashes = new Uint32Array(capacity);
    this.#used = new Uint8Array(capacity);
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.#table = new Int32Array(size);
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
    const h = fnv1a(buf, start, end);
    if (this.#find(buf, start, len, h) !== -1) return false;
    const slot = this.#next;
    if (this.#used[slot] === 1) this.#remove(slot);
    const keys = this.#keys;
    const base = slot * SLOT;
    for (let i = 0; i < len; i++) keys[base + i] = buf[start + i] as number;
    this.#lens[slot] = len;
    this.#hashes[slot] = h;
    this.#used[slot] = 1;
    let i = h & this.#mask;
    while (this.#table[i] !== 0) i = (i + 1) & this.#mask;
    this.#table[i] = slot + 1;
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
    return this.#find(buf, start, len, fnv1a(buf, start, end)) !== -1;
  }

  /** True when `id` is in the window. */
  has(id: string): boolean {
    const bytes = Buffer.from(id, 'utf8');
    if (bytes.length > SLOT) return this.#long.has(id);
    return this.#find(bytes, 0, bytes.length, fnv1a(bytes, 0, bytes.length)) !== -1;
  }

  #find(buf: Buffer, start: number, len: number, h: number): number {
    const table = this.#table;
    let i = h & this.#mask;
    for (;;) {
      const v = table[i] as number;
      if (v === 0) return -1;
      const slot = v - 1;
      if (this.#hashes[slot] === h && this.#lens[slot] === len && this.#same(buf, start, len, slot)) return i;
      i = (i + 1) & this.#mask;
    }
  }

  #same(buf: Buffer, start: number, len: number, slot: number): boolean {
    const keys = this.#keys;
    const base = slot * SLOT;
    for (let i = 0; i < len; i++) if (keys[base + i] !== buf[start + i]) return false;
    return true;
  }

  /** Removes `slot` from the table (linear probing: shift later entries back, no tombstones). */
  #remove(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let j = (this.#hashes[slot] as number) & mask;
    while (table[j] !== slot + 1) j = (j + 1) & mask;
    table[j] = 0;
    let k = j;
    for (;;) {
      k = (k + 1) & mask;
      const v = table[k] as number;
      if (v === 0) return;
      const ideal = (this.#hashes[v - 1] as number) & mask;
      // The entry at k may move to the hole at j unless its ideal place lies cyclically in (j, k].
      const stays = j <= k ? ideal > j && ideal <= k : ideal > j || ideal <= k;
      if (!stays) {
        table[j] = v;
        table[k] = 0;
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

function fnv1a(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  return h >>> 0;
}

/**
 * Remembers the last `capacity` entry ids, to drop an entry a client resends after a reconnect.
 * Memory is bounded by the count (ids are at most 128 characters, so at most about
 * capacity × 300 bytes; ~10 MiB for the default 32768 UUIDs).
 */
export class DedupeWindow {
  readonly capacity: number;
  #set = new Set<string>();
  #ring: (string | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#ring = new Array<string | undefined>(capacity);
  }

  /** Number of ids remembered now. */
  get size(): number {
    return this.#set.size;
  }

  /** Adds `id`; false when it is already in the window (a repeat). */
  add(id: string): boolean {
    if (this.#set.has(id)) return false;
    const old = this.#ring[this.#next];
    if (old !== undefined) this.#set.delete(old);
    this.#ring[this.#next] = id;
    this.#set.add(id);
    this.#next = (this.#next + 1) % this.capacity;
    return true;
  }

  /** True when `id` is in the window. */
  has(id: string): boolean {
    return this.#set.has(id);
  }
}

import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StoredEntry } from './stored-entry';

const MEMORY_BYTES = 16 * 1024 * 1024;
const READ_BYTES = 1024 * 1024;

/**
 * Holds one file's matching entries so they can be given back newest first. Up to 16 MiB stay
 * in memory; beyond, they go to a temporary file that is then read from its end, so memory stays
 * bounded whatever the number of matches.
 */
export class ReverseSpill {
  readonly #tempParent: string;
  readonly #file: string;
  #memory: StoredEntry[] = [];
  #memoryBytes = 0;
  #dir: string | undefined;
  #handle: FileHandle | undefined;
  #spilledBytes = 0;

  constructor(file: string, tempParent: string) {
    this.#file = file;
    this.#tempParent = tempParent;
  }

  /** Forgets everything pushed so far (in reverse reading, what came before the cursor). */
  async clear(): Promise<void> {
    this.#memory = [];
    this.#memoryBytes = 0;
    this.#spilledBytes = 0;
    await this.#handle?.truncate(0);
  }

  async push(entries: StoredEntry[]): Promise<void> {
    for (const e of entries) {
      // A copy: the entry's line is a view of a whole read chunk.
      this.#memory.push(new StoredEntry(Buffer.from(e.line), e.file));
      this.#memoryBytes += e.line.length + 64;
    }
    if (this.#memoryBytes > MEMORY_BYTES) await this.#spill();
  }

  async #spill(): Promise<void> {
    if (this.#handle === undefined) {
      this.#dir = await mkdtemp(join(this.#tempParent, 'logstream-query-'));
      this.#handle = await open(join(this.#dir, 'spill.ndjson'), 'w+', 0o600);
    }
    const parts: Buffer[] = [];
    for (const e of this.#memory) parts.push(e.line, NEWLINE_BUF);
    const data = Buffer.concat(parts);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.#handle.write(data, done, data.length - done, this.#spilledBytes + done);
      done += bytesWritten;
    }
    this.#spilledBytes += data.length;
    this.#memory = [];
    this.#memoryBytes = 0;
  }

  /** The entries pushed, newest first, in batches. */
  async *newestFirst(): AsyncGenerator<StoredEntry[]> {
    if (this.#memory.length > 0) yield this.#memory.reverse();
    this.#memory = [];
    const handle = this.#handle;
    if (handle === undefined) return;
    let end = this.#spilledBytes;
    let carry: Buffer | undefined;
    while (end > 0) {
      const start = Math.max(0, end - READ_BYTES);
      const buf = Buffer.allocUnsafe(end - start);
      await handle.read(buf, 0, buf.length, start);
      const chunk = carry === undefined ? buf : Buffer.concat([buf, carry]);
      end = start;
      const out: StoredEntry[] = [];
      // The chunk's last byte is a newline (or the first byte of the carry's line).
      let stop = chunk[chunk.length - 1] === 0x0a ? chunk.length - 1 : chunk.length;
      let nl = chunk.lastIndexOf(0x0a, stop - 1);
      while (nl !== -1) {
        out.push(new StoredEntry(chunk.subarray(nl + 1, stop), this.#file));
        stop = nl;
        nl = stop === 0 ? -1 : chunk.lastIndexOf(0x0a, stop - 1);
      }
      carry = chunk.subarray(0, stop);
      if (start === 0 && carry.length > 0) {
        out.push(new StoredEntry(carry, this.#file));
        carry = undefined;
      }
      if (out.length > 0) yield out;
    }
  }

  /** Removes the temporary file, if any. */
  async dispose(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

const NEWLINE_BUF = Buffer.from('\n');

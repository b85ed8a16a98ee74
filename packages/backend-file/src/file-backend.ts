import { open as openFile } from 'node:fs/promises';
import { formatSyslogLine, type Backend, type EntryBatch, type SyslogFormat, type SyslogFormatOptions } from '@logstream/protocol';
import { RotatingFileWriter, readArchiveTail, type RotatingFileWriterOptions } from '@logstream/rotator';
import { formatHuman } from './human-format';

/** Line format of the file backend. */
export type FileFormat = 'json' | 'human' | 'syslog';

/** Options of {@link FileBackend}: the rotator's options plus the line format. */
export interface FileBackendOptions extends RotatingFileWriterOptions {
  /**
   * `json` (default): one entry a line, exactly the LogEntry fields; `human` ({@link formatHuman});
   * `syslog` (`formatSyslogLine`: RFC 5424, or RFC 3164 per `syslog.format`). The last two escape
   * every control, bidi and line-separator character, so one entry is one line.
   */
  format?: FileFormat;
  /** For `format: 'syslog'`: the syslog flavour (default `rfc5424`) and facility. */
  syslog?: SyslogFormatOptions & { format?: SyslogFormat };
}

/**
 * Writes entries to `<directory>/current.log` through {@link RotatingFileWriter}: one buffer,
 * and so one write, per batch. In the json format the entries' canonical bytes are written as
 * they came; the other formats decode the batch once.
 */
export class FileBackend implements Backend {
  readonly name = 'file';
  readonly format: FileFormat;
  readonly writer: RotatingFileWriter;
  readonly #syslog: (SyslogFormatOptions & { format?: SyslogFormat }) | undefined;

  constructor(options: FileBackendOptions) {
    this.format = options.format ?? 'json';
    this.#syslog = options.syslog;
    this.writer = new RotatingFileWriter(options);
  }

  /** Path of the live file. */
  get path(): string {
    return this.writer.path;
  }

  /**
   * Creates the directory and opens the live file. A last line without its newline (a crash
   * in the middle of a write) is cut off first: it was never acknowledged, and the client that
   * sent it sends it again.
   */
  async open(): Promise<void> {
    this.tornBytesRemoved = await cutTornLine(this.writer.path);
    await this.writer.open();
  }

  /** Bytes of a torn last line removed at open (0 when the file ended cleanly). */
  tornBytesRemoved = 0;

  /** Writes the batch as one buffer; resolves when written (and synced, per `sync`). */
  async write(batch: EntryBatch): Promise<void> {
    if (batch.length === 0) return;
    await this.writer.write(this.#encode(batch));
  }

  #encode(batch: EntryBatch): Buffer {
    if (this.format === 'json') return batch.ndjson();
    let text = '';
    if (this.format === 'human') {
      for (const entry of batch.entries()) text += `${formatHuman(entry)}\n`;
    } else {
      const flavour = this.#syslog?.format ?? 'rfc5424';
      for (const entry of batch.entries()) text += `${formatSyslogLine(entry, flavour, this.#syslog)}\n`;
    }
    return Buffer.from(text, 'utf8');
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  close(): Promise<void> {
    return this.writer.close();
  }

  /** Reopens the live file by name (after logrotate renamed it). */
  reopen(): Promise<void> {
    return this.writer.reopen();
  }

  /** The rotator's counters: rotations, compressions, errors by cause, bytes. */
  stats(): Readonly<Record<string, number>> {
    return { ...this.writer.stats() };
  }

  /**
   * Ids of the last entries stored (json format only), newest last, read from at most
   * `maxBytes` of the end of the live file and, when that is shorter, of the newest rotated file
   * (decompressed if it was). The server seeds its dedupe window with them after a restart, so
   * an entry a client resends because a crash ate its ack is not stored twice, even when a
   * rotation came just before the crash.
   */
  async recentIds(maxBytes = 16 * 1024 * 1024): Promise<string[]> {
    if (this.format !== 'json') return [];
    let live: Buffer = Buffer.alloc(0);
    try {
      live = await readArchiveTail(this.writer.path, 'none', maxBytes);
    } catch {
      // No live file yet.
    }
    let older: Buffer = Buffer.alloc(0);
    // The writer may be compressing the newest archive (open() starts it): its uncompressed form
    // can vanish between the listing and the read, and the compressed one is then complete.
    for (let attempt = 0; attempt < 2 && live.length < maxBytes; attempt++) {
      const newest = await this.writer.newestArchive().catch(() => undefined);
      if (newest === undefined) break;
      try {
        older = await readArchiveTail(newest.path, newest.compression, maxBytes - live.length);
        break;
      } catch (error) {
        // Anything but a vanished file: an unreadable archive only narrows the window.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') break;
      }
    }
    return [...idsIn(older, older.length >= maxBytes - live.length), ...idsIn(live, live.length >= maxBytes)];
  }
}

/** Ids at the start of each JSON line of `text`; the first line is skipped when it may be cut. */
function idsIn(buf: Buffer, firstMayBeCut: boolean): string[] {
  const ids: string[] = [];
  const lines = buf.toString('utf8').split('\n');
  for (let i = firstMayBeCut ? 1 : 0; i < lines.length; i++) {
    const m = /^\{"id":"((?:[^"\\]|\\.)*)"/.exec(lines[i] as string);
    if (m !== null) ids.push(JSON.parse(`"${m[1]}"`) as string);
  }
  return ids;
}

/** Truncates `path` after its last newline; returns the bytes removed. Missing file: 0. */
async function cutTornLine(path: string): Promise<number> {
  let handle;
  try {
    handle = await openFile(path, 'r+');
  } catch {
    return 0;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return 0;
    const chunk = Buffer.allocUnsafe(Math.min(size, 1024 * 1024));
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const nl = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl !== -1) {
        const keep = start + nl + 1;
        if (keep < size) await handle.truncate(keep);
        return size - keep;
      }
      end = start;
    }
    await handle.truncate(0);
    return size;
  } finally {
    await handle.close();
  }
}

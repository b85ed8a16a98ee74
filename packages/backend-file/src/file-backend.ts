// Owns the file Backend: a batch to one buffer in the chosen line format, written through the
// rotator; cutting a torn line at open; the ids stored last; errors and metrics per the contract.
import { EventEmitter } from 'node:events';
import {
  ByteSink,
  SyslogWriter,
  closedError,
  readLeadingId,
  type Backend,
  type BackendContext,
  type BackendEvents,
  type BackendMetric,
  type EntryBatch,
  type SyslogFormat,
  type SyslogFormatOptions,
} from '@logstream/protocol';
import {
  RotatingFileWriter,
  cutTornLine,
  readArchiveTail,
  secureDirectory,
  type RotatorError,
  type RotatingFileWriterOptions,
} from '@logstream/rotator';
import { HumanWriter } from './human-format';

/** Line format of the file backend. */
export type FileFormat = 'json' | 'human' | 'syslog';

/** Default of {@link FileBackendOptions.format}. */
export const DEFAULT_FILE_FORMAT: FileFormat = 'json';
const FORMATS: readonly FileFormat[] = ['json', 'human', 'syslog'];

/** Options of {@link FileBackend}: the rotator's options plus the line format. */
export interface FileBackendOptions extends RotatingFileWriterOptions {
  /**
   * `json` (default): one entry a line, exactly the LogEntry fields; `human` (`formatHuman`);
   * `syslog` (`formatSyslogLine`: RFC 5424, or RFC 3164 per `syslog.format`). The last two escape
   * every control, bidi and line-separator character, so one entry is one line.
   */
  format?: FileFormat;
  /** For `format: 'syslog'`: the syslog flavour (default `rfc5424`) and facility. */
  syslog?: SyslogFormatOptions & { format?: SyslogFormat };
  /**
   * Name for logs and metric labels (the `backend` label). Default `"file"`; give each file
   * backend of one server its own, or their metrics add up under one label.
   */
  name?: string;
}

/**
 * Writes entries to `<directory>/current.log` through {@link RotatingFileWriter}: one buffer,
 * and so one write, per batch. In the json format the entries' canonical bytes are written as
 * they came; the other formats are written from those bytes too (no decode per entry).
 *
 * Reports each failure of background work (rotation, compression, retention deletes, directory
 * scans) as a `RotatorError` naming the operation, the file and the errno (`rotate failed for
 * /var/log/logstream/current.log: EMFILE: too many open files, open …`): to the `reportError` of
 * the context `open()` got, or, opened without one, as an `'error'` event (only while a listener
 * is attached). Writes go on meanwhile and the failed step is retried; the counters in
 * {@link stats} and {@link metrics} record each failure either way.
 */
export class FileBackend extends EventEmitter<BackendEvents> implements Backend {
  readonly name: string;
  readonly format: FileFormat;
  readonly writer: RotatingFileWriter;
  #closed = false;
  #reportError: ((error: Error) => void) | undefined;
  // Formats from each line's bytes (no JSON.parse per entry): one buffer per batch.
  readonly #lineWriter: Pick<HumanWriter, 'writeLine'> | undefined;

  /** @throws RangeError for an option out of range, naming it (`name`, `format`, the writer's). */
  constructor(options: FileBackendOptions) {
    super();
    const name = options.name ?? 'file';
    if (typeof name !== 'string' || name.trim() === '') {
      throw new RangeError(`name must be a non-empty string, got ${JSON.stringify(name)}`);
    }
    this.name = name;
    this.format = options.format ?? DEFAULT_FILE_FORMAT;
    if (!FORMATS.includes(this.format)) {
      throw new RangeError(`format must be 'json', 'human' or 'syslog', got ${JSON.stringify(this.format)}`);
    }
    const syslog = options.syslog;
    this.#lineWriter =
      this.format === 'human'
        ? new HumanWriter()
        : this.format === 'syslog'
          ? new SyslogWriter(syslog?.format ?? 'rfc5424', syslog, 'file')
          : undefined;
    this.writer = new RotatingFileWriter(options);
    this.writer.on('error', (error: RotatorError) => {
      if (this.#reportError !== undefined) this.#reportError(error);
      else if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  /** Path of the live file. */
  get path(): string {
    return this.writer.path;
  }

  /**
   * Creates the directory and opens the live file. A last line without its newline (a crash
   * in the middle of a write) is cut off first: it was never acknowledged, and the client that
   * sent it sends it again.
   *
   * @throws RotatorError (operation `open`) before touching any file when the directory is a
   *   symbolic link or another non-root user may write to it, or when `current.log` is a
   *   symbolic link (its target is left byte for byte as it was), not a regular file or another
   *   user's; the fs error when the directory or the file cannot be made or opened.
   */
  async open(context: BackendContext = {}): Promise<void> {
    if (context.reportError !== undefined) this.#reportError = context.reportError.bind(context);
    await secureDirectory(this.writer.directory);
    this.tornBytesRemoved = await cutTornLine(this.writer.path);
    await this.writer.open();
  }

  /** Bytes of a torn last line removed at open (0 when the file ended cleanly). */
  tornBytesRemoved = 0;

  /** Writes the batch as one buffer; resolves when written (and synced, per `sync`). */
  async write(batch: EntryBatch): Promise<void> {
    if (this.#closed) throw closedError(`${this.name} backend`);
    if (batch.length === 0) return;
    await this.writer.write(this.#encode(batch));
  }

  #encode(batch: EntryBatch): Buffer {
    const writer = this.#lineWriter;
    if (writer === undefined) return batch.ndjson();
    const lines = batch.lines;
    const sink = new ByteSink(batch.byteLength + 64 * lines.length);
    for (const line of lines) {
      writer.writeLine(line, sink);
      sink.byte(0x0a);
    }
    return sink.bytes();
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  close(): Promise<void> {
    this.#closed = true;
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
   * The rotator's counters as typed samples: rotations, compressions and deletes (and their
   * errors) as counters, `logstream_live_file_bytes` as a gauge, writes as backend events.
   */
  metrics(): readonly BackendMetric[] {
    return this.writer.metrics();
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

/**
 * Ids of the JSON lines of `buf`; the first line is skipped when it may be cut. A line in the
 * canonical form the server writes (`{"id":"…",…`) is read without a parse; any other line
 * (spaced JSON, keys in another order) is parsed, so that the dedupe window after a restart does
 * not depend on how a stored line is laid out.
 */
function idsIn(buf: Buffer, firstMayBeCut: boolean): string[] {
  const ids: string[] = [];
  const lines = buf.toString('utf8').split('\n');
  for (let i = firstMayBeCut ? 1 : 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const leading = readLeadingId(line);
    if (leading !== undefined) {
      ids.push(leading);
      continue;
    }
    const id = parsedId(line);
    if (id !== undefined) ids.push(id);
  }
  return ids;
}

/** The string `id` of a line holding one JSON object, or undefined. */
function parsedId(line: string): string | undefined {
  if (!line.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null) return undefined;
    const id = (value as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

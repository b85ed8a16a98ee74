// Owns intake: what the server does with each complete line of a connection. The first line
// may be the handshake; an entry is taken on the fast path (scanCanonicalEntry: already
// canonical, stored as its bytes) or the slow path (decode, complete, encode), dropped if the
// dedupe window has its id, and added to the gathering batch; a bad line is answered.
import { decodeEntryLine, encodeEntry, type LogLevel, type LogStreamErrorCode, type LogStreamErrorKind } from '@logstream/protocol';
import type { BatchBuilder } from './batch-builder';
import type { Connection } from './connection';
import type { DedupeWindow } from './dedupe-window';
import { completeEntry } from './enrich';
import { scanCanonicalEntry, type ScannedEntry } from './fast-scan';
import type { ServerCounters } from './server-counters';

/** A bad line or handshake, as the server's `'client-error'` event tells it. */
export interface ClientError {
  kind: LogStreamErrorKind;
  code: LogStreamErrorCode;
  message: string;
}

/** What intake needs from the server. */
export interface IntakeOptions {
  maxLineBytes: number;
  /** Hostname filled into entries that have none. */
  hostname: string;
  /** Daemon of entries of connections without a handshake. */
  defaultDaemon: string;
  /** Drops resent entries; undefined: dedupe is off. */
  dedupe: DedupeWindow | undefined;
  /** The server's counters (received, duplicates, errors by kind). */
  counters: ServerCounters;
  /** Where entries go. */
  batch: BatchBuilder<Connection>;
  /** Told each bad line or handshake (after it was counted and answered). */
  clientError: (error: ClientError) => void;
}

/**
 * Takes the complete lines of every connection. One instance per server; per line it allocates
 * nothing on the fast path.
 */
export class Intake {
  readonly #maxLineBytes: number;
  readonly #hostname: string;
  readonly #defaultDaemon: string;
  readonly #dedupe: DedupeWindow | undefined;
  readonly #counters: ServerCounters;
  readonly #batch: BatchBuilder<Connection>;
  readonly #clientError: (error: ClientError) => void;
  readonly #scan: ScannedEntry = { level: 0, idStart: 0, idEnd: 0 };

  constructor(options: IntakeOptions) {
    this.#maxLineBytes = options.maxLineBytes;
    this.#hostname = options.hostname;
    this.#defaultDaemon = options.defaultDaemon;
    this.#dedupe = options.dedupe;
    this.#counters = options.counters;
    this.#batch = options.batch;
    this.#clientError = options.clientError;
  }

  /**
   * Takes one complete line of `conn` (without its newline): the handshake if it is the first
   * and not an entry; else an entry, counted in `conn.seq` (fast path, then slow path).
   */
  takeLine(conn: Connection, line: Buffer): void {
    if (conn.finished || conn.refused) return;
    if (conn.daemon === undefined) {
      if (line[0] !== 0x7b /* { */) {
        const problem = conn.handshake(line, this.#maxLineBytes);
        if (problem !== undefined) {
          // Answered once; whatever else the peer sends is not read.
          this.#reject(conn, 'client', 'INVALID_HANDSHAKE', `invalid handshake: ${problem}`, undefined);
          conn.finish();
        }
        return;
      }
      conn.daemon = '';
    }
    const seq = ++conn.seq;
    this.#counters.messagesReceived++;
    const scan = this.#scan;
    if (scanCanonicalEntry(line, scan)) {
      if (this.#dedupe !== undefined && !this.#dedupe.addBytes(line, scan.idStart, scan.idEnd)) {
        this.#counters.duplicatesDropped++;
        return;
      }
      // Zero-copy: a view of the socket's chunk, kept until the batch is written.
      this.#batch.add(line, scan.level as LogLevel);
      return;
    }
    this.#slowLine(conn, line, seq);
  }

  /** A line of `conn` longer than maxLineBytes (discarded as it streamed): counted and refused. */
  takeOversize(conn: Connection, bytes: number): void {
    if (conn.daemon === undefined) conn.daemon = '';
    const seq = ++conn.seq;
    this.#counters.messagesReceived++;
    this.#reject(conn, 'serde', 'LINE_TOO_LONG', `line of ${bytes} bytes exceeds max_line_bytes ${this.#maxLineBytes}`, seq);
  }

  /** Lines that are not complete canonical entries: JSON.parse, check, complete, encode. */
  #slowLine(conn: Connection, line: Buffer, seq: number): void {
    const decoded = decodeEntryLine(line);
    if (!decoded.ok) {
      this.#reject(conn, 'serde', decoded.code, decoded.message, seq);
      return;
    }
    const { entry } = completeEntry(decoded.entry, { daemon: conn.daemon || this.#defaultDaemon, hostname: this.#hostname });
    if (this.#dedupe !== undefined && !this.#dedupe.add(entry.id)) {
      this.#counters.duplicatesDropped++;
      return;
    }
    // Always the canonical encoding, never the bytes sent: they may have spaces, escapes or a key
    // twice (JSON.parse kept the last value; a reader keeping the first would see another entry),
    // and readers of the stored lines (dedupe after a restart among them) expect one layout.
    this.#batch.add(Buffer.from(encodeEntry(entry)), entry.level);
  }

  #reject(conn: Connection, kind: LogStreamErrorKind, code: LogStreamErrorCode, message: string, seq: number | undefined): void {
    this.#counters.errors[kind]++;
    this.#clientError({ kind, code, message: conn.sendError(kind, code, message, seq) });
  }
}

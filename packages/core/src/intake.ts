// Owns intake: what the server does with each complete line of a connection. The first line
// may be the handshake; an entry is taken on the fast path (canonicalizeLine: any key order,
// partial entries, copied into an arena in canonical form with the connection's peer last) or
// the slow path (decode, complete, encode), dropped if the dedupe window has its id, and added
// to the gathering batch; a bad line is answered.
import {
  canonicalContext,
  canonicalRoom,
  canonicalizeLine,
  decodeEntryLine,
  encodeEntry,
  encodeError,
  type CanonicalLine,
  type LogLevel,
  type LogStreamErrorCode,
  type LogStreamErrorKind,
} from '@logstream/protocol';
import type { BatchBuilder } from './batch-builder';
import type { Connection } from './connection';
import type { DedupeWindow } from './dedupe-window';
import type { RateLimiter } from './rate-limiter';
import { completeEntry } from './enrich';
import type { ServerCounters } from './server-counters';

/** A bad line or handshake, as the server's `'client-error'` event tells it. */
export interface ClientError {
  kind: LogStreamErrorKind;
  code: LogStreamErrorCode;
  message: string;
}

/**
 * Bytes of each arena fast-path lines are copied into (a longer line gets an arena of its own
 * size). As large as a batch may grow (MAX_BATCH_BYTES): a batch lies in one arena, or two, as
 * one NDJSON run each (BatchBuilder.addFrom), handed to the backends as views.
 */
const ARENA_BYTES = 1024 * 1024;

/** What intake needs from the server. */
export interface IntakeOptions {
  maxLineBytes: number;
  /** Hostname filled into entries that have none. */
  hostname: string;
  /** Daemon of entries of connections without a handshake. */
  defaultDaemon: string;
  /** Drops resent entries; undefined: dedupe is off. */
  dedupe: DedupeWindow | undefined;
  /** Per-sender rate limit; undefined: off. */
  rateLimiter: RateLimiter | undefined;
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
  readonly #rateLimiter: RateLimiter | undefined;
  readonly #counters: ServerCounters;
  readonly #batch: BatchBuilder<Connection>;
  readonly #clientError: (error: ClientError) => void;
  readonly #canon: CanonicalLine = { level: 0, end: 0, idStart: 0, idEnd: 0 };
  // Where fast-path lines are copied in their canonical form (see #fastLine); a full arena is
  // left to the batches holding views of it and a new one begins.
  #arena: Buffer = Buffer.alloc(0);
  #arenaPos = 0;

  constructor(options: IntakeOptions) {
    this.#maxLineBytes = options.maxLineBytes;
    this.#hostname = options.hostname;
    this.#defaultDaemon = options.defaultDaemon;
    this.#dedupe = options.dedupe;
    this.#rateLimiter = options.rateLimiter;
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
    if (conn.rateKey !== undefined && this.#rateLimited(conn)) return;
    if (this.#fastLine(conn, line)) return;
    this.#slowLine(conn, line, seq);
  }

  /**
   * Counts a line of `conn` against its sender's rate limit: true when it is over the burst
   * (dropped, counted; the ack still covers it, so the client does not send it again). The
   * connection is told once per window.
   */
  #rateLimited(conn: Connection): boolean {
    const limiter = this.#rateLimiter as RateLimiter;
    const window = limiter.take(conn.rateKey as string, conn.lastDataAt);
    if (window === 0) return false;
    this.#counters.intakeDropped.rate_limited++;
    if (window !== conn.rateTold) {
      conn.rateTold = window;
      conn.send(
        encodeError({
          kind: 'server',
          code: 'RATE_LIMITED',
          message: `${conn.rateKey} sent more than rate_limit_burst ${limiter.burst} entries within rate_limit_interval_ms ${limiter.intervalMs}: the rest of this interval's entries are acknowledged and not stored`,
        }),
      );
    }
    return true;
  }

  /**
   * Lines the byte scanner takes (any key order, partial entries): validated and copied into
   * the arena in canonical form, completed and closed with the connection's peer, no objects
   * built (see canonicalizeLine). False: the line takes the slow path.
   */
  #fastLine(conn: Connection, line: Buffer): boolean {
    const context = (conn.canonical ??= canonicalContext(conn.daemon || this.#defaultDaemon, this.#hostname, conn.identity));
    // The line and its newline: lines back to back in the arena are one NDJSON run, written in
    // one copy (EntryBatch.ndjson), not one per line.
    const room = canonicalRoom(line.length, context) + 1;
    if (this.#arena.length - this.#arenaPos < room) {
      this.#arena = Buffer.allocUnsafeSlow(Math.max(ARENA_BYTES, room));
      this.#arenaPos = 0;
    }
    const out = this.#canon;
    const arena = this.#arena;
    if (!canonicalizeLine(line, context, arena, this.#arenaPos, out)) return false;
    if (this.#dedupe !== undefined && !this.#dedupe.addBytes(arena, out.idStart, out.idEnd)) {
      this.#counters.duplicatesDropped++;
      return true;
    }
    // A copy, not a view of the socket's chunk: the chunk is free once its lines are read.
    arena[out.end] = 0x0a;
    this.#batch.addFrom(arena, this.#arenaPos, out.end, out.level as LogLevel);
    this.#arenaPos = out.end + 1;
    return true;
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
    // The server's word on the sender, never the client's (a sent peer was dropped by the check).
    this.#batch.addEncoded(encodeEntry({ ...entry, peer: conn.identity }), entry.level);
  }

  #reject(conn: Connection, kind: LogStreamErrorKind, code: LogStreamErrorCode, message: string, seq: number | undefined): void {
    this.#counters.errors[kind]++;
    this.#clientError({ kind, code, message: conn.sendError(kind, code, message, seq) });
  }
}

// Owns one client connection's protocol state: its socket and sender, the handshake, the lines
// received (seq) and acknowledged, the frames the server sends it (ready, acks, errors), refusal,
// and the linger before its socket is destroyed; and tells shutdown when it is drained and when
// its acks are out. How its reads are scheduled is read-turns.ts's (`turn`).
import type { Socket } from 'node:net';
import {
  LineSplitter,
  checkDaemonName,
  encodeAck,
  encodeError,
  encodeReady,
  type CanonicalContext,
  type LineSink,
  type LogStreamErrorCode,
  type LogStreamErrorKind,
  type PeerIdentity,
} from '@logstream/protocol';
import type { PeerCredentials } from './peer-credentials';
import { readPeerIdentity } from './peer-identity';
import { TurnState } from './read-turns';

/** Longest message in an error frame, in characters. */
const MAX_ERROR_MESSAGE_CHARS = 1024;
/** At shutdown, a connection that sent nothing for this long (and has nothing held) is drained. */
export const DRAIN_QUIET_MS = 200;

/** What a connection is given at accept. */
export interface ConnectionOptions {
  /** The sending process, as the kernel says (undefined where it cannot). */
  peer: PeerCredentials | undefined;
  maxLineBytes: number;
  /** See `LogServerOptions.lingerMs`. */
  lingerMs: number;
  /** The connection's line sink (called once, at construction). */
  sink: (conn: Connection) => LineSink;
}

/**
 * One client connection. Fields the server's modules share on the hot path are plain; the
 * frames, the linger and the shutdown waits are this class's own.
 */
export class Connection {
  readonly socket: Socket;
  /** The sending process, as the kernel says (undefined where it cannot). */
  readonly peer: PeerCredentials | undefined;
  /** `peer` as stored on every entry of this connection (null: the kernel cannot say). */
  readonly identity: PeerIdentity | null;
  /** How this connection's lines are completed and closed; set with its first entry. */
  canonical: CanonicalContext | undefined = undefined;
  /** The sender under the rate limit (undefined: no limit); see rateLimitBurst. */
  rateKey: string | undefined = undefined;
  /** The number of the last rate-limit window this connection was told about. */
  rateTold = 0;
  readonly splitter: LineSplitter;
  readonly sink: LineSink;
  /** Scheduler state of its reads (see read-turns.ts). */
  readonly turn = new TurnState();
  /** Handshake state: undefined until the first line, '' when it was an entry (no handshake). */
  daemon: string | undefined = undefined;
  /**
   * When the line being received began (`Date.now()`), or when the connection was accepted
   * until its first line is complete; 0 between lines. See handshakeTimeoutMs.
   */
  lineSince: number;
  /** Bytes of `splitter.heldBytes` counted in the server's total of unfinished lines. */
  partialBytes = 0;
  /** The server refused the connection: nothing more is read from it. */
  refused = false;
  /** Lines received on this connection that count in acks (entries, valid or not). */
  seq = 0;
  /** Lines acknowledged (the last ack sent, or owed). */
  acked = 0;
  /** Nothing more will be read: the peer ended its side, or the server refused it, or it closed. */
  ended = false;
  /** When its last chunk came (`Date.now()`). */
  lastDataAt: number;
  /** The server ended its side (see finish): nothing more is read from the peer. */
  finished = false;
  readonly #lingerMs: number;
  /** Destroys the socket once the linger is over (see finish); cleared when it closes first. */
  #lingerTimer: NodeJS.Timeout | undefined;
  /** An ack is waiting for the peer to read what was sent before it (see #sendAck). */
  #ackOwed = false;
  #closed = false;
  /** Shutdown waits for this connection to be drained (see drained). */
  #drain: { since: number; resolve: () => void; timer: NodeJS.Timeout | undefined } | undefined;
  /** Shutdown waits for acks up to this seq (see acksOut). */
  #acksOut: { seq: number; resolve: () => void } | undefined;

  constructor(socket: Socket, options: ConnectionOptions) {
    this.socket = socket;
    this.peer = options.peer;
    this.identity = readPeerIdentity(options.peer);
    this.splitter = new LineSplitter(options.maxLineBytes);
    this.#lingerMs = options.lingerMs;
    this.lineSince = this.lastDataAt = Date.now();
    this.sink = options.sink(this);
  }

  /**
   * Takes the first line as the daemon's name: answers `ready` (with the longest line accepted)
   * if it is a valid name. Returns what is wrong with it otherwise (nothing is sent).
   */
  handshake(line: Buffer, maxLineBytes: number): string | undefined {
    const name = line.toString('utf8');
    const problem = checkDaemonName(name);
    if (problem !== undefined) return problem;
    this.daemon = name;
    this.send(encodeReady(maxLineBytes));
    return undefined;
  }

  /** Sends a frame if the socket is still writable. */
  send(frame: string): void {
    if (!this.socket.writable) return;
    this.socket.write(frame);
  }

  /**
   * Sends an error frame for a bad line (`seq`) or handshake, its message cut to a readable
   * length. Skipped while the peer does not read its answers: a stream of bad lines it never
   * reads the answers to must not pile frames up in memory (the acks still cover the lines).
   * @returns the message as worded in the frame
   */
  sendError(kind: LogStreamErrorKind, code: LogStreamErrorCode, message: string, seq: number | undefined): string {
    // One 64 KiB line of bad fields words thousands of issues: keep the answer small.
    if (message.length > MAX_ERROR_MESSAGE_CHARS) {
      message = `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}… (${message.length} characters in all)`;
    }
    if (!this.socket.writableNeedDrain) {
      this.send(encodeError(seq === undefined ? { kind, code, message } : { kind, code, message, seq }));
    }
    return message;
  }

  /**
   * Refuses the connection from now on: an error frame (always sent), nothing more read, its
   * held bytes forgotten. The caller acknowledges its complete lines as usual; then the server
   * ends its side (see finish).
   */
  refuse(kind: LogStreamErrorKind, code: LogStreamErrorCode, message: string): void {
    this.refused = true;
    this.turn.held = undefined;
    this.turn.endPending = false;
    this.socket.pause();
    this.send(encodeError({ kind, code, message }));
    this.markEnded();
  }

  /** Nothing more will be read from the peer (it ended its side, or was refused). */
  markEnded(): void {
    this.ended = true;
    if (this.#drain !== undefined) this.checkDrain();
  }

  /** Acknowledges the lines up to `seq` (cumulative: an older seq is ignored). */
  ack(seq: number): void {
    if (seq > this.acked) {
      this.acked = seq;
      this.#sendAck();
    }
    const waiting = this.#acksOut;
    if (waiting !== undefined && this.acked >= waiting.seq) {
      this.#acksOut = undefined;
      waiting.resolve();
    }
  }

  /** All its lines are acknowledged and the peer ended: the server is done with it. */
  get done(): boolean {
    return this.ended && this.acked >= this.seq;
  }

  /** Ends the server's side; destroys the socket if the peer has not closed within lingerMs. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const socket = this.socket;
    socket.end();
    // A connection the server refused has its answers in the peer's queue once they are flushed
    // (a Unix socket keeps them readable after we close): no need to keep it, and what it holds
    // (a paused socket keeps one more read buffered), for the whole linger.
    if (this.refused) socket.once('finish', () => socket.destroy());
    this.#lingerTimer = setTimeout(() => socket.destroy(), this.#lingerMs).unref();
  }

  /** The socket closed: stops the linger and whatever shutdown waits for. */
  closed(): void {
    this.#closed = true;
    this.ended = true;
    clearTimeout(this.#lingerTimer);
    this.#settleDrain();
    const waiting = this.#acksOut;
    this.#acksOut = undefined;
    waiting?.resolve();
  }

  /**
   * Resolves once the connection is drained for shutdown: its turn holds nothing, and the peer
   * ended its side or sent nothing for DRAIN_QUIET_MS counted from `sinceMs` (`Date.now()`) at
   * the earliest, since what a client sent just before may not be read yet. Woken by the events
   * that change it (end, close, the end of its turn, the quiet timer); see {@link stopDrain}.
   */
  drained(sinceMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#drain = { since: sinceMs, resolve, timer: undefined };
      this.checkDrain();
    });
  }

  /** Settles a pending {@link drained} now (the shutdown deadline passed). */
  stopDrain(): void {
    this.#settleDrain();
  }

  /**
   * Whether the connection is drained for shutdown now (see {@link drained}).
   * @param sinceMs quiet time counts from here at the earliest (`Date.now()`)
   */
  isDrained(sinceMs: number): boolean {
    if (this.#closed) return true;
    // Bytes read and not yet handled (held for the next turn) keep it busy.
    if (this.turn.busy) return false;
    return this.ended || Date.now() - Math.max(this.lastDataAt, sinceMs) >= DRAIN_QUIET_MS;
  }

  /** Looks again whether shutdown's wait is over (after an event that may have ended it). */
  checkDrain(): void {
    const drain = this.#drain;
    if (drain === undefined) return;
    if (this.isDrained(drain.since)) return this.#settleDrain();
    // Busy with a held chunk: the end of its turn looks again. Else quiet, not long enough yet.
    if (this.turn.busy) return;
    clearTimeout(drain.timer);
    drain.timer = setTimeout(() => this.checkDrain(), DRAIN_QUIET_MS - (Date.now() - Math.max(this.lastDataAt, drain.since)));
  }

  /**
   * Resolves once every line read so far is acknowledged (or the socket closed). Lines that are
   * never acknowledged (not stored by the shutdown deadline) leave it pending: race it.
   */
  acksOut(): Promise<void> {
    if (this.acked >= this.seq || this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => (this.#acksOut = { seq: this.seq, resolve }));
  }

  #settleDrain(): void {
    const drain = this.#drain;
    if (drain === undefined) return;
    this.#drain = undefined;
    clearTimeout(drain.timer);
    drain.resolve();
  }

  /**
   * Sends the cumulative ack. While the peer is not reading (the socket's buffer is over its
   * high-water mark) the ack is owed instead, and the latest one goes out on 'drain': acks are
   * cumulative, so skipping some loses nothing, and a client that only writes cannot grow the
   * server's memory. The last ack of an ended connection is always written.
   */
  #sendAck(): void {
    const socket = this.socket;
    if (!socket.writable) return;
    if (socket.writableNeedDrain && !this.ended) {
      if (!this.#ackOwed) {
        this.#ackOwed = true;
        socket.once('drain', () => {
          this.#ackOwed = false;
          this.#sendAck();
        });
      }
      return;
    }
    socket.write(encodeAck(this.acked));
  }
}

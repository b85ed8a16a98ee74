// Owns fair read turns: how long one connection may be read before it waits for the others
// (TURN_MS), the line callback's verdict (go on with the chunk, or stop), the rest of a chunk
// held for the connection's next turn, and waking the connections whose turn comes again.
import { performance } from 'node:perf_hooks';
import type { Connection } from './connection';

/**
 * Milliseconds of the server's time a connection may take (reading, checking, refusing its
 * lines) before it waits for the others to have their turn. libuv reads a readable socket up to
 * 32 times per turn of the event loop: without this bound one client flooding the server with
 * lines that are slow to refuse would hold every other client's entries back for hundreds of
 * milliseconds. A well-behaved busy client yields every two or three 64 KiB reads.
 */
export const TURN_MS = 1;

/** One connection's share of the turns (scheduler state, apart from its protocol state). */
export class TurnState {
  /** Milliseconds spent on this connection since it last waited for the others. */
  ms = 0;
  /** Waiting for the others' reads of this turn of the event loop. */
  paused = false;
  /** The rest of a chunk whose lines did not fit in this connection's turn; read next turn. */
  held: Buffer | undefined = undefined;
  /** The peer's 'end' came while `held` was waiting: handled once it is read. */
  endPending = false;

  /** Bytes read and not yet handled: the connection waits for its next turn. */
  get busy(): boolean {
    return this.held !== undefined || this.paused;
  }
}

/** What the turns do with a connection whose turn came again. */
export interface ReadTurnsHost {
  /** Reads a chunk (the held rest of one) within the connection's turn. */
  feed(conn: Connection, chunk: Buffer): void;
  /** The peer ended its side (its 'end' waited behind held bytes). */
  end(conn: Connection): void;
  /** Reading is paused for backpressure: a connection whose turn comes stays paused. */
  readonly readPaused: boolean;
}

/**
 * Fair turns between connections. Each chunk is read within its connection's share (TURN_MS per
 * turn of the event loop); past it, the splitter stops after the current line, the rest of the
 * chunk is held, and the connection is paused until the others had theirs (setImmediate runs
 * after this turn's reads).
 */
export class ReadTurns {
  readonly #host: ReadTurnsHost;
  #lineTick = 0;
  #deadline = 0;
  #waiting: Connection[] = [];

  constructor(host: ReadTurnsHost) {
    this.#host = host;
  }

  /** Starts reading a chunk of a connection with `turn`; returns when (`performance.now()`). */
  begin(turn: TurnState): number {
    const started = performance.now();
    this.#deadline = started + TURN_MS - turn.ms;
    return started;
  }

  /**
   * The line callback's verdict after each line: true to go on with the chunk. Past the turn's
   * deadline (looked at every 64 lines) the rest of the chunk waits.
   */
  lineDone(): boolean {
    return (++this.#lineTick & 63) !== 0 || performance.now() < this.#deadline;
  }

  /**
   * Ends reading a chunk begun at `started`: adds the time to the turn; returns now
   * (`performance.now()`).
   */
  spent(turn: TurnState, started: number): number {
    const now = performance.now();
    turn.ms += now - started;
    return now;
  }

  /**
   * After the chunk: holds what the splitter did not take (`chunk` from `taken`) and yields the
   * connection if it holds bytes or used up its share.
   */
  after(conn: Connection, chunk: Buffer, taken: number): void {
    const turn = conn.turn;
    if (taken < chunk.length) turn.held = chunk.subarray(taken);
    if ((turn.held !== undefined || turn.ms >= TURN_MS) && !turn.paused) this.#yield(conn);
  }

  /**
   * A chunk came while the connection holds the rest of an earlier one: kept behind it, in
   * order (true). False when nothing is held: read it now.
   */
  queue(turn: TurnState, chunk: Buffer): boolean {
    if (turn.held === undefined) return false;
    turn.held = Buffer.concat([turn.held, chunk]);
    return true;
  }

  /**
   * The peer ended its side: true when the end must wait behind held bytes (it is handled once
   * they are read), false to handle it now.
   */
  deferEnd(turn: TurnState): boolean {
    if (turn.held === undefined) return false;
    turn.endPending = true;
    return true;
  }

  /** Pauses `conn` until the other connections' data of this turn of the event loop is read. */
  #yield(conn: Connection): void {
    conn.turn.paused = true;
    conn.socket.pause();
    this.#waiting.push(conn);
    if (this.#waiting.length > 1) return;
    // setImmediate runs after this turn's reads.
    setImmediate(() => {
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const c of waiting) {
        this.#resume(c);
        // Shutdown waits for bytes held by a turn: this was its end.
        c.checkDrain();
      }
    });
  }

  #resume(c: Connection): void {
    const turn = c.turn;
    turn.paused = false;
    turn.ms = 0;
    if (c.refused) return;
    const held = turn.held;
    if (held !== undefined) {
      // Read even under backpressure: its bytes are in memory already, and it keeps order.
      turn.held = undefined;
      this.#host.feed(c, held);
    }
    if (turn.paused || turn.held !== undefined) return;
    if (turn.endPending) {
      turn.endPending = false;
      this.#host.end(c);
    } else if (!this.#host.readPaused) {
      // Under backpressure the sockets stay paused; the pressure gate's resume wakes them all.
      c.socket.resume();
    }
  }
}

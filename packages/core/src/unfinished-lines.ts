// Owns the bounds on unfinished lines (a line whose newline has not come yet): their memory
// across all connections (maxPartialBytes: the connections holding the most are refused) and
// their time (handshakeTimeoutMs: a first line, or a line begun, not finished in time).
import type { LogStreamErrorCode, LogStreamErrorKind } from '@logstream/protocol';
import type { Connection } from './connection';

/** Refuses a connection (error frame, nothing more read); the server's. */
export type RefuseConnection = (conn: Connection, kind: LogStreamErrorKind, code: LogStreamErrorCode, message: string) => void;

/**
 * The bytes every connection's splitter holds for an unfinished line, kept as one running total
 * (O(1) per chunk, nothing per line), and when each connection's current line began.
 */
export class UnfinishedLines {
  readonly maxPartialBytes: number;
  readonly timeoutMs: number;
  readonly #conns: ReadonlySet<Connection>;
  readonly #refuse: RefuseConnection;
  #bytes = 0;

  /**
   * @param maxPartialBytes bound on the bytes held across `conns`
   * @param timeoutMs time a connection has for its first line, and for a line it began
   * @param conns the open connections
   * @param refuse refuses a connection past a bound
   */
  constructor(maxPartialBytes: number, timeoutMs: number, conns: ReadonlySet<Connection>, refuse: RefuseConnection) {
    this.maxPartialBytes = maxPartialBytes;
    this.timeoutMs = timeoutMs;
    this.#conns = conns;
    this.#refuse = refuse;
  }

  /** Bytes held for unfinished lines across all connections. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * After a chunk of `conn` was read: when its current line began (`lineEnded`: the chunk
   * completed a line, or the handshake), and its share of the total, refusing the largest
   * holders if the total is past the bound.
   */
  afterChunk(conn: Connection, lineEnded: boolean): void {
    const splitter = conn.splitter;
    // A line's time runs from the chunk that began it; the first line's from the accept.
    if (lineEnded) conn.lineSince = splitter.inLine ? conn.lastDataAt : 0;
    else if (conn.lineSince === 0 && splitter.inLine) conn.lineSince = conn.lastDataAt;
    // The search for whom to refuse runs only past the bound, and frees an eighth of it each time.
    const held = splitter.heldBytes;
    if (held !== conn.partialBytes) {
      this.#bytes += held - conn.partialBytes;
      conn.partialBytes = held;
      if (this.#bytes > this.maxPartialBytes) this.#shed();
    }
  }

  /** Forgets what `conn`'s splitter holds of an unfinished line, and its share of the total. */
  drop(conn: Connection): void {
    conn.splitter.reset();
    this.#bytes -= conn.partialBytes;
    conn.partialBytes = 0;
  }

  /**
   * Refuses connections whose first line, or a line they began, is older than the timeout.
   * `resumedAt`: when reading last resumed after backpressure (time not reading does not count).
   */
  sweep(resumedAt: number): void {
    const limit = Date.now() - this.timeoutMs;
    if (resumedAt > limit) return;
    for (const conn of this.#conns) {
      const since = conn.lineSince;
      if (since === 0 || since > limit || conn.ended || conn.finished || conn.refused) continue;
      // Bytes it sent are waiting for their turn: they may well end the line.
      if (conn.turn.busy) continue;
      const what =
        conn.daemon === undefined
          ? `no complete first line within handshake_timeout_ms ${this.timeoutMs}`
          : `line not finished within handshake_timeout_ms ${this.timeoutMs}`;
      this.#refuse(conn, 'client', 'TIMEOUT', `${what}; closing the connection`);
    }
  }

  /**
   * Unfinished lines of all connections hold more than maxPartialBytes: refuses the connections
   * holding the most until the total is under 7/8 of the bound. A client mid-way through an
   * ordinary line holds a few KiB for microseconds; whoever holds the most is the likeliest to be
   * sending lines it never ends, and refusing it gives the most back.
   */
  #shed(): void {
    const holders: Connection[] = [];
    for (const conn of this.#conns) if (conn.partialBytes > 0 && !conn.refused) holders.push(conn);
    holders.sort((a, b) => b.partialBytes - a.partialBytes);
    const target = this.maxPartialBytes - (this.maxPartialBytes >> 3);
    for (const conn of holders) {
      if (this.#bytes <= target) break;
      this.#refuse(
        conn,
        'server',
        'BUFFER_FULL',
        `unfinished lines of all connections exceed max_partial_bytes ${this.maxPartialBytes}; this connection held the most (${conn.partialBytes} bytes)`,
      );
    }
  }
}

import { createServer, type Server, type Socket } from 'node:net';

/** One accepted connection and the octet-counted messages read from it so far. */
export interface PeerConnection {
  socket: Socket;
  messages: string[];
}

/**
 * A plain TCP syslog receiver for octet-counted frames (RFC 6587 §3.4.1) that starts out NOT
 * reading: it accepts connections and leaves their bytes in the kernel, the way a stalled
 * syslog daemon does, until {@link resume}. Close it with {@link close}.
 */
export class TcpPeer {
  readonly connections: PeerConnection[] = [];
  readonly #server: Server;
  #reading = false;

  private constructor(server: Server) {
    this.#server = server;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** Listens on 127.0.0.1, on a port the kernel picks. */
  static async start(): Promise<TcpPeer> {
    // pauseOnConnect: not one byte is read from an accepted socket before resume().
    const server = createServer({ pauseOnConnect: true });
    const peer = new TcpPeer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** Every message read so far, over all connections, in order. */
  messages(): string[] {
    return this.connections.flatMap((c) => c.messages);
  }

  /** Starts reading every connection, now and from now on. */
  resume(): void {
    this.#reading = true;
    for (const { socket } of this.connections) socket.resume();
  }

  /** Cuts every connection off at once (a reset: their unread bytes are thrown away). */
  resetAll(): void {
    for (const { socket } of this.connections) socket.resetAndDestroy();
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const { socket } of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    const conn: PeerConnection = { socket, messages: [] };
    this.connections.push(conn);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const space = pending.indexOf(0x20);
        if (space < 0) break;
        const length = Number(pending.subarray(0, space).toString('latin1'));
        if (!Number.isInteger(length) || length <= 0) throw new Error(`bad octet count ${pending.subarray(0, space).toString()}`);
        if (pending.length < space + 1 + length) break;
        conn.messages.push(pending.subarray(space + 1, space + 1 + length).toString('utf8'));
        pending = pending.subarray(space + 1 + length);
      }
    });
    if (this.#reading) socket.resume();
  }
}

// Owns the TCP and TLS transports: connecting with a timeout, framed writes, noticing a break.
import { once } from 'node:events';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Frame, FrameQueue } from './frame-queue';
import type { SyslogFraming } from './framing';
import { systemError, type OnDown, type Transport, type TransportHooks } from './transport';

/** Bytes coalesced into one stream write. */
const MAX_WRITE_BYTES = 64 * 1024;

/** Options of {@link StreamTransport}. */
export interface StreamTransportOptions {
  host: string;
  port: number;
  framing: SyslogFraming;
  maxMessageBytes: number;
  connectTimeoutMs: number;
  /** For TLS (RFC 5425) rather than plain TCP: reads the TLS files, at {@link StreamTransport.prepare}. */
  loadTls?: () => Promise<ConnectionOptions>;
}

/** One established connection and the writes it has not yet handed to the kernel. */
interface Connection {
  socket: Socket;
  up: boolean;
  /** The frames of each socket write whose callback has not come yet, oldest first. */
  pending: Frame[][];
  drainWaiters: (() => void)[];
  wake: (() => void) | undefined;
}

/**
 * Syslog over TCP (RFC 6587) or TLS (RFC 5425). Frames are coalesced into writes of up to
 * 64 KiB; a write that fills the socket's buffer waits for 'drain', so at most about
 * 64 KiB + the socket's high-water mark sit in this process at any time. A write's frames are
 * confirmed when its callback says the bytes reached the kernel; when the connection breaks
 * first, they go back to the backend to be sent again on the next connection (the peer may
 * then get some of them twice: the kernel may have taken part of that write).
 */
export class StreamTransport implements Transport {
  readonly peer: string;
  readonly framing: SyslogFraming;
  readonly maxMessageBytes: number;
  /** A remote peer may be down at start-up: the backend connects in the background. */
  readonly connectAtOpen = false;
  readonly #options: StreamTransportOptions;
  readonly #hooks: TransportHooks;
  #conn: Connection | undefined;
  #tls: ConnectionOptions = {};

  constructor(options: StreamTransportOptions, hooks: TransportHooks) {
    this.#options = options;
    this.#hooks = hooks;
    this.framing = options.framing;
    this.maxMessageBytes = options.maxMessageBytes;
    const host = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
    this.peer = `${options.loadTls === undefined ? 'tcp' : 'tls'}://${host}:${options.port}`;
  }

  /** Reads the TLS files, for a TLS transport. */
  async prepare(): Promise<void> {
    if (this.#options.loadTls !== undefined) this.#tls = await this.#options.loadTls();
  }

  connect(onDown: OnDown): Promise<void> {
    this.destroy();
    const { host, port, connectTimeoutMs } = this.#options;
    const tls = this.#options.loadTls === undefined ? undefined : this.#tls;
    return new Promise<void>((resolve, reject) => {
      const socket =
        tls === undefined
          ? netConnect({ host, port })
          : tlsConnect({ ...tls, host, port, servername: tls.servername ?? (isIP(host) === 0 ? host : undefined) });
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(error);
      };
      socket.setTimeout(connectTimeoutMs, () =>
        fail(systemError('connect', 'ETIMEDOUT', `${this.peer} (no connection after ${connectTimeoutMs} ms)`)),
      );
      const onConnectError = (error: Error) => fail(error);
      const onConnectClose = () => fail(systemError('connect', 'ECONNRESET', `${this.peer} (closed during connect)`));
      socket.once('error', onConnectError);
      socket.once('close', onConnectClose);
      socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
        if (settled) return;
        settled = true;
        socket.setTimeout(0);
        // Only our own: a TLS socket has an internal 'close' listener that frees its native state.
        socket.off('error', onConnectError);
        socket.off('close', onConnectClose);
        socket.setNoDelay(true);
        // Keepalive notices a peer that vanished while we had nothing to send.
        socket.setKeepAlive(true, 10_000);
        // A syslog receiver sends nothing; read anyway so that a stray byte never blocks the socket.
        socket.on('data', () => {});
        const conn: Connection = { socket, up: true, pending: [], drainWaiters: [], wake: undefined };
        const goDown = (error: Error) => {
          if (!conn.up) return;
          onDown(error, this.#release(conn));
        };
        socket.on('error', goDown);
        // The peer closed its side (a restart, an idle timeout): anything we write now is lost.
        socket.on('end', () => goDown(systemError('read', 'ECONNRESET', `${this.peer} (closed by the peer)`)));
        socket.on('close', () => goDown(systemError('read', 'ECONNRESET', `${this.peer} (connection closed)`)));
        this.#conn = conn;
        resolve();
      });
    });
  }

  async send(queue: FrameQueue): Promise<void> {
    const conn = this.#conn;
    if (conn === undefined) return;
    while (conn.up && queue.length > 0) {
      const frames = queue.take(MAX_WRITE_BYTES);
      const chunk = frames.length === 1 ? (frames[0] as Frame).data : Buffer.concat(frames.map((f) => f.data));
      conn.pending.push(frames);
      const more = conn.socket.write(chunk, (error) => {
        // A failed write's frames go back to the backend with the break that follows it; after
        // a break `pending` is empty (its frames went back already). During close() the
        // writes still finishing are confirmed.
        if (error) return;
        // Write callbacks come in write order.
        const done = conn.pending.shift();
        if (done === undefined) return;
        this.#hooks.onSent(done.length, (done[done.length - 1] as Frame).seq);
        if (conn.pending.length === 0) wakeAll(conn);
      });
      if (!more) {
        await new Promise<void>((resolve) => {
          const done = () => {
            conn.socket.off('drain', done);
            conn.wake = undefined;
            resolve();
          };
          conn.wake = done;
          conn.socket.on('drain', done);
        });
      }
    }
  }

  async drained(): Promise<void> {
    const conn = this.#conn;
    if (conn === undefined || !conn.up || conn.pending.length === 0) return;
    await new Promise<void>((resolve) => conn.drainWaiters.push(resolve));
  }

  async close(timeoutMs: number): Promise<void> {
    const conn = this.#conn;
    if (conn === undefined) return;
    this.#conn = undefined;
    conn.up = false;
    wakeAll(conn);
    const socket = conn.socket;
    if (!socket.destroyed) {
      const closed = once(socket, 'close').catch(() => undefined);
      // FIN after the buffered bytes; a peer that never closes its side is cut off after timeoutMs.
      socket.end();
      const timer = setTimeout(() => socket.destroy(), timeoutMs);
      await closed;
      clearTimeout(timer);
    }
  }

  destroy(): Frame[] {
    const conn = this.#conn;
    return conn === undefined ? [] : this.#release(conn);
  }

  /** Ends `conn` at once; returns the frames of its writes that never reached the kernel. */
  #release(conn: Connection): Frame[] {
    conn.up = false;
    conn.socket.destroy();
    if (this.#conn === conn) this.#conn = undefined;
    const unsent = conn.pending.flat();
    conn.pending = [];
    wakeAll(conn);
    return unsent;
  }
}

function wakeAll(conn: Connection): void {
  conn.wake?.();
  const waiters = conn.drainWaiters;
  conn.drainWaiters = [];
  for (const wake of waiters) wake();
}

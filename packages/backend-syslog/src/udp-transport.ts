// Owns the UDP transport: one datagram per message.
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Frame, FrameQueue } from './frame-queue';
import type { OnDown, Transport, TransportHooks } from './transport';

/** Largest UDP payload over IPv4 (65535 − 8 − 20), the cap of a message over UDP. */
const MAX_UDP_PAYLOAD = 65_507;
/** Datagrams handed to libuv and not yet confirmed sent. */
const MAX_IN_FLIGHT = 256;

/** Options of {@link UdpTransport}. */
export interface UdpTransportOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
}

/** A datagram handed to the socket, and its send callback's verdict once it came. */
interface InFlight {
  frame: Frame;
  done: boolean;
  error: Error | undefined;
}

/**
 * Syslog over UDP (RFC 5426): one message a datagram on a connected socket. UDP has no
 * delivery guarantee; a refused datagram (ICMP port unreachable, reported on a later send) is
 * counted as a send error. A datagram is confirmed when its send callback comes, in send
 * order. The host name is looked up again on every (re)connect.
 */
export class UdpTransport implements Transport {
  readonly peer: string;
  readonly framing = 'none' as const;
  readonly maxMessageBytes: number;
  /** A remote peer may be down at start-up: the backend connects in the background. */
  readonly connectAtOpen = false;
  readonly #options: UdpTransportOptions;
  readonly #hooks: TransportHooks;
  #socket: Socket | undefined;
  #up = false;
  /** Datagrams handed to the socket and not yet confirmed, oldest first. */
  #inFlight: InFlight[] = [];
  #waiters: (() => void)[] = [];

  constructor(options: UdpTransportOptions, hooks: TransportHooks) {
    this.#options = options;
    this.#hooks = hooks;
    this.maxMessageBytes = Math.min(options.maxMessageBytes, MAX_UDP_PAYLOAD);
    const host = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
    this.peer = `udp://${host}:${options.port}`;
  }

  async prepare(): Promise<void> {}

  async connect(onDown: OnDown): Promise<void> {
    this.destroy();
    const { host, port } = this.#options;
    const address = isIP(host) ? host : (await lookup(host)).address;
    const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        socket.close();
        if (this.#socket === socket) this.#socket = undefined;
        reject(error);
      };
      socket.once('error', fail);
      socket.connect(port, address, () => {
        socket.off('error', fail);
        resolve();
      });
    });
    let down = false;
    socket.on('error', (error) => {
      if (down || this.#socket !== socket) return;
      down = true;
      onDown(error, this.destroy());
    });
    this.#up = true;
  }

  async send(queue: FrameQueue): Promise<void> {
    while (this.#up && queue.length > 0) {
      const socket = this.#socket as Socket;
      if (this.#inFlight.length >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
        continue;
      }
      const item: InFlight = { frame: queue.shift() as Frame, done: false, error: undefined };
      const inFlight = this.#inFlight;
      inFlight.push(item);
      socket.send(item.frame.data, (error) => {
        // After destroy() the frame went back to the backend already.
        if (this.#inFlight !== inFlight) return;
        item.done = true;
        item.error = error ?? undefined;
        this.#confirm();
        this.#wakeAll();
      });
    }
  }

  // Reports the datagrams at the head whose callbacks came, so that reports stay in order.
  #confirm(): void {
    const inFlight = this.#inFlight;
    let n = 0;
    let lastSeq = 0;
    while (inFlight.length > 0 && (inFlight[0] as InFlight).done) {
      const { frame, error } = inFlight.shift() as InFlight;
      if (error === undefined) {
        lastSeq = frame.seq;
        n++;
        continue;
      }
      if (n > 0) this.#hooks.onSent(n, lastSeq);
      n = 0;
      this.#hooks.onSendError(error, 1, frame.seq);
    }
    if (n > 0) this.#hooks.onSent(n, lastSeq);
  }

  #wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async drained(): Promise<void> {
    while (this.#up && this.#inFlight.length > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.drained();
    this.destroy();
  }

  destroy(): Frame[] {
    this.#up = false;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) {
      try {
        socket.close();
      } catch {
        // Already closed: nothing left to release.
      }
    }
    const unsent = this.#inFlight.filter((item) => !item.done).map((item) => item.frame);
    this.#inFlight = [];
    this.#wakeAll();
    return unsent;
  }
}

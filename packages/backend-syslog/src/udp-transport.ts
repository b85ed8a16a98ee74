import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { FrameQueue } from './frame-queue';
import type { Transport, TransportHooks } from './transport';

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

/**
 * Syslog over UDP (RFC 5426): one message a datagram on a connected socket. UDP has no
 * delivery guarantee; a refused datagram (ICMP port unreachable, reported on a later send) is
 * counted as a send error. The host name is looked up again on every (re)connect.
 */
export class UdpTransport implements Transport {
  readonly peer: string;
  readonly framing = 'none' as const;
  readonly maxMessageBytes: number;
  readonly #options: UdpTransportOptions;
  readonly #hooks: TransportHooks;
  #socket: Socket | undefined;
  #up = false;
  #inFlight = 0;
  #waiters: (() => void)[] = [];

  constructor(options: UdpTransportOptions, hooks: TransportHooks) {
    this.#options = options;
    this.#hooks = hooks;
    this.maxMessageBytes = Math.min(options.maxMessageBytes, MAX_UDP_PAYLOAD);
    const host = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
    this.peer = `udp://${host}:${options.port}`;
  }

  async connect(onDown: (error: Error) => void): Promise<void> {
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
      if (down) return;
      down = true;
      this.#up = false;
      this.#wakeAll();
      onDown(error);
    });
    this.#up = true;
  }

  async send(queue: FrameQueue): Promise<void> {
    while (this.#up && queue.length > 0) {
      const socket = this.#socket as Socket;
      if (this.#inFlight >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
        continue;
      }
      const frame = queue.shift() as Buffer;
      this.#inFlight++;
      socket.send(frame, (error) => {
        this.#inFlight--;
        if (error) this.#hooks.onSendError(error, 1);
        else this.#hooks.onSent(1);
        this.#wakeAll();
      });
    }
  }

  #wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async drained(): Promise<void> {
    while (this.#up && this.#inFlight > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.drained();
    this.destroy();
  }

  destroy(): void {
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
    this.#inFlight = 0;
    this.#wakeAll();
  }
}

// Owns the local syslog socket (/dev/log): an AF_UNIX datagram transport over @logstream/unix-dgram.
import { stat } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { loadUnixDgram as loadAddon, unixDgramSystemError, type UnixDgramError, type UnixDgramSocket } from '@logstream/unix-dgram';
import type { Frame, FrameQueue } from './frame-queue';
import { systemError, type OnDown, type Transport, type TransportHooks } from './transport';

/** The usual local syslog socket. */
export const DEFAULT_SYSLOG_SOCKET_PATH = '/dev/log';
/**
 * Cap of a datagram on an AF_UNIX socket here: net.core.wmem_default is 212992 and larger
 * sends fail with EMSGSIZE, so messages are cut below it.
 */
const MAX_LOCAL_DATAGRAM = 200 * 1024;
/** How long to wait for 'writable' after congestion before trying again anyway. */
const CONGESTION_RETRY_MS = 1000;
/** Datagrams sent between two turns of the event loop. */
const SENDS_PER_TURN = 512;

// Loaded on first use (see @logstream/unix-dgram), so a package without the native addon still serves UDP/TCP/TLS.
const loadUnixDgram = () => loadAddon("the syslog backend's local socket (socketPath, no server)");

/**
 * Syslog to a local AF_UNIX datagram socket such as /dev/log, through `unix-dgram`: connect
 * then send, one message a datagram. A full receive queue ('congestion') waits for 'writable'
 * and sends the same datagram again: a congested datagram was not sent, so this never
 * duplicates. A datagram is confirmed when the kernel accepted it. ECONNREFUSED/ENOENT (the daemon went away or is restarting) take the connection
 * down and the backend reconnects, which also picks up a socket file that was re-created.
 */
export class LocalTransport implements Transport {
  readonly peer: string;
  readonly framing = 'none' as const;
  readonly maxMessageBytes: number;
  /** The local socket must be there at start-up: open() connects and fails when it cannot. */
  readonly connectAtOpen = true;
  readonly #path: string;
  readonly #hooks: TransportHooks;
  #socket: UnixDgramSocket | undefined;
  #up = false;
  #onDown: OnDown | undefined;
  #wake: (() => void) | undefined;
  /** The datagram being sent (taken from the queue, not yet accepted by the kernel). */
  #sending: Frame | undefined;

  constructor(path: string, maxMessageBytes: number, hooks: TransportHooks) {
    this.#path = path;
    this.peer = path;
    this.maxMessageBytes = Math.min(maxMessageBytes, MAX_LOCAL_DATAGRAM);
    this.#hooks = hooks;
  }

  /**
   * Checks that the path is a socket; rejects with ENOENT or ENOTSOCK naming it otherwise.
   */
  async prepare(): Promise<void> {
    let info;
    try {
      info = await stat(this.#path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      throw systemError('stat', code, `${this.#path} (syslog socketPath)`, error);
    }
    if (!info.isSocket()) throw systemError('connect', 'ENOTSOCK', `${this.#path} is not a socket (syslog socketPath)`);
  }

  async connect(onDown: OnDown): Promise<void> {
    this.destroy();
    const { createSocket } = await loadUnixDgram();
    const socket = createSocket('unix_dgram');
    let failure: UnixDgramError | undefined;
    const onError = (error: UnixDgramError) => {
      failure ??= error;
    };
    socket.on('error', onError);
    // connect() is synchronous and reports a failure through 'error' before it returns.
    socket.connect(this.#path);
    if (failure !== undefined) {
      socket.close();
      throw unixDgramSystemError(failure, 'connect', this.#path);
    }
    socket.off('error', onError);
    socket.on('error', (error: Error) => this.#goDown(error));
    socket.on('writable', () => this.#wake?.());
    this.#socket = socket;
    this.#onDown = onDown;
    this.#up = true;
  }

  #goDown(error: Error): void {
    if (!this.#up) return;
    const onDown = this.#onDown;
    this.#onDown = undefined;
    onDown?.(error, this.destroy());
  }

  async send(queue: FrameQueue): Promise<void> {
    let sends = 0;
    while (this.#up && queue.length > 0) {
      const socket = this.#socket as UnixDgramSocket;
      const frame = queue.shift() as Frame;
      this.#sending = frame;
      for (;;) {
        const error = await new Promise<UnixDgramError | undefined>((resolve) => socket.send(frame.data, resolve));
        // Went down meanwhile: destroy() handed the frame back to the backend.
        if (!this.#up || this.#sending !== frame) return;
        if (error === undefined) {
          this.#sending = undefined;
          this.#hooks.onSent(1, frame.seq);
          break;
        }
        if (error.message === 'congestion') {
          // A congested datagram was not sent: send the same one again once there is room.
          await this.#waitWritable();
          if (!this.#up || this.#sending !== frame) return;
          continue;
        }
        const failed = unixDgramSystemError(error, 'send', this.#path);
        if (failed.code === 'EMSGSIZE' || failed.code === 'ENOBUFS') {
          this.#sending = undefined;
          this.#hooks.onSendError(
            unixDgramSystemError(error, 'send', `${this.#path} (datagram of ${frame.data.length} bytes)`),
            1,
            frame.seq,
          );
          break;
        }
        this.#goDown(failed);
        return;
      }
      if (++sends % SENDS_PER_TURN === 0) await yieldToLoop();
    }
  }

  #waitWritable(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, CONGESTION_RETRY_MS);
      timer.unref();
      this.#wake = done;
    });
  }

  async drained(): Promise<void> {}

  async close(): Promise<void> {
    this.destroy();
  }

  destroy(): Frame[] {
    this.#up = false;
    const unsent = this.#sending === undefined ? [] : [this.#sending];
    this.#sending = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) {
      try {
        socket.close();
      } catch {
        // close(2) failing leaves nothing we could release.
      }
    }
    this.#wake?.();
    return unsent;
  }
}

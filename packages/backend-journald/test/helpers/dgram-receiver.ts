import { rmSync } from 'node:fs';
import { loadUnixDgram, type UnixDgramSocket } from '@logstream/unix-dgram';

const { createSocket } = await loadUnixDgram('the journald tests');

/**
 * A real AF_UNIX datagram socket bound at `path`, standing in for journald where a test needs to
 * control the peer (lose it mid-batch, bring it back). It reads only when the event loop runs, so
 * a sender that does not yield fills its queue: congestion on demand. Datagrams are read up to
 * 64 KiB (unix-dgram's receive buffer).
 */
export class DgramReceiver {
  readonly path: string;
  readonly messages: Buffer[] = [];
  #socket: UnixDgramSocket;
  #closed = false;
  onMessage: ((data: Buffer, receiver: DgramReceiver) => void) | undefined;

  constructor(path: string) {
    this.path = path;
    this.#socket = createSocket('unix_dgram', (data) => {
      if (this.#closed) return;
      this.messages.push(data);
      this.onMessage?.(data, this);
    });
    let failure: Error | undefined;
    this.#socket.on('error', (error: Error) => {
      failure = error;
    });
    this.#socket.bind(path);
    if (failure !== undefined) throw failure;
  }

  /** Closes the socket; with `unlink`, removes the socket file too (as if the peer were gone). */
  close(options: { unlink?: boolean } = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    if (options.unlink === true) rmSync(this.path, { force: true });
  }
}

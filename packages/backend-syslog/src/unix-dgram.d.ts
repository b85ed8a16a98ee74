// unix-dgram 2.0.7 ships no types; this covers the part the local transport uses.
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';

  /** An AF_UNIX SOCK_DGRAM socket. Errors carry a negative errno in `code` (e.g. -111). */
  export interface UnixDgramSocket extends EventEmitter {
    /** Connects synchronously; a failure is emitted as 'error' before this returns. */
    connect(path: string): void;
    /**
     * On a connected socket: sends `buf` synchronously; `callback` runs before this returns,
     * with `Error('congestion')` when the receiver's queue is full (then wait for 'writable')
     * or an error whose `code` is a negative errno.
     */
    send(buf: Buffer, callback: (error?: Error & { code?: number }) => void): void;
    close(): void;
  }

  export function createSocket(type: 'unix_dgram', listener?: (msg: Buffer) => void): UnixDgramSocket;
}

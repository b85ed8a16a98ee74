// unix-dgram 2.0.7 ships no types. This covers only what this package uses: a connected AF_UNIX
// datagram socket. Its errors carry the negative errno as a number in `code` and `errno`.
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';

  /** An error made by unix-dgram: `code` and `errno` are the negative errno, e.g. -111. */
  export interface UnixDgramError extends Error {
    code?: number | string;
    errno?: number;
    syscall?: string;
  }

  /**
   * A non-blocking AF_UNIX SOCK_DGRAM socket. `connect` and `send` are synchronous: `connect`
   * emits 'error' (at once) or 'connect'; `send` calls back at once with nothing (sent), an
   * `Error('congestion')` (EAGAIN/ENOBUFS: not sent, wait for 'writable') or an errno error.
   */
  export interface UnixDgramSocket extends EventEmitter {
    readonly fd: number;
    connected?: boolean;
    bind(path: string): void;
    connect(path: string): void;
    send(buf: Buffer, callback: (error?: UnixDgramError) => void): void;
    close(): void;
  }

  /** A socket; `listener` gets each datagram received (at most 64 KiB of it) once it is bound. */
  export function createSocket(type: 'unix_dgram', listener?: (data: Buffer) => void): UnixDgramSocket;
}

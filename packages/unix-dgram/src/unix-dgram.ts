// Owns LogStream's one way to AF_UNIX datagram sockets: loading the optional unix-dgram addon,
// its types, and mapping its negative errno numbers to Node-style system errors.
import type { EventEmitter } from 'node:events';
import { getSystemErrorName } from 'node:util';
import { LogStreamError } from '@logstream/protocol';

/** An error made by unix-dgram: `code` and `errno` are the negative errno, e.g. -111. */
export interface UnixDgramError extends Error {
  code?: number | string;
  errno?: number;
  syscall?: string;
}

/**
 * A non-blocking AF_UNIX SOCK_DGRAM socket (unix-dgram 2.x). `connect` and `send` are
 * synchronous: `connect` emits 'error' (before it returns) or 'connect'; `send` calls back before
 * it returns, with nothing (sent), an `Error('congestion')` (EAGAIN/ENOBUFS: not sent, wait for
 * 'writable') or an error whose `code` is a negative errno.
 */
export interface UnixDgramSocket extends EventEmitter {
  readonly fd: number;
  connected?: boolean;
  bind(path: string): void;
  connect(path: string): void;
  send(buf: Buffer, callback: (error?: UnixDgramError) => void): void;
  close(): void;
}

/** The unix-dgram module. */
export interface UnixDgramModule {
  /** A socket; `listener` gets each datagram received (at most 64 KiB of it) once it is bound. */
  createSocket: (type: 'unix_dgram', listener?: (data: Buffer) => void) => UnixDgramSocket;
}

let loaded: Promise<UnixDgramModule> | undefined;

/** The first sentence of a load error, without the 13 paths node-bindings lists after "Tried:". */
function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = (message.split('\n')[0] ?? '').replace(/\s*Tried:.*$/, '');
  return first.length > 120 ? `${first.slice(0, 117)}...` : first;
}

/**
 * Loads the optional native addon `unix-dgram` on first use.
 * @param user what needs it, for the message, e.g. `the journald backend`
 * @throws LogStreamError (kind `io`, code `BACKEND`) in one sentence: what is missing
 *   and how to get it (a C++ compiler, then `npm rebuild unix-dgram`), or how to do without
 */
export function loadUnixDgram(user: string): Promise<UnixDgramModule> {
  loaded ??= import('unix-dgram').then((m: { default?: UnixDgramModule } & UnixDgramModule) => m.default ?? m);
  return loaded.catch((error: unknown) => {
    loaded = undefined;
    const absent =
      (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' || (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    const state = absent ? 'is not installed' : `is installed but does not load (${shortReason(error)})`;
    throw new LogStreamError(
      'io',
      `${user} needs the optional native module unix-dgram, which ${state}: install a C++ compiler ` +
        '(Debian: apt-get install g++ make python3) and run `npm rebuild unix-dgram` where the server is installed ' +
        '(pnpm: allow it in onlyBuiltDependencies, then `pnpm rebuild unix-dgram`), or disable it',
      { code: 'BACKEND', cause: error },
    );
  });
}

/**
 * The errno name of an error from unix-dgram, whose `errno` or `code` is a negative number:
 * -111 → `ECONNREFUSED`. `EIO` for anything else, or a number without a name.
 */
export function errnoName(error: { errno?: unknown; code?: unknown } | undefined): string {
  const n = typeof error?.errno === 'number' ? error.errno : error?.code;
  if (typeof n !== 'number' || !Number.isInteger(n) || n >= 0) return 'EIO';
  try {
    const name = getSystemErrorName(n);
    return name.startsWith('Unknown') ? 'EIO' : name;
  } catch {
    return 'EIO';
  }
}

/**
 * A Node-style system error (`code` such as `ECONNREFUSED`, `errno`, `syscall`, `address`) from a
 * unix-dgram error, with the message `${syscall} ${code} ${address}`.
 */
export function unixDgramSystemError(raw: UnixDgramError | undefined, syscall: string, address: string): NodeJS.ErrnoException {
  const code = errnoName(raw);
  const error: NodeJS.ErrnoException & { address?: string } = new Error(`${syscall} ${code} ${address}`, { cause: raw });
  error.code = code;
  const n = typeof raw?.errno === 'number' ? raw.errno : typeof raw?.code === 'number' ? raw.code : undefined;
  if (n !== undefined) error.errno = n;
  error.syscall = syscall;
  error.address = address;
  return error;
}

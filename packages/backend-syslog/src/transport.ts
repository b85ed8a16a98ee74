import { getSystemErrorName } from 'node:util';
import type { FrameQueue } from './frame-queue';
import type { SyslogFraming } from './framing';

/** What a transport reports to its backend. */
export interface TransportHooks {
  /** `n` frames left this process (handed to the kernel or to a stream's buffer). */
  onSent(n: number): void;
  /** A send failed and `dropped` frames were given up (the connection itself is fine). */
  onSendError(error: Error, dropped: number): void;
}

/**
 * One way of reaching a syslog daemon. A transport holds at most one connection. The backend
 * calls `connect`, then `send` whenever frames are queued; when an established connection
 * breaks, the transport calls the `onDown` given to `connect` (once per connection), and the
 * backend reconnects later.
 */
export interface Transport {
  /** Human-readable peer, for messages: `/dev/log`, `tcp://host:601`. */
  readonly peer: string;
  /** How frames are built for this transport. */
  readonly framing: SyslogFraming | 'none';
  /** The largest message this transport can carry, in bytes (frames are cut to it). */
  readonly maxMessageBytes: number;
  /**
   * Connects; rejects with an error that names the peer. `onDown` gets the error and the number
   * of frames that were handed over but had provably not reached the kernel yet.
   */
  connect(onDown: (error: Error, unflushed?: number) => void): Promise<void>;
  /**
   * Sends frames from the head of `queue` until it is empty or the connection is down.
   * Frames not sent stay in the queue.
   */
  send(queue: FrameQueue): Promise<void>;
  /** Resolves once nothing handed to `send` is still held in this process. */
  drained(): Promise<void>;
  /** Ends the connection gracefully (streams: FIN after the buffered bytes), at most `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
  /** Drops the connection at once. */
  destroy(): void;
}

/**
 * The errno name of a negative errno number, as unix-dgram reports errors: -111 → `ECONNREFUSED`.
 * `EIO` for anything else, or a number without a name.
 */
export function errnoName(code: unknown): string {
  if (typeof code !== 'number' || !Number.isInteger(code) || code >= 0) return 'EIO';
  const name = getSystemErrorName(code);
  return name.startsWith('Unknown') ? 'EIO' : name;
}

/** An Error with a string errno `code`, a syscall and the path or address it concerns. */
export function systemError(syscall: string, code: string, where: string, cause?: unknown): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code} ${where}`, { cause });
  error.code = code;
  error.syscall = syscall;
  return error;
}

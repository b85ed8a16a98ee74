// Owns the Transport interface between the backend and a way of reaching a syslog daemon, and
// the system errors transports build.
import type { Frame, FrameQueue } from './frame-queue';
import type { SyslogFraming } from './framing';

/**
 * What a transport reports to its backend. Frames are confirmed in `seq` order: once a hook
 * names `lastSeq`, every frame the transport took up to it is done with.
 */
export interface TransportHooks {
  /** `n` frames, the last of them `lastSeq`, were handed to the kernel. */
  onSent(n: number, lastSeq: number): void;
  /**
   * Sending frame `lastSeq` failed for good (a refused or oversized datagram) and it was given
   * up; the connection itself is fine.
   */
  onSendError(error: Error, dropped: number, lastSeq: number): void;
}

/**
 * Called once when an established connection breaks, with the frames the transport had taken
 * from the queue but not handed to the kernel (in order): the backend puts them back.
 */
export type OnDown = (error: Error, unsent: readonly Frame[]) => void;

/**
 * One way of reaching a syslog daemon. A transport holds at most one connection. The backend
 * calls `connect`, then `send` whenever frames are queued; when an established connection
 * breaks, the transport calls the `onDown` given to `connect` (once per connection), and the
 * backend reconnects later. A frame is the transport's from the moment it takes it from the
 * queue until a hook confirms it or `onDown`/`destroy` hands it back.
 */
export interface Transport {
  /** Human-readable peer, for messages: `/dev/log`, `tcp://host:601`. */
  readonly peer: string;
  /** How frames are built for this transport. */
  readonly framing: SyslogFraming | 'none';
  /** The largest message this transport can carry, in bytes (frames are cut to it). */
  readonly maxMessageBytes: number;
  /**
   * True when `open()` must connect and fail if it cannot (the local socket); false when a
   * peer that is down at start-up is retried in the background like one that went away.
   */
  readonly connectAtOpen: boolean;
  /** Checks what can be checked before connecting (the socket path; the TLS files). */
  prepare(): Promise<void>;
  /** Connects; rejects with an error that names the peer. */
  connect(onDown: OnDown): Promise<void>;
  /**
   * Sends frames from the head of `queue` until it is empty or the connection is down.
   * Frames not taken stay in the queue.
   */
  send(queue: FrameQueue): Promise<void>;
  /** Resolves once nothing handed to `send` is still held in this process. */
  drained(): Promise<void>;
  /**
   * Ends the connection gracefully (streams: FIN after the buffered bytes), at most `timeoutMs`.
   * Frames still unconfirmed then are not reported: the backend counts them as dropped.
   */
  close(timeoutMs: number): Promise<void>;
  /** Drops the connection at once; returns the frames it had taken but not handed to the kernel. */
  destroy(): Frame[];
}

/** An Error with a string errno `code`, a syscall and the path or address it concerns. */
export function systemError(syscall: string, code: string, where: string, cause?: unknown): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code} ${where}`, { cause });
  error.code = code;
  error.syscall = syscall;
  return error;
}

// Owns the listening socket and admission: binding (a stale socket file replaced once a probe
// finds nobody answering, mode set through the umask, backlog), failed accepts, refusing a
// connection with an error frame, and the bounds on who may connect (max_connections,
// max_connections_per_uid, the descriptors the open-file limit leaves).
import { existsSync } from 'node:fs';
import { chmod, lstat, readFile, readdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { LogStreamError, encodeError, type LogStreamErrorCode } from '@logstream/protocol';
import { loadPeerCredentialsReader, type PeerCredentials, type PeerCredentialsReader } from './peer-credentials';

/** Descriptors kept free for backends (rotation, compression) and for refusing a connection. */
const FD_RESERVE = 32;
/** How long a refused connection may stay before it is destroyed, in ms. */
const REFUSED_LINGER_MS = 1000;

/** Options of a {@link Listener}. */
export interface ListenerOptions {
  socketPath: string;
  /** Mode of the socket file. */
  socketMode: number;
  /** The kernel's backlog of connections not accepted yet (at least Node's 511). */
  backlog: number;
  /** Read buffer of each connection, in bytes. */
  readBufferBytes: number;
}

/** What the listener tells the server. */
export interface ListenerHooks {
  /** A connection was accepted by the kernel (admission is the server's, see {@link Admission}). */
  accept(socket: Socket): void;
  /** Something worth an operator's attention that is not a failure. */
  warn(message: string): void;
  /** An accept failed (EMFILE: out of file descriptors; libuv then closed the connection). */
  acceptFailed(error: NodeJS.ErrnoException): void;
}

/** The Unix socket the server listens on, and the connections it refuses. */
export class Listener {
  readonly #options: ListenerOptions;
  readonly #hooks: ListenerHooks;
  #server: Server | undefined;
  // Refused sockets, kept until they close so shutdown can destroy any the peer leaves half-open.
  readonly #refused = new Set<Socket>();

  constructor(options: ListenerOptions, hooks: ListenerHooks) {
    this.#options = options;
    this.#hooks = hooks;
  }

  /**
   * Binds the socket. A stale socket file (nobody answers on it) is replaced; a socket a live
   * server answers on is an error.
   * @throws LogStreamError (kind `io` or `server`) naming what failed
   */
  async bind(): Promise<void> {
    const { socketPath, socketMode } = this.#options;
    await this.#clearStaleSocket();
    const server = createServer({ allowHalfOpen: true, highWaterMark: this.#options.readBufferBytes }, (socket) =>
      this.#hooks.accept(socket),
    );
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        // bind() reports a missing directory as EACCES (or ENOENT), which misleads even root.
        const missing = (error.code === 'EACCES' || error.code === 'ENOENT') && !existsSync(dirname(socketPath));
        const why = missing ? `the directory ${dirname(socketPath)} does not exist` : error.message;
        reject(new LogStreamError('io', `cannot listen on ${socketPath}: ${why}`, { cause: error, code: 'IO' }));
      });
      // Connections the server has not accepted yet wait in the kernel's backlog; Node's default
      // (511) is below max_connections, so a burst of connects (every daemon at boot) would fail
      // with EAGAIN before the server sees them. The kernel caps it at net.core.somaxconn.
      // Bind under a umask that already gives the socket its mode: no moment with wider access.
      const umask = process.umask(0o777 & ~socketMode);
      try {
        server.listen({ path: socketPath, backlog: Math.max(511, this.#options.backlog) }, () => resolve());
      } finally {
        process.umask(umask);
      }
    });
    server.on('error', (error: NodeJS.ErrnoException) => this.#hooks.acceptFailed(error));
    await chmod(socketPath, socketMode);
    const parent = dirname(socketPath);
    const parentMode = (await lstat(parent).catch(() => undefined))?.mode ?? 0;
    if ((parentMode & 0o002) !== 0) {
      // Any user may bind this path while the server is down, and receive the daemons' entries
      // (clients refuse a socket owned by an untrusted user, but say so only as an error).
      this.#hooks.warn(
        `the socket ${socketPath} is in a world-writable directory (${parent}): another user could take the path while the server is down; use a directory only the server may write, such as /run/logstream/`,
      );
    }
  }

  /** Stops accepting; resolves once the listening socket is closed (at once if never bound). */
  close(): Promise<void> {
    const server = this.#server;
    return server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
  }

  /** Removes the socket file (if any). */
  async unlink(): Promise<void> {
    await unlink(this.#options.socketPath).catch(() => undefined);
  }

  /** How many refused connections are still open (each holds a descriptor). */
  get refusedOpen(): number {
    return this.#refused.size;
  }

  /**
   * Refuses an accepted connection: one error frame, then closed. The peer may never close its
   * side (allowHalfOpen): it is destroyed after a second at most. With `now`, it is destroyed as
   * soon as the frame is in the kernel's hands: out of descriptors, a burst of refused
   * connections each lingering a second would use up the last ones, and libuv would then close
   * the next connections without a word (EMFILE).
   */
  refuse(socket: Socket, code: LogStreamErrorCode, message: string, now = false): void {
    socket.on('error', () => undefined);
    const frame = encodeError({ kind: 'server', code, message });
    if (now) {
      // A fresh socket's send buffer takes one frame whole: the write completes synchronously,
      // and the peer reads it before the end of the stream.
      socket.write(frame);
      if (socket.writableLength === 0) {
        socket.destroy();
        return;
      }
    }
    this.#refused.add(socket);
    // The timer goes with the socket: under connect churn, timers left to run would keep
    // thousands of closed sockets alive.
    const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.#refused.delete(socket);
    });
    if (now) socket.end();
    else socket.end(frame);
  }

  /** Destroys the refused connections still open (shutdown). */
  destroyRefused(): void {
    for (const socket of this.#refused) socket.destroy();
  }

  async #clearStaleSocket(): Promise<void> {
    const socketPath = this.#options.socketPath;
    let stat;
    try {
      stat = await lstat(socketPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new LogStreamError('io', `cannot check ${socketPath}: ${(error as Error).message}`, { cause: error, code: 'IO' });
    }
    if (!stat.isSocket()) {
      throw new LogStreamError('server', `${socketPath} exists and is not a socket; refusing to replace it`, { code: 'IO' });
    }
    const live = await new Promise<boolean>((resolve) => {
      const probe = createConnection(socketPath);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (live) {
      throw new LogStreamError('server', `another server is already listening on ${socketPath}`, { code: 'IO' });
    }
    await unlink(socketPath);
  }
}

/** Why a connection is not admitted. */
export interface Refusal {
  message: string;
  /** Refused for lack of file descriptors (worth a line in the log). */
  outOfFds: boolean;
}

/**
 * Who may connect: at most `maxConnections` at once, at most `maxConnectionsPerUid` per
 * unprivileged user (a uid other than root and the server's own, as the kernel says), and no
 * more than the open-file limit leaves room for.
 */
export class Admission {
  readonly maxConnections: number;
  readonly maxConnectionsPerUid: number;
  /** Connections the open-file limit leaves room for (Linux; undefined elsewhere). */
  #fdRoom: number | undefined;
  #peerCredentials: PeerCredentialsReader | undefined;
  /** Connections open per unprivileged uid. */
  readonly #perUid = new Map<number, number>();

  constructor(maxConnections: number, maxConnectionsPerUid: number) {
    this.maxConnections = maxConnections;
    this.maxConnectionsPerUid = maxConnectionsPerUid;
  }

  /** Loads the reader of peers' credentials (before binding). */
  async loadPeerCredentials(): Promise<void> {
    this.#peerCredentials = await loadPeerCredentialsReader();
  }

  /**
   * Reads how many connections the open-file limit leaves room for (after binding); returns a
   * warning when that is fewer than `maxConnections`.
   */
  async measureFdRoom(): Promise<string | undefined> {
    this.#fdRoom = await fileDescriptorRoom();
    if (this.#fdRoom !== undefined && this.#fdRoom < this.maxConnections) {
      return `max_connections ${this.maxConnections} is more than the open-file limit leaves room for (${this.#fdRoom}); connections past ${this.#fdRoom} are refused: raise LimitNOFILE (ulimit -n)`;
    }
    return undefined;
  }

  /** The sending process of `socket`, as the kernel says. */
  /** Whether the kernel's word on senders can be read here (SO_PEERCRED loaded). */
  get knowsPeers(): boolean {
    return this.#peerCredentials !== undefined;
  }

  peerOf(socket: Socket): PeerCredentials | undefined {
    return this.#peerCredentials?.(socket);
  }

  /**
   * Why a connection of `peer` cannot be admitted with `open` connections served and `refused`
   * refused ones not yet closed, or undefined.
   */
  check(peer: PeerCredentials | undefined, open: number, refused = 0): Refusal | undefined {
    // Past the open-file limit libuv would close new connections unseen (EMFILE): refuse them
    // ourselves while a few descriptors are left, so the client hears why and the log says so.
    if (this.#fdRoom !== undefined && open + refused >= this.#fdRoom) {
      return { message: `too many connections (${open}: the server's open-file limit is reached)`, outOfFds: true };
    }
    if (open >= this.maxConnections) return { message: `too many connections (max_connections ${this.maxConnections})`, outOfFds: false };
    if (shared(peer) && (this.#perUid.get(peer.uid) ?? 0) >= this.maxConnectionsPerUid) {
      return {
        message: `too many connections from uid ${peer.uid} (max_connections_per_uid ${this.maxConnectionsPerUid})`,
        outOfFds: false,
      };
    }
    return undefined;
  }

  /** Counts an admitted connection of `peer`. */
  enter(peer: PeerCredentials | undefined): void {
    if (shared(peer)) this.#perUid.set(peer.uid, (this.#perUid.get(peer.uid) ?? 0) + 1);
  }

  /** Forgets a closed connection of `peer`. */
  leave(peer: PeerCredentials | undefined): void {
    if (!shared(peer)) return;
    const left = (this.#perUid.get(peer.uid) ?? 1) - 1;
    if (left === 0) this.#perUid.delete(peer.uid);
    else this.#perUid.set(peer.uid, left);
  }
}

/** A peer whose connections count against its user's share: not root, not the server's user. */
function shared(peer: PeerCredentials | undefined): peer is PeerCredentials {
  return peer !== undefined && peer.uid !== 0 && peer.uid !== process.getuid?.();
}

/**
 * How many more descriptors this process may open, less {@link FD_RESERVE}: the soft
 * `Max open files` of /proc/self/limits minus those open now. Undefined where /proc is missing.
 */
async function fileDescriptorRoom(): Promise<number | undefined> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    if (soft === undefined || soft === 'unlimited') return undefined;
    const open = (await readdir('/proc/self/fd')).length;
    return Math.max(0, Number(soft) - open - FD_RESERVE);
  } catch {
    return undefined;
  }
}

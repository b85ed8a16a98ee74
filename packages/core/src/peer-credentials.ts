import type * as Koffi from 'koffi';
import type { Socket } from 'node:net';

/** The sending process of a connection, as the kernel says (SO_PEERCRED). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** Reads a connected Unix socket's peer credentials; undefined where the kernel cannot say. */
export type PeerCredentialsReader = (socket: Socket) => PeerCredentials | undefined;

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/**
 * Loads the reader of SO_PEERCRED. Node has no API for it; `koffi` (an FFI with prebuilt
 * binaries in its npm package: nothing to compile) calls libc's `getsockopt` directly, ~1 µs a
 * call, once per connection. Resolves to undefined off Linux or when koffi cannot load: the
 * server then trusts no identity (and says so at start).
 */
export async function loadPeerCredentialsReader(): Promise<PeerCredentialsReader | undefined> {
  if (process.platform !== 'linux') return undefined;
  let koffi: typeof Koffi;
  try {
    const loaded = (await import('koffi')) as typeof Koffi & { default?: typeof Koffi };
    koffi = loaded.default ?? loaded;
  } catch {
    return undefined;
  }
  let getsockopt: (fd: number, level: number, name: number, value: Buffer, length: number[]) => number;
  try {
    const libc = koffi.load('libc.so.6');
    getsockopt = libc.func(
      'int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)',
    ) as typeof getsockopt;
  } catch {
    return undefined;
  }
  const ucred = Buffer.alloc(12);
  return (socket) => {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return undefined;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ucred, [12]) !== 0) return undefined;
    return { pid: ucred.readInt32LE(0), uid: ucred.readUInt32LE(4), gid: ucred.readUInt32LE(8) };
  };
}

import { parseServerFrame, type ServerFrame } from '@logstream/protocol';
import { rawConnect as connectRaw, type RawConn as Raw } from '@logstream/test-support';

/** A raw protocol connection that records every frame the server sends. */
export type RawConn = Raw<ServerFrame>;

/** Connects to the server's socket at `path` and parses what it sends as server frames. */
export function rawConnect(path: string): Promise<RawConn> {
  return connectRaw(path, parseServerFrame);
}

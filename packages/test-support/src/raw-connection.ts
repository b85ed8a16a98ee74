// A protocol client with no client library: raw bytes out, every frame the server sends recorded.
import { createConnection, type Socket } from 'node:net';
import { afterEach } from 'vitest';
import { until } from './until';

/** The fields of a server frame the helpers read; the parser the caller passes gives the rest. */
export interface FrameLike {
  type: string;
}

/** A raw connection to a LogStream socket that records what the server sends. */
export interface RawConn<F extends FrameLike> {
  socket: Socket;
  /** The frames received so far, in order (lines the parser refused are left out). */
  frames: F[];
  /** Set once the socket has closed. */
  closed: boolean;
  /** Everything received so far, as text. */
  text(): string;
  /** The highest `seq` of an `ack` frame so far, 0 before the first. */
  acked(): number;
  send(text: string | Buffer): void;
  /** The first frame (received so far or later) that `predicate` accepts; throws after `ms`. */
  waitFrame(predicate: (f: F) => boolean, ms?: number): Promise<F>;
  end(): void;
}

/**
 * Connects to `path` and records each newline-ended line the server sends as `parse` reads it
 * (pass `parseServerFrame` from `@logstream/protocol`). Socket errors are swallowed: a test
 * asserts on `closed` and on the frames.
 */
export async function rawConnect<F extends FrameLike>(path: string, parse: (line: string) => F | undefined): Promise<RawConn<F>> {
  const socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let all = '';
  let rest = '';
  const conn: RawConn<F> = {
    socket,
    frames: [],
    closed: false,
    text: () => all,
    acked: () => conn.frames.reduce((n, f) => (f.type === 'ack' && 'seq' in f && typeof f.seq === 'number' ? Math.max(n, f.seq) : n), 0),
    send: (text) => void socket.write(text),
    async waitFrame(predicate, ms = 10_000) {
      await until(() => conn.frames.some(predicate), ms, 'a frame');
      return conn.frames.find(predicate) as F;
    },
    end: () => void socket.end(),
  };
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    all += d;
    rest += d;
    let nl: number;
    while ((nl = rest.indexOf('\n')) !== -1) {
      const frame = parse(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
      if (frame !== undefined) conn.frames.push(frame);
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => (conn.closed = true));
  return conn;
}

/**
 * Per test: a function that opens raw connections to the socket `path()` names (read when it is
 * called), parsed with `parse`; every one it opened is destroyed after the test.
 */
export function useRawConnections<F extends FrameLike>(
  path: () => string,
  parse: (line: string) => F | undefined,
): () => Promise<RawConn<F>> {
  const opened: Socket[] = [];
  afterEach(() => {
    for (const socket of opened.splice(0)) socket.destroy();
  });
  return async () => {
    const conn = await rawConnect(path(), parse);
    opened.push(conn.socket);
    return conn;
  };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServerFrame, type ServerFrame } from '@logstream/protocol';

/** A fresh temp dir (short path: sun_path is 108 bytes). */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ls-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Polls `predicate` every 10 ms until it holds or `ms` pass. */
export async function until(predicate: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw protocol connection that records every frame the server sends. */
export interface RawConn {
  socket: Socket;
  frames: ServerFrame[];
  closed: boolean;
  send(text: string): void;
  waitFrame(predicate: (f: ServerFrame) => boolean, ms?: number): Promise<ServerFrame>;
  end(): void;
}

export async function rawConnect(path: string): Promise<RawConn> {
  const socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const conn: RawConn = {
    socket,
    frames: [],
    closed: false,
    send: (text) => socket.write(text),
    async waitFrame(predicate, ms = 10_000) {
      await until(() => conn.frames.some(predicate), ms, 'a frame');
      return conn.frames.find(predicate) as ServerFrame;
    },
    end: () => socket.end(),
  };
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const frame = parseServerFrame(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (frame) conn.frames.push(frame);
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => (conn.closed = true));
  return conn;
}

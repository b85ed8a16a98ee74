import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseServerFrame } from '@logstream/protocol';
import { readEntries, scrapeMetrics, startServer, until, useServerDir, type ServerProcess } from '@logstream/test-support';
import { freePort } from './fixtures/fault-helpers';

// A journald that never reads (or goes away) must not hold the acks of the other backends under
// `drop_newest`, nor hang the server's shutdown under `block` (issue: acknowledged means stored,
// under every fault). The stalled journald is a real AF_UNIX datagram socket that nobody reads:
// once its queue is full (net.unix.max_dgram_qlen datagrams), every send says EAGAIN, as a wedged
// journald's socket does.

let dir: string;
let sock: string;
let out: string;
const peers: ChildProcess[] = [];
const sockets: Socket[] = [];
const listeners: Server[] = [];

useServerDir((paths) => ({ dir, sock, out } = paths));
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const l of listeners.splice(0)) l.close();
  await Promise.all(peers.splice(0).map(stopPeer));
});

/** A datagram socket bound at `path` that reads everything (`read`) or nothing. */
async function datagramPeer(path: string, read: boolean): Promise<ChildProcess> {
  const script = [
    'import socket, sys, time',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    `s.bind(${JSON.stringify(path)})`,
    'print("bound", flush=True)',
    read ? 'while True: s.recv(1 << 20)' : 'time.sleep(3600)',
  ].join('\n');
  const proc = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  peers.push(proc);
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`datagram peer exited (${code}) before binding ${path}`)));
  });
  return proc;
}

function stopPeer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

/** A raw NDJSON sender: a handshake, then `count` entries; `acked` follows the server's acks. */
function rawSender(daemon: string): { socket: Socket; acked: () => number; send: (from: number, to: number) => Promise<void> } {
  const socket = createConnection(sock);
  sockets.push(socket);
  socket.on('error', () => undefined);
  let acked = 0;
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    rest += d;
    let nl: number;
    while ((nl = rest.indexOf('\n')) !== -1) {
      const frame = parseServerFrame(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
      if (frame?.type === 'ack') acked = frame.seq;
    }
  });
  socket.write(`${daemon}\n`);
  const send = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i += 400) {
      let chunk = '';
      for (let j = i; j < Math.min(to, i + 400); j++) chunk += `{"message":"entry ${j}","level":"info","fields":{"i":"${j}"}}\n`;
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
    }
  };
  return { socket, acked: () => acked, send };
}

async function serve(journald: string): Promise<ServerProcess> {
  await writeFile(join(dir, 'c.toml'), `[backends.journald]\nenabled = true\nsocket_path = "${join(dir, 'j.sock')}"\n${journald}`);
  return startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out]);
}

/** Which of entries 0..count-1 the live file holds, each exactly once. */
async function expectStoredOnce(count: number): Promise<void> {
  const seen = new Uint8Array(count);
  for (const e of await readEntries(join(out, 'current.log'))) {
    const i = Number((e.fields as { i: string }).i);
    seen[i] = (seen[i] ?? 0) + 1;
  }
  expect({ missing: seen.filter((n) => n === 0).length, doubled: seen.filter((n) => n > 1).length }).toEqual({ missing: 0, doubled: 0 });
}

describe('a stalled or vanished backend', () => {
  it('drop_newest: journald that never reads does not hold the file backend acks (>= 90% acked within 10 s)', async () => {
    await datagramPeer(join(dir, 'j.sock'), false);
    const server = await serve('when_full = "drop_newest"\n');
    const ENTRIES = 52_800;
    const client = rawSender('stalled-j');
    const started = Date.now();
    void client.send(0, ENTRIES);
    await until(() => client.acked() >= 0.9 * ENTRIES, 10_000, `90% of ${ENTRIES} acked (acked ${client.acked()})`);
    expect(Date.now() - started).toBeLessThan(10_000);
    await until(() => client.acked() === ENTRIES, 30_000, 'every entry acked');
    await expectStoredOnce(ENTRIES);
    // The drops are named in the server's log, once per cause per interval, not once per batch.
    const drops = server
      .stderr()
      .split('\n')
      .filter((l) => /journald.*dropped \d+ entr/.test(l));
    expect(drops.length).toBeGreaterThanOrEqual(1);
    expect(drops.length).toBeLessThanOrEqual(3);
  });

  it("drop_newest: journald's socket removed mid-run: the acks go on", async () => {
    const peer = await datagramPeer(join(dir, 'j.sock'), true);
    await serve('when_full = "drop_newest"\n');
    const ENTRIES = 10_000;
    const client = rawSender('vanished-j');
    await client.send(0, 2_000);
    await until(() => client.acked() === 2_000, 10_000, 'the first 2,000 acked');
    await stopPeer(peer);
    await rm(join(dir, 'j.sock'));
    await client.send(2_000, ENTRIES);
    await until(() => client.acked() === ENTRIES, 15_000, `every entry acked after journald went away (acked ${client.acked()})`);
    await expectStoredOnce(ENTRIES);
  });

  it('block: SIGTERM with a stalled journald exits within shutdown_timeout_ms + 3 s, removes the socket and says what it could not store', async () => {
    await datagramPeer(join(dir, 'j.sock'), false);
    const server = await serve('when_full = "block"\n[server]\nshutdown_timeout_ms = 2000\n');
    const client = rawSender('blocked-j');
    void client.send(0, 5_000);
    // journald's queue fills and its write waits for room: the file backend stores, nobody acks.
    await until(async () => (await readEntries(join(out, 'current.log'))).length === 5_000, 10_000, 'the file backend to store all');
    expect(client.acked()).toBeLessThan(5_000);
    const stopping = Date.now();
    const exit = await Promise.race([
      server.stop('SIGTERM'),
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 2_000 + 3_000).unref()),
    ]);
    expect(exit).not.toBe('hung');
    expect(Date.now() - stopping).toBeLessThan(5_000);
    expect(existsSync(sock)).toBe(false);
    expect(server.stderr()).toMatch(/journald.*not stored/);
  });

  it('block: a syslog peer over TCP that accepts and never reads makes the acks stop, and nothing acked is dropped', async () => {
    // The stalled peer: accepts and never reads, so the kernel's buffers fill and stay full.
    const peer = createServer((c) => {
      c.pause();
      sockets.push(c);
    });
    listeners.push(peer);
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    const port = (peer.address() as { port: number }).port;
    const metricsPort = await freePort();
    await writeFile(
      join(dir, 'c.toml'),
      `[backends.syslog]\nenabled = true\nserver = "tcp://127.0.0.1:${port}"\nwhen_full = "block"\n[metrics]\nenabled = true\nport = ${metricsPort}\n`,
    );
    await startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out]);
    const client = rawSender('stalled-syslog');
    void client.send(0, 400_000);
    // Acks stop once the peer's and our buffers are full: no progress for 2 s.
    let last = -1;
    await until(
      async () => {
        const now = client.acked();
        const stuck = now === last;
        last = now;
        if (!stuck) await new Promise((r) => setTimeout(r, 2_000));
        return stuck;
      },
      60_000,
      'the acks to stop',
    );
    expect(client.acked()).toBeLessThan(400_000);
    const samples = await scrapeMetrics(metricsPort);
    const drops = samples.filter((m) => m.name === 'logstream_dropped_entries_total' && m.labels.backend === 'syslog');
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.filter((m) => m.value !== 0)).toEqual([]);
  });
});

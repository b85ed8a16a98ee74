import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { LogClient } from '@logstream/client';
import { parseServerFrame, type ServerFrame } from '@logstream/protocol';
import { metric, readEntries, scrapeMetrics, startServer, until, useServerDir, type ServerProcess } from '@logstream/test-support';
import { countStored, freePort, memoryOf, spawnClients, tally, type StreamClients } from './fixtures/fault-helpers';

let dir: string;
let sock: string;
let out: string;
const children: StreamClients[] = [];
const mounts: string[] = [];
const sockets: Socket[] = [];
const clients: LogClient[] = [];

// useServerDir's afterEach (SIGKILL the servers, remove the dir; LS_KEEP=1 keeps the dir of a
// failed test) runs after this file's own, which is registered after it.
useServerDir((paths) => ({ dir, sock, out } = paths));
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(children.splice(0).map((c) => c.kill()));
  // Lazily: a server still running on the tmpfs keeps it alive until useServerDir kills it.
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m]);
});

async function serve(config: string, env?: NodeJS.ProcessEnv): Promise<ServerProcess> {
  await writeFile(join(dir, 'c.toml'), config);
  return startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out], {
    ...(env === undefined ? {} : { env }),
    // LS_FAULTS_CLI runs these tests against another build (e.g. one without a fix).
    ...(process.env.LS_FAULTS_CLI === undefined ? {} : { cli: process.env.LS_FAULTS_CLI }),
  });
}

// One live file: FileBackend.recentIds() seeds the dedupe window from current.log (and the newest
// archive), so no rotation is wanted between a kill and the restart in the SIGKILL tests.
const ONE_LIVE_FILE = '[storage]\nmax_file_size = 4294967296\n';

/** A server on ONE_LIVE_FILE and `clients` client processes streaming `entries` each into it. */
async function serveUnderLoad(clients: number, entries: number): Promise<{ server: ServerProcess; load: StreamClients }> {
  const server = await serve(ONE_LIVE_FILE);
  const load = spawnClients({ socketPath: sock, clients, entries });
  children.push(load);
  return { server, load };
}

/** Every client's entries are stored exactly once, and nothing else is. */
async function expectStoredOnce(clients: number, entries: number): Promise<void> {
  const stored = await countStored(out, clients, entries);
  expect(stored.counts.map((row, c) => ({ client: c, ...tally(row) })).filter((t) => t.firstBad !== -1)).toEqual([]);
  expect(stored.lines).toBe(clients * entries);
  expect(stored.other).toBe(0);
}

/** Client `c`'s first `acked[c]` entries are stored exactly once each. */
function expectAckedStoredOnce(stored: { counts: Uint8Array[] }, acked: number[]): void {
  acked.forEach((n, c) => {
    expect({ client: c, ...tally(stored.counts[c] as Uint8Array, 0, n) }).toEqual({ client: c, missing: 0, duplicated: 0, firstBad: -1 });
  });
}

async function sigkill(server: ServerProcess): Promise<void> {
  const result = await server.stop('SIGKILL');
  expect(result.signal).toBe('SIGKILL');
}

/** Mounts a tmpfs of `sizeMiB` under the test's dir; afterEach unmounts it. */
async function mountTmpfs(sizeMiB: number): Promise<string> {
  const mount = join(dir, 'fs');
  await mkdir(mount);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', mount]);
  mounts.push(mount);
  return mount;
}

/** Fills the file system of `path` with a file until `leaveBytes` are free; returns the file. */
async function fill(path: string, leaveBytes: number): Promise<string> {
  const { bavail, bsize } = await statfs(path);
  const file = join(path, 'filler');
  await writeFile(file, Buffer.alloc(Math.max(0, bavail * bsize - leaveBytes)));
  return file;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('faults with real processes', () => {
  it('SIGKILL mid-stream, twice: no acknowledged entry is lost, and after flush 10 x 100,000 entries are stored exactly once', async () => {
    const CLIENTS = 10;
    const ENTRIES = 100_000;
    const started = await serveUnderLoad(CLIENTS, ENTRIES);
    let server = started.server;
    const load = started.load;

    for (const [round, fraction] of [0.3, 0.65].entries()) {
      // Every client past the mark, not just the total: a client still waiting out its reconnect
      // backoff when the server dies would never see a disconnect to report.
      await until(() => load.acked.every((a) => a >= fraction * ENTRIES), 60_000, `${fraction * 100}% acked by every client`);
      await sigkill(server);
      // Every client sees its connection die; the count it reports then is exactly what the
      // dead server acknowledged to it.
      await until(() => load.disconnects.every((d) => d.length > round), 10_000, 'every client to see the kill');
      const ackedAtKill = load.disconnects.map((d) => d[round] as number);
      expect(sum(ackedAtKill)).toBeGreaterThanOrEqual(fraction * CLIENTS * ENTRIES);
      // The file as the crash left it, before any resend: every acknowledged entry is there once.
      expectAckedStoredOnce(await countStored(out, CLIENTS, ENTRIES), ackedAtKill);
      server = await serve(ONE_LIVE_FILE);
    }

    const stats = await load.done;
    expect(stats.every((s) => s.acked === ENTRIES && s.logged === ENTRIES && s.droppedFull === 0)).toBe(true);
    // A client with entries left at a kill must reconnect to finish; one whose every entry was
    // acknowledged before the second kill may end the run still waiting out its backoff.
    expect(stats.map((s, c) => (s.reconnects === 1 && (load.disconnects[c]?.[1] ?? 0) >= ENTRIES ? 2 : s.reconnects))).toEqual(
      stats.map(() => 2),
    );
    await expectStoredOnce(CLIENTS, ENTRIES);
    console.info(`SIGKILL x2: ${CLIENTS * ENTRIES} entries stored once each; resent after the kills: ${sum(stats.map((s) => s.resent))}`);
  }, 180_000);

  it('SIGKILL, then the server stays down for 4 s: clients come back spread over seconds and nothing is stored twice', async () => {
    const CLIENTS = 10;
    const ENTRIES = 60_000;
    const { server, load } = await serveUnderLoad(CLIENTS, ENTRIES);
    await until(() => sum(load.acked) >= 0.25 * CLIENTS * ENTRIES, 60_000, '25% acked');
    await sigkill(server);
    await until(() => load.disconnects.every((d) => d.length > 0), 10_000, 'every client to see the kill');
    // Long enough for the clients' backoffs (100 ms, x2, jittered) to drift apart.
    await new Promise((r) => setTimeout(r, 4000));
    await serve(ONE_LIVE_FILE);
    const stats = await load.done;
    expect(stats.every((s) => s.acked === ENTRIES && s.droppedFull === 0 && s.reconnects === 1)).toBe(true);
    await expectStoredOnce(CLIENTS, ENTRIES);
  }, 180_000);

  it('a stalled backend (disk full): the server retries, stops reading, stays under 150 MiB RSS; clients block at bufferSize; all arrive once space returns', async () => {
    const CLIENTS = 8;
    const ENTRIES = 8000;
    const BUFFER = 5000;
    // ~1.2 KB entries: the clients hold ~47 MB unacknowledged, far more than the server's own
    // bounds (file queue 8 MiB, in flight 16 MiB), so only backpressure keeps its memory flat.
    const fs = await mountTmpfs(128);
    out = join(fs, 'out');
    const server = await serve('');
    const filler = await fill(fs, 1 << 20);
    const load = spawnClients({ socketPath: sock, clients: CLIENTS, entries: ENTRIES, bufferSize: BUFFER, messageBytes: 1000 });
    children.push(load);
    await until(() => server.stderr().includes('ENOSPC'), 30_000, 'the first ENOSPC');
    // Backpressure reaches every client: its buffer is full of unacknowledged entries and its
    // next ack is awaited (the fixture waits for it).
    await until(() => load.buffered.every((b) => b === BUFFER), 30_000, 'every client buffer full');
    let peak = 0;
    for (let i = 0; i < 30; i++) {
      peak = Math.max(peak, (await memoryOf(server.proc.pid as number)).rssMiB);
      await new Promise((r) => setTimeout(r, 100));
    }
    const mem = await memoryOf(server.proc.pid as number);
    expect(load.buffered.every((b) => b === BUFFER)).toBe(true);
    expect(sum(load.acked)).toBeLessThan(CLIENTS * ENTRIES);
    expect(server.proc.exitCode).toBe(null);
    expect(mem.peakMiB).toBeLessThan(150);
    console.info(
      `stalled backend: server RSS ${mem.rssMiB.toFixed(1)} MiB now, peak sampled ${peak.toFixed(1)} MiB, VmHWM ${mem.peakMiB.toFixed(1)} MiB; clients hold ${sum(load.buffered)} entries unacked`,
    );

    await rm(filler);
    const stats = await load.done;
    expect(stats.every((s) => s.acked === ENTRIES && s.droppedFull === 0)).toBe(true);
    await expectStoredOnce(CLIENTS, ENTRIES);
    expect((await memoryOf(server.proc.pid as number)).peakMiB).toBeLessThan(150);
  }, 180_000);

  it('disk full: reported on stderr and in logstream_errors_total{kind="io"}, nothing acknowledged that is not in the file, ingestion resumes when space returns', async () => {
    const CLIENTS = 4;
    const ENTRIES = 20_000;
    const fs = await mountTmpfs(32);
    out = join(fs, 'out');
    const port = await freePort();
    const server = await serve(`[metrics]\nenabled = true\nport = ${port}\n`);
    const filler = await fill(fs, 512 * 1024);
    const load = spawnClients({ socketPath: sock, clients: CLIENTS, entries: ENTRIES, bufferSize: 2000 });
    children.push(load);
    await until(() => server.stderr().includes('ENOSPC'), 30_000, 'the first ENOSPC');
    await until(() => load.buffered.every((b) => b === 2000), 30_000, 'every client buffer full');
    expect(server.stderr()).toMatch(/ERROR logstream-server: backend file: .*ENOSPC/);
    expect(metric(await scrapeMetrics(port), 'logstream_errors_total', { kind: 'io' })).toBeGreaterThan(0);
    expect(metric(await scrapeMetrics(port), 'logstream_backend_write_errors_total', { backend: 'file' })).toBeGreaterThan(0);
    // Every entry a client has seen acknowledged is in the file, once; the clients hold the rest.
    const acked = [...load.acked];
    const full = await countStored(out, CLIENTS, ENTRIES);
    expectAckedStoredOnce(full, acked);
    expect(full.lines).toBeLessThan(CLIENTS * ENTRIES);

    await rm(filler);
    const stats = await load.done;
    expect(stats.every((s) => s.acked === ENTRIES && s.droppedFull === 0)).toBe(true);
    await expectStoredOnce(CLIENTS, ENTRIES);
    expect(metric(await scrapeMetrics(port), 'logstream_messages_processed_total')).toBe(CLIENTS * ENTRIES);
  }, 180_000);

  it('SIGTERM while the disk is full: the server gives up after shutdown_timeout_ms without acknowledging what it could not write; a new server gets it all', async () => {
    const CLIENTS = 4;
    const ENTRIES = 20_000;
    const fs = await mountTmpfs(32);
    out = join(fs, 'out');
    const config = '[server]\nshutdown_timeout_ms = 1000\n';
    const server = await serve(config);
    const filler = await fill(fs, 256 * 1024);
    const load = spawnClients({ socketPath: sock, clients: CLIENTS, entries: ENTRIES, bufferSize: 2000 });
    children.push(load);
    await until(() => server.stderr().includes('ENOSPC'), 30_000, 'the first ENOSPC');
    await until(() => load.buffered.every((b) => b === 2000), 30_000, 'every client buffer full');
    const result = await server.stop('SIGTERM');
    expect(result).toEqual({ code: 0, signal: null });
    await until(() => load.disconnects.every((d) => d.length > 0), 10_000, 'every client to see the shutdown');
    // What each client saw acknowledged, up to its disconnect, is on disk, once.
    const ackedAtStop = load.disconnects.map((d) => d[0] as number);
    const atStop = await countStored(out, CLIENTS, ENTRIES);
    expectAckedStoredOnce(atStop, ackedAtStop);
    expect(sum(ackedAtStop)).toBe(atStop.lines);

    await rm(filler);
    await serve(config);
    const stats = await load.done;
    expect(stats.every((s) => s.acked === ENTRIES && s.droppedFull === 0)).toBe(true);
    await expectStoredOnce(CLIENTS, ENTRIES);
  }, 180_000);

  it('1,500 connections opened at once, 1,000 dropped at once: max_connections (1000) are served, the rest get an error line; the server stays up and a client still logs', async () => {
    const MAX = 1000; // the default max_connections
    const EXTRA = 500;
    const port = await freePort();
    const server = await serve(`[metrics]\nenabled = true\nport = ${port}\n`);
    // 1,500 at once: more connects in flight than Node's default listen backlog (511). Exactly
    // max_connections are served; every other one gets an error line (none fails to connect).
    const all = await Promise.all(Array.from({ length: MAX + EXTRA }, (_, i) => rawOpen(`flood-${i}`)));
    const flood = all.filter((c) => c.first?.type === 'ready');
    const refused = all.filter((c) => c.first?.type === 'error');
    expect({
      ready: flood.length,
      refused: refused.length,
      failedToConnect: all.filter((c) => c.first === undefined).map((c) => c.error),
    }).toEqual({ ready: MAX, refused: EXTRA, failedToConnect: [] });
    for (const c of refused) {
      expect(c.first).toMatchObject({ type: 'error', kind: 'server', code: 'TOO_MANY_CONNECTIONS' });
      expect((c.first as { message: string }).message).toContain(`max_connections ${MAX}`);
    }
    await until(() => refused.every((c) => c.closed), 5_000, 'the refused connections to be closed');
    // A well-behaved client started while every slot is taken: refused, it retries.
    const client = await LogClient.withConfig({ socketPath: sock, daemonName: 'survivor', timeout: 30_000 });
    clients.push(client);
    expect(client.connected).toBe(false);
    for (let i = 0; i < 1000; i++) client.info(`after flood ${i}`, { i: String(i) });
    // Drop the 1,000 at once, half of them in the middle of a line.
    flood.forEach((c, i) => i % 2 === 0 && c.socket.write('{"message":"cut in the mid'));
    for (const c of flood) c.socket.destroy();
    await client.flush();
    expect(server.proc.exitCode).toBe(null);
    const entries = (await readEntries(join(out, 'current.log'))).filter((e) => e.daemon === 'survivor');
    expect(entries.map((e) => (e.fields as { i: string }).i)).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
    // Every slot came back.
    await until(
      async () => metric(await scrapeMetrics(port), 'logstream_active_connections') === 1,
      10_000,
      'the dropped connections to be gone',
    );
    // The extra ones and at least one of the survivor's first attempts.
    expect(metric(await scrapeMetrics(port), 'logstream_connections_rejected_total')).toBeGreaterThanOrEqual(EXTRA + 1);
    expect(metric(await scrapeMetrics(port), 'logstream_connections_total')).toBeGreaterThanOrEqual(MAX + EXTRA + 2);
    expect(server.proc.exitCode).toBe(null);
  }, 120_000);

  it('a client that never reads its acks and errors cannot grow server memory; what it writes is still stored', async () => {
    // A 64 MiB V8 heap: frames piling up for a peer that does not read (they sit in the
    // socket's JS write queue) then crash the server instead of hiding in a lazy heap.
    const port = await freePort();
    const server = await serve(`[metrics]\nenabled = true\nport = ${port}\n`, { NODE_OPTIONS: '--max-old-space-size=64' });
    const mute = createConnection(sock);
    sockets.push(mute);
    mute.on('error', () => undefined);
    await new Promise((r) => mute.once('connect', r));
    mute.pause(); // never reads
    const send = async (data: string | Buffer) => {
      if (mute.destroyed) {
        await server.exited;
        throw new Error(`the server went away (exit ${server.proc.exitCode ?? server.proc.signalCode}): ${server.stderr().slice(-2000)}`);
      }
      if (!mute.write(data)) await new Promise((r) => (mute.once('drain', r), mute.once('close', r)));
    };
    await send('never-reads\n');
    // 200,000 one-byte bad lines (~20 MB of error frames), then 500 lines of 5,000 bad fields
    // (each once answered with a 150 KB error message), then 1,000 good entries.
    const bad = Buffer.from('{\n'.repeat(50_000));
    for (let i = 0; i < 4; i++) await send(bad);
    const fields = Buffer.from(`{"message":"m","fields":{${Array.from({ length: 5000 }, (_, i) => `"k${i}":1`).join(',')}}}\n`);
    for (let i = 0; i < 500; i++) await send(fields);
    for (let i = 0; i < 1000; i++) await send(`{"message":"tail ${i}"}\n`);
    await until(async () => (await readEntries(join(out, 'current.log'))).length === 1000, 60_000, 'the tail entries');
    expect(server.proc.exitCode).toBe(null);
    expect(metric(await scrapeMetrics(port), 'logstream_errors_total', { kind: 'serde' })).toBe(200_500);
    const mem = await memoryOf(server.proc.pid as number);
    console.info(`never-reading client: server RSS ${mem.rssMiB.toFixed(1)} MiB, VmHWM ${mem.peakMiB.toFixed(1)} MiB`);
    expect(mem.peakMiB).toBeLessThan(150);
    // Other clients are served as usual.
    const client = await LogClient.withConfig({ socketPath: sock, daemonName: 'reader', timeout: 10_000 });
    clients.push(client);
    client.info('still served');
    await client.flush();
    expect(client.stats.acked).toBe(1);
  }, 120_000);
});

interface RawOpen {
  socket: Socket;
  first: ServerFrame | undefined;
  error: string | undefined;
  closed: boolean;
}

/** Connects, sends a handshake and resolves with the first frame (or the error, or a close without one). */
function rawOpen(name: string): Promise<RawOpen> {
  return new Promise((resolve) => {
    const socket = createConnection(sock);
    sockets.push(socket);
    const conn: RawOpen = { socket, first: undefined, error: undefined, closed: false };
    let buf = '';
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${name}\n`));
    socket.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1 && conn.first === undefined) {
        conn.first = parseServerFrame(buf.slice(0, nl));
        resolve(conn);
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (conn.error = e.code ?? e.message));
    socket.on('close', () => {
      conn.closed = true;
      resolve(conn);
    });
  });
}

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createConnection, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { metric, parseMetrics, readEntries, runCli, startServer, until, useServerDir } from '@logstream/test-support';

// Per-sender rate limit ([server] rate_limit_burst, rate_limit_interval_ms). The sender is the
// kernel's word (SO_PEERCRED: uid and pid here, where no systemd unit holds the processes), so
// what a client says (its handshake, the daemon in its entries) and reconnecting change nothing.

let dir: string;
let sock: string;
let out: string;
const sockets: Socket[] = [];
const procs: ChildProcess[] = [];
useServerDir((paths) => ({ dir, sock, out } = paths));
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
});

/** The built client library, for scripts run as child processes (root or nobody). */
const CLIENT = JSON.stringify(createRequire(import.meta.url).resolve('@logstream/client'));

async function serve(server: string): Promise<Awaited<ReturnType<typeof startServer>>> {
  // nobody must reach the socket: the temp dir is 0700 by default.
  await chmod(dir, 0o755);
  const config = join(dir, 'c.toml');
  await writeFile(config, `[server]\nsocket_mode = "0666"\n${server}\n`);
  return startServer(['-c', config, '-s', sock, '-o', out]);
}

/** Runs a CommonJS script (as `user` when given) and resolves with its last stdout line, parsed. */
async function runScript(name: string, source: string, user?: string): Promise<{ result: Record<string, unknown>; stderr: string }> {
  const file = join(dir, name);
  await writeFile(file, source);
  await chmod(file, 0o644);
  const argv = user === undefined ? [process.execPath, file] : ['runuser', '-u', user, '--', process.execPath, file];
  const proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
  if (code !== 0) throw new Error(`${name} exited ${code}: ${stderr}`);
  return { result: JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>, stderr };
}

/** A raw connection: what the server sends, and the highest ack seen. */
function connect(): { socket: Socket; text: () => string; acked: () => number } {
  const socket = createConnection(sock);
  sockets.push(socket);
  let text = '';
  socket.setEncoding('utf8').on('data', (d: string) => (text += d));
  return {
    socket,
    text: () => text,
    acked: () => Math.max(0, ...[...text.matchAll(/"type":"ack","seq":(\d+)/g)].map((m) => Number(m[1]))),
  };
}

const count = (text: string, what: string) => text.split(what).length - 1;

// One process: two LogClients with other daemon names one after the other (a reconnect), then
// a connection without handshake whose entries each claim yet another daemon.
const FLOOD = `
const { LogClient } = require(${CLIENT});
const { createConnection } = require('node:net');
(async () => {
  const sock = process.argv[2];
  const out = { pid: process.pid, rejected: [], acked: [] };
  for (const name of ['alpha', 'beta']) {
    const client = await LogClient.connect(sock, name);
    client.on('rejected', (frame) => out.rejected.push(frame.code));
    for (let i = 0; i < 30; i++) client.info(name + ' ' + i);
    await client.flush(); // resolves: dropped entries are acknowledged, not held for a resend
    out.acked.push(client.stats.acked);
    await client.close();
  }
  const raw = createConnection(sock);
  let text = '';
  raw.setEncoding('utf8').on('data', (d) => (text += d));
  let lines = '';
  for (let i = 0; i < 30; i++) lines += JSON.stringify({ message: 'raw ' + i, daemon: 'gamma-' + i }) + '\\n';
  raw.write(lines);
  while (!text.includes('"seq":30}')) await new Promise((r) => setTimeout(r, 20));
  out.rawRateLimited = text.split('RATE_LIMITED').length - 1;
  raw.end();
  console.log(JSON.stringify(out));
})();
`;

const QUIET = `
const { LogClient } = require(${CLIENT});
(async () => {
  const client = await LogClient.connect(process.argv[2] ?? ${JSON.stringify('')}, 'quiet');
  for (let i = 0; i < 15; i++) client.info('quiet ' + i);
  await client.flush();
  const acked = client.stats.acked;
  await client.close();
  console.log(JSON.stringify({ pid: process.pid, uid: process.getuid(), acked }));
})();
`;

describe('[server] rate_limit_burst', () => {
  it('a sender gets at most the burst stored, whatever daemon names it uses and across reconnects; the rest is acknowledged, told once per connection and counted in one "suppressed N" entry; another uid is untouched', async () => {
    const server = await serve('rate_limit_interval_ms = 600000\nrate_limit_burst = 20\n[metrics]\nenabled = true\nport = 0');
    const base = /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(server.stderr())?.[1] as string;
    const flood = await runScript('flood.cjs', FLOOD.replace('process.argv[2]', JSON.stringify(sock)));
    const quiet = await runScript('quiet.cjs', QUIET.replace('process.argv[2]', JSON.stringify(sock)), 'nobody');

    // Every entry acknowledged (30 per client), the drops included: nothing waits for a resend.
    expect(flood.result.acked).toEqual([30, 30]);
    // Each connection told once: alpha when it passed the burst, beta and the raw one at once.
    expect(flood.result.rejected).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    expect(flood.result.rawRateLimited).toBe(1);
    expect(flood.stderr).toContain('logstream client "alpha": the server drops entries over its rate limit');
    expect(quiet.result).toMatchObject({ uid: 65534, acked: 15 });

    const scrape = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    expect(metric(scrape, 'logstream_intake_dropped_entries_total', { reason: 'rate_limited' })).toBe(70);

    // The windows still open are told at shutdown.
    expect((await server.stop('SIGTERM')).code).toBe(0);
    const entries = await readEntries(join(out, 'current.log'));
    const messages = entries.map((e) => e.message as string);
    const flooded = messages.filter((m) => /^(alpha|beta|raw) /.test(m));
    expect(flooded).toEqual(Array.from({ length: 20 }, (_, i) => `alpha ${i}`));
    expect(messages.filter((m) => m.startsWith('quiet '))).toHaveLength(15);
    const sender = `uid 0 pid ${flood.result.pid as number}`;
    const told = entries.filter((e) => e.daemon === 'logstream');
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({
      level: 4,
      message: `suppressed 70 entries from ${sender}`,
      fields: { sender, suppressed: '70' },
      pid: server.proc.pid,
      peer: { pid: server.proc.pid, uid: 0 },
    });
  });

  it('when the interval ends, "suppressed N" is stored at once and the next interval stores a fresh burst', async () => {
    await serve('rate_limit_interval_ms = 1500\nrate_limit_burst = 10');
    const sender = `uid ${process.getuid?.() ?? 0} pid ${process.pid}`;
    const batch = (tag: string) => Array.from({ length: 25 }, (_, i) => JSON.stringify({ message: `${tag} ${i}` })).join('\n') + '\n';

    const first = connect();
    first.socket.write(`one\n${batch('first')}`);
    await until(() => first.acked() === 25, 15_000, 'every line of the first batch acknowledged');
    expect(count(first.text(), 'RATE_LIMITED')).toBe(1);
    // No shutdown, no further entry: the window's end alone stores what it dropped.
    await until(
      async () => (await readEntries(join(out, 'current.log'))).some((e) => e.message === `suppressed 15 entries from ${sender}`),
      15_000,
      'the suppressed entry of the first window',
    );

    const second = connect();
    second.socket.write(`two\n${batch('second')}`);
    await until(() => second.acked() === 25, 15_000, 'every line of the second batch acknowledged');
    await until(
      async () => (await readEntries(join(out, 'current.log'))).filter((e) => e.daemon === 'logstream').length === 2,
      15_000,
      'the suppressed entry of the second window',
    );
    const messages = (await readEntries(join(out, 'current.log'))).map((e) => e.message as string);
    expect(messages.filter((m) => m.startsWith('first '))).toEqual(Array.from({ length: 10 }, (_, i) => `first ${i}`));
    expect(messages.filter((m) => m.startsWith('second '))).toEqual(Array.from({ length: 10 }, (_, i) => `second ${i}`));
    expect(messages.filter((m) => m.startsWith('suppressed '))).toEqual([
      `suppressed 15 entries from ${sender}`,
      `suppressed 15 entries from ${sender}`,
    ]);
  });

  it('the logstream command says that the rate limit dropped entries, and exits 1 (not stored)', async () => {
    await serve('rate_limit_burst = 2');
    const cli = join(dirname(createRequire(import.meta.url).resolve('@logstream/client')), 'cli.js');
    const proc = spawn(process.execPath, [cli, '-s', sock, '-t', 'batch'], { stdio: ['pipe', 'ignore', 'pipe'] });
    procs.push(proc);
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    proc.stdin?.end('one\ntwo\nthree\nfour\n');
    const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('logstream: the server dropped entries over its rate limit');
    const entries = await readEntries(join(out, 'current.log'));
    expect(entries.filter((e) => e.daemon === 'batch').map((e) => e.message)).toEqual(['one', 'two']);
  });

  it('with rate_limit_burst 0 (the default) nothing is limited', async () => {
    await serve('');
    const conn = connect();
    conn.socket.write(`bulk\n${Array.from({ length: 2000 }, (_, i) => JSON.stringify({ message: `bulk ${i}` })).join('\n')}\n`);
    await until(() => conn.acked() === 2000, 15_000, 'every line acknowledged');
    const entries = await readEntries(join(out, 'current.log'));
    expect(entries.filter((e) => (e.message as string).startsWith('bulk '))).toHaveLength(2000);
    expect(entries.filter((e) => e.daemon === 'logstream')).toEqual([]);
    expect(conn.text()).not.toContain('RATE_LIMITED');
  });

  it('a bad value is a config error naming the key', async () => {
    const config = join(dir, 'bad.toml');
    await writeFile(config, '[server]\nrate_limit_burst = -1\nrate_limit_interval_ms = 0\n');
    const result = await runCli(['--validate', '-c', config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('server.rate_limit_burst');
    expect(result.stderr).toContain('server.rate_limit_interval_ms');
  });
});

// The sender's identity (issue 14.3) comes from the kernel too: an unprivileged process that
// claims to be root's sshd in every field it can write is stored as itself.
const IMPOSTOR = `
const { createConnection } = require('node:net');
const socket = createConnection(process.argv[2]);
let text = '';
socket.setEncoding('utf8').on('data', (d) => {
  text += d;
  if (text.includes('"type":"ready"') && !socket.sent) {
    socket.sent = true;
    const claim = { pid: 1, uid: 0, gid: 0, comm: 'systemd', exe: '/usr/lib/systemd/systemd', unit: 'sshd.service' };
    // Canonical layout with a peer appended, and a partial entry in another key order with one.
    socket.write(JSON.stringify({ id: 'imp-1', timestamp: '2026-01-01T00:00:00.000Z', level: 6, daemon: 'sshd', message: 'one', fields: {}, pid: 1, hostname: 'h', peer: claim }) + '\\n');
    socket.write(JSON.stringify({ peer: claim, message: 'two', daemon: 'sshd', pid: 1, id: 'imp-2' }) + '\\n');
  }
  if (/"type":"ack","seq":2/.test(text)) {
    console.log(JSON.stringify({ pid: process.pid, uid: process.getuid(), gid: process.getgid() }));
    socket.end();
  }
});
socket.write('sshd\\n');
`;

describe('peer: the sender as the kernel says', () => {
  it('a process of another uid claiming to be root and pid 1 is stored with its real pid, uid and gid; its own claims stay its word', async () => {
    const server = await serve('');
    const { result } = await runScript('impostor.cjs', IMPOSTOR.replace('process.argv[2]', JSON.stringify(sock)), 'nobody');
    expect(result.uid).not.toBe(0);
    await server.stop();
    const entries = await readEntries(join(out, 'current.log'));
    expect(entries.map((e) => e.id).sort()).toEqual(['imp-1', 'imp-2']);
    for (const e of entries) {
      expect(e.peer).toMatchObject({ pid: result.pid, uid: result.uid, gid: result.gid, comm: 'node' });
      expect((e.peer as { unit?: string }).unit).not.toBe('sshd.service');
      // What the client wrote is kept as its word, beside the kernel's.
      expect(e.pid).toBe(1);
      expect(e.daemon).toBe('sshd');
    }
  }, 60_000);
});

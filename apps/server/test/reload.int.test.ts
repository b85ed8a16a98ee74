import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LogClient } from '@logstream/client';
import { startServer, until, useServerDir, type ServerProcess } from '@logstream/test-support';

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

/** A real syslog-over-TCP receiver (octet counting): every message it got, in order. */
class TcpSyslogPeer {
  readonly messages: string[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  constructor() {
    this.#server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        for (;;) {
          const space = buffered.indexOf(0x20);
          if (space < 0) return;
          const length = Number(buffered.subarray(0, space).toString());
          if (buffered.length < space + 1 + length) return;
          this.messages.push(buffered.subarray(space + 1, space + 1 + length).toString());
          buffered = buffered.subarray(space + 1 + length);
        }
      });
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as { port: number }).port;
  }
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

let peer: TcpSyslogPeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

/** The entries of current.log, whichever format each line is in: [format, message]. */
async function fileEntries(path: string): Promise<{ format: 'json' | 'human'; message: string }[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      if (line.startsWith('{')) return { format: 'json' as const, message: (JSON.parse(line) as { message: string }).message };
      const m = /^\S+Z \w+ +\S+\[\d+\][^:]*: (\S+)/.exec(line); // [pid] uid=… comm=…: the sender
      if (m === null) throw new Error(`not a human line: ${line}`);
      return { format: 'human' as const, message: m[1] as string };
    });
}

interface Sent {
  message: string;
  level: 'debug' | 'info';
  /** Sent before SIGHUP was sent: the old settings apply. */
  beforeHup: boolean;
  /** Sent after the server said the reload was done: the new settings apply. */
  afterSwitch: boolean;
}

describe('SIGHUP reloads the config', () => {
  it('under load from 4 clients: new format, min_level and backend apply after the switch; every acked entry stored once; connections kept; a broken file keeps the running config', async () => {
    peer = new TcpSyslogPeer();
    const port = await peer.listen();
    const config = join(dir, 'server.toml');
    await writeFile(config, `[storage]\noutput_directory = "${out}"\n[backends.file]\nformat = "json"\nmin_level = "debug"\n`);
    const server: ServerProcess = await startServer(['-c', config, '-s', sock]);

    let hupSent = false;
    let switched = false;
    let stop = false;
    const sent: Sent[] = [];
    const acked = new Set<string>();
    const clients = await Promise.all(
      [0, 1, 2, 3].map((k) => LogClient.withConfig({ socketPath: sock, daemonName: `reload${k}`, autoReconnect: false })),
    );
    const disconnects: string[] = [];
    clients.forEach((c, k) => c.on('disconnect', () => disconnects.push(`client ${k}`)));
    const streams = clients.map(async (client, k) => {
      for (let i = 0; !stop; i += 20) {
        const batch: Sent[] = [];
        for (let j = i; j < i + 20; j++) {
          const level = j % 2 === 0 ? 'debug' : 'info';
          const s: Sent = { message: `c${k}-${j}`, level, beforeHup: !hupSent, afterSwitch: switched };
          batch.push(s);
          sent.push(s);
          void client[level](s.message);
        }
        await client.flush();
        for (const s of batch) acked.add(s.message);
      }
    });

    await until(() => acked.size >= 2000, 60_000, '2000 entries acked under the first config');
    await writeFile(
      config,
      [
        '[server]',
        'max_connections = 50', // restart-only: named in the log, kept
        '[storage]',
        `output_directory = "${out}"`,
        '[backends.file]',
        'format = "human"',
        'min_level = "info"',
        '[backends.syslog]',
        'enabled = true',
        `server = "tcp://127.0.0.1:${port}"`,
        'min_level = "debug"',
        '',
      ].join('\n'),
    );
    hupSent = true;
    server.proc.kill('SIGHUP');
    await until(() => server.stderr().includes('SIGHUP: config reloaded'), 60_000, 'the reload');
    switched = true;
    const afterReload = acked.size;
    await until(() => acked.size >= afterReload + 2000, 60_000, '2000 entries acked under the second config');

    // A broken file: the server says why and keeps serving with the running config.
    await writeFile(config, '[backends.file]\nformat = "json\n');
    server.proc.kill('SIGHUP');
    await until(() => server.stderr().includes('not applied, the running config stays'), 60_000, 'the refusal');
    const afterBroken = acked.size;
    await until(() => acked.size >= afterBroken + 1000, 60_000, '1000 entries acked after the broken reload');
    stop = true;
    await Promise.all(streams);
    await Promise.all(clients.map((c) => c.close()));

    const log = server.stderr();
    expect(log).toContain(
      'WARN  logstream-server: SIGHUP: server.max_connections (1000 → 50) needs a restart to take effect; keeping the running value',
    );
    expect(log).toMatch(/SIGHUP: config reloaded; backends: file \(.*current\.log, human\), syslog \(tcp:\/\/127\.0\.0\.1:\d+, rfc5424\)/);
    expect(log).toMatch(
      /ERROR logstream-server: SIGHUP: .*server\.toml not applied, the running config stays: .*server\.toml:2:\d+: invalid TOML: unterminated string/,
    );
    expect(disconnects).toEqual([]);

    const stored = await fileEntries(join(out, 'current.log'));
    const inFile = new Map<string, number>();
    for (const e of stored) inFile.set(e.message, (inFile.get(e.message) ?? 0) + 1);
    const formatOf = new Map(stored.map((e) => [e.message, e.format]));
    await until(
      () => sent.filter((s) => s.afterSwitch && acked.has(s.message)).every((s) => peer!.messages.some((m) => m.includes(` ${s.message}`))),
      30_000,
      'syslog to receive the entries after the switch',
    );
    const inSyslog = new Map<string, number>();
    for (const m of peer.messages) {
      const found = /\b(c\d-\d+)$/.exec(m);
      if (found) inSyslog.set(found[1] as string, (inSyslog.get(found[1] as string) ?? 0) + 1);
    }

    let checked = 0;
    for (const s of sent) {
      if (!acked.has(s.message)) continue;
      checked++;
      const fileCount = inFile.get(s.message) ?? 0;
      const syslogCount = inSyslog.get(s.message) ?? 0;
      expect(fileCount, s.message).toBeLessThanOrEqual(1);
      expect(syslogCount, s.message).toBeLessThanOrEqual(1);
      if (s.beforeHup) {
        // The old settings: json, debug kept, no syslog.
        expect([fileCount, formatOf.get(s.message), syslogCount], s.message).toEqual([1, 'json', 0]);
      } else if (s.afterSwitch) {
        // The new settings: human, debug filtered from the file, everything to syslog.
        expect([fileCount, syslogCount], s.message).toEqual([s.level === 'info' ? 1 : 0, 1]);
        if (s.level === 'info') expect(formatOf.get(s.message), s.message).toBe('human');
      } else {
        // Sent while the reload ran: stored by exactly one of the two configurations.
        const old = fileCount === 1 && formatOf.get(s.message) === 'json' && syslogCount === 0;
        const next =
          syslogCount === 1 && fileCount === (s.level === 'info' ? 1 : 0) && (fileCount === 0 || formatOf.get(s.message) === 'human');
        expect(old !== next, `${s.message}: old ${old}, new ${next}`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5000);
    // Per client, the file keeps the order the entries were sent in.
    for (const k of [0, 1, 2, 3]) {
      const order = stored.filter((e) => e.message.startsWith(`c${k}-`)).map((e) => Number(e.message.split('-')[1]));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    expect((await server.stop('SIGTERM')).code).toBe(0);
  }, 240_000);

  it('a config that cannot be applied (a backend that does not build) keeps the old backends serving', async () => {
    const config = join(dir, 'server.toml');
    await writeFile(config, `[storage]\noutput_directory = "${out}"\n`);
    const server = await startServer(['-c', config, '-s', sock]);
    const client = await LogClient.withConfig({ socketPath: sock, daemonName: 'bad-reload', autoReconnect: false });
    client.info('before');
    await client.flush();
    // Valid TOML and schema, but the TLS CA file does not exist.
    await writeFile(
      config,
      `[storage]\noutput_directory = "${out}"\n[backends.file]\nformat = "human"\n[backends.syslog]\nenabled = true\nserver = "tls://127.0.0.1:6514"\ntls_ca = "${join(dir, 'nope.pem')}"\n`,
    );
    server.proc.kill('SIGHUP');
    await until(() => server.stderr().includes('not applied, the running config stays'), 60_000, 'the refusal');
    expect(server.stderr()).toContain(`backends.syslog.tls_ca: cannot read ${join(dir, 'nope.pem')}`);
    client.info('after');
    await client.flush();
    await client.close();
    expect((await fileEntries(join(out, 'current.log'))).map((e) => [e.format, e.message])).toEqual([
      ['json', 'before'],
      ['json', 'after'],
    ]);
  });
});

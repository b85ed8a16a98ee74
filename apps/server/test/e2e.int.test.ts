import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createConnection } from 'node:net';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LogClient, LogLevel } from '@logstream/client';
import { parseServerFrame } from '@logstream/protocol';
import { readEntries, runCli, startServer, until, useServerDir, type ServerProcess } from '@logstream/test-support';

let dir: string;
let server: ServerProcess | undefined;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

// The spec's keys, then the sender as the kernel says (set by the server).
const SPEC_KEYS = ['id', 'timestamp', 'level', 'daemon', 'message', 'fields', 'pid', 'hostname', 'peer'];

describe('logstream-server end to end', () => {
  it('stores every level with fields exactly once, in order, with the spec fields', async () => {
    server = await startServer(['-s', sock, '-o', out]);
    const client = await LogClient.connect(sock, 'web-server');
    client.emergency('m0', { n: '0' });
    client.alert('m1', { n: '1' });
    client.critical('m2', { n: '2' });
    client.error('m3', { n: '3' });
    client.warning('m4', { n: '4' });
    client.notice('m5', { n: '5' });
    client.info('m6', { n: '6' });
    client.debug('m7', { n: '7' });
    client.log(LogLevel.Info, 'with "quotes", ünïcödé and\nnewline', { user_id: '12345', 'odd key': 'a=b c' });
    await client.flush();
    await client.close();
    const entries = await readEntries(join(out, 'current.log'));
    expect(entries).toHaveLength(9);
    entries.forEach((e, i) => {
      expect(Object.keys(e)).toEqual(SPEC_KEYS);
      expect(e.daemon).toBe('web-server');
      expect(e.pid).toBe(process.pid);
      expect(e.peer).toMatchObject({ pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
      expect(typeof e.hostname).toBe('string');
      expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
      if (i < 8) expect(e).toMatchObject({ level: i, message: `m${i}`, fields: { n: String(i) } });
    });
    expect(entries[8]).toMatchObject({ message: 'with "quotes", ünïcödé and\nnewline', fields: { user_id: '12345', 'odd key': 'a=b c' } });
    expect(new Set(entries.map((e) => e.id)).size).toBe(9);
  });

  it('stores 50 concurrent clients x 1,000 entries exactly once, in order per client', async () => {
    server = await startServer(['-s', sock, '-o', out]);
    const clients = await Promise.all(Array.from({ length: 50 }, (_, i) => LogClient.connect(sock, `daemon-${i}`)));
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; i < 1000; i++) if (!client.info(`entry ${i}`, { client: String(c), i: String(i) })) await client.drain();
        await client.flush();
        await client.close();
      }),
    );
    const entries = await readEntries(join(out, 'current.log'));
    expect(entries).toHaveLength(50_000);
    expect(new Set(entries.map((e) => e.id)).size).toBe(50_000);
    const next = new Map<string, number>();
    for (const e of entries) {
      const f = e.fields as Record<string, string>;
      const expected = next.get(f.client as string) ?? 0;
      expect(Number(f.i)).toBe(expected);
      next.set(f.client as string, expected + 1);
    }
    expect([...next.values()].every((n) => n === 1000)).toBe(true);
  });

  it('stores a line piped through nc with no handshake', async () => {
    server = await startServer(['-s', sock, '-o', out]);
    await promisify(execFile)('sh', ['-c', `echo '{"message":"hi"}' | nc -N -U ${sock}`]);
    await until(async () => (await readEntries(join(out, 'current.log'))).length === 1);
    const [entry] = await readEntries(join(out, 'current.log'));
    expect(entry).toMatchObject({ message: 'hi', level: 6, daemon: 'unknown', pid: null });
    expect(Object.keys(entry as object)).toEqual(SPEC_KEYS);
    // The kernel's word: nc sent it, not this process.
    expect(entry?.peer).toMatchObject({ uid: process.getuid?.(), comm: 'nc' });
    expect((entry?.peer as { pid: number }).pid).not.toBe(process.pid);
  });

  it('answers malformed JSON, wrong types, level 9 and an oversized line with errors and stores the next entry', async () => {
    await writeFile(join(dir, 'c.toml'), '[server]\nmax_line_bytes = 1024\n');
    server = await startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out]);
    const socket = createConnection(sock);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.write('bad-input-test\n');
    socket.write('{"message": oops}\n');
    socket.write('{"message":"x","fields":{"n":1}}\n');
    socket.write('{"message":"x","level":9}\n');
    socket.write(`{"message":"${'a'.repeat(4096)}"}\n`);
    socket.write('{"message":"survivor"}\n');
    await until(() => text.includes('"seq":5') && text.includes('"type":"ack"'));
    const frames = text
      .trim()
      .split('\n')
      .map((l) => parseServerFrame(l));
    const errors = frames.filter((f) => f?.type === 'error');
    expect(errors.map((f) => f?.type === 'error' && f.code)).toEqual(['INVALID_JSON', 'INVALID_ENTRY', 'INVALID_ENTRY', 'LINE_TOO_LONG']);
    expect(errors[1]?.type === 'error' && errors[1].message).toContain('fields.n');
    expect(errors[2]?.type === 'error' && errors[2].message).toContain('level');
    socket.end();
    await until(async () => (await readEntries(join(out, 'current.log'))).length === 1);
    expect((await readEntries(join(out, 'current.log')))[0]).toMatchObject({ message: 'survivor', daemon: 'bad-input-test' });
  });

  it('names the key of a config error and exits non-zero; --validate exits 0 on a good file', async () => {
    await writeFile(join(dir, 'bad.toml'), '[backends.file]\nformat = "xml"\n[server]\nmax_conections = 5\n');
    const bad = await runCli(['--validate', '-c', join(dir, 'bad.toml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('backends.file.format: expected "json" | "human" | "syslog", got "xml"');
    expect(bad.stderr).toContain('server.max_conections: unknown key');
    const badStart = await runCli(['-c', join(dir, 'bad.toml'), '-s', sock]);
    expect(badStart.code).toBe(1);
    await writeFile(join(dir, 'good.toml'), '[server]\nmax_connections = 5\n[backends.file]\nformat = "human"\n');
    const good = await runCli(['--validate', '-c', join(dir, 'good.toml')]);
    expect(good.code).toBe(0);
    const effective = JSON.parse(good.stdout.slice(good.stdout.indexOf('{'))) as {
      server: { max_connections: number; socket_path: string };
      backends: { file: { format: string } };
    };
    expect(effective.server.max_connections).toBe(5);
    expect(effective.server.socket_path).toBe('/tmp/logstream.sock');
    expect(effective.backends.file.format).toBe('human');
    const missing = await runCli(['--validate', '-c', join(dir, 'nope.toml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.toml');
    const badToml = join(dir, 'syntax.toml');
    await writeFile(badToml, '[server\n');
    expect((await runCli(['--validate', '-c', badToml])).stderr).toContain('invalid TOML');
  });

  it('on SIGTERM after a burst stores everything sent, removes the socket and exits 0', async () => {
    server = await startServer(['-s', sock, '-o', out]);
    const socket = createConnection(sock);
    await new Promise((r) => socket.once('connect', r));
    let burst = '';
    for (let i = 0; i < 20_000; i++) burst += `{"message":"burst ${i}","fields":{"i":"${i}"}}\n`;
    await new Promise<void>((r) => socket.write(burst, () => r()));
    const result = await server.stop('SIGTERM');
    server = undefined;
    expect(result.code).toBe(0);
    await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
    const entries = await readEntries(join(out, 'current.log'));
    expect(entries).toHaveLength(20_000);
    expect(entries.map((e) => (e.fields as { i: string }).i)).toEqual(Array.from({ length: 20_000 }, (_, i) => String(i)));
  });

  it('writes the human and syslog formats', async () => {
    await writeFile(join(dir, 'h.toml'), '[backends.file]\nformat = "human"\n');
    server = await startServer(['-c', join(dir, 'h.toml'), '-s', sock, '-o', out]);
    const client = await LogClient.connect(sock, 'web-server');
    client.info('Request processed', { user_id: '12345' });
    await client.close();
    const human = await readFile(join(out, 'current.log'), 'utf8');
    expect(human).toMatch(
      new RegExp(
        // The trusted sender (this process, as the kernel says) follows the daemon's name.
        `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO  web-server\\[${process.pid}\\] uid=${process.getuid?.()} comm=\\S.*: Request processed user_id=12345\\n$`,
      ),
    );
    await server.stop();
    const out2 = join(dir, 'out2');
    await writeFile(join(dir, 's.toml'), '[backends.file]\nformat = "syslog"\n[backends.syslog]\nfacility = "LOG_LOCAL0"\n');
    server = await startServer(['-c', join(dir, 's.toml'), '-s', sock, '-o', out2]);
    const c2 = await LogClient.connect(sock, 'web-server');
    c2.warning('disk "almost" full', { mount: '/var' });
    await c2.close();
    const line = await readFile(join(out2, 'current.log'), 'utf8');
    // PRI = LOG_LOCAL0 (16) * 8 + warning (4): the file format takes [backends.syslog] facility.
    expect(line).toMatch(
      new RegExp(`^<132>1 \\S+Z \\S+ web-server ${process.pid} - \\[logstream@32473 mount="/var"\\] (\\uFEFF)?disk "almost" full\\n$`),
    );
  });

  it('writes the syslog file format as RFC 3164 with [backends.syslog] format = "rfc3164", control bytes escaped', async () => {
    await writeFile(
      join(dir, 's.toml'),
      '[backends.file]\nformat = "syslog"\n[backends.syslog]\nfacility = "LOG_LOCAL0"\nformat = "rfc3164"\n',
    );
    server = await startServer(['-c', join(dir, 's.toml'), '-s', sock, '-o', out]);
    const client = await LogClient.connect(sock, 'web-server');
    client.warning('disk\u001b[2J "almost" full\nliteral #012', { mount: '/var' });
    await client.close();
    const line = await readFile(join(out, 'current.log'), 'utf8');
    // RFC 3164 has no structured data; PRI = LOG_LOCAL0 (16) * 8 + warning (4).
    expect(line).toMatch(
      new RegExp(
        `^<132>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\S+ web-server\\[${process.pid}\\]: disk#033\\[2J "almost" full#012literal #043012\\n$`,
      ),
    );
  });

  it('-v debug lines quote a refused field key without its control, bidi or separator characters', async () => {
    server = await startServer(['-v', '-s', sock, '-o', out]);
    const socket = createConnection(sock);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    // Valid JSON whose key decodes to ESC [2J (clear screen), BEL, CR, U+202E and U+2028.
    socket.write('{"message":"x","fields":{"k\\u001b[2J\\u0007\\r\\u202e\\u2028":1}}\n');
    await until(() => text.includes('"type":"ack"'));
    socket.end();
    await until(() => server?.stderr().includes('DEBUG') === true, 15_000, 'debug line');
    const stderr = server.stderr();
    expect(stderr).toContain('client: INVALID_ENTRY: invalid entry: fields.k\\u001b[2J\\u0007\\u000d\\u202e\\u2028: field key');
    // eslint-disable-next-line no-control-regex
    expect(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2028]/.test(stderr)).toBe(false);
  });

  it('starts on built-in defaults with no config file', async () => {
    const r = await runCli(['--validate']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('built-in defaults');
    expect(r.stdout).toContain('"/var/log/logstream"');
  });
});

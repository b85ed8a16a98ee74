import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The real server, built: the same helpers as the server app's own tests.
import { readEntries, startServer, until, useServerDir, type ServerProcess } from '@logstream/test-support';

/** The built `logstream` command (tests run what ships). */
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

let dir: string;
let server: ServerProcess | undefined;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

/** Runs `logstream args`, feeding `stdin` if given. With `direct`, execs the file itself (shebang). */
function logstream(
  args: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv; direct?: boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, LOGSTREAM_SOCKET: '', ...options.env };
    const proc = options.direct ? spawn(BIN, args, { env }) : spawn(process.execPath, [BIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    // Decoded as UTF-8 by the streams, so a character split across chunks stays whole.
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    proc.once('error', reject);
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
    proc.stdin.end(options.stdin ?? '');
  });
}

const live = () => join(out, 'current.log');

describe('logstream command', () => {
  it('sends a message with fields, tag and priority, and exits 0 once it is stored', async () => {
    server = await startServer(['-s', sock, '-o', out]);
    const r = await logstream(['-s', sock, '-t', 'my-daemon', '-p', 'warning', 'disk almost full', 'mount=/var', 'key=value']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    // Exit 0 means acknowledged, so the entry is on disk now: no waiting.
    const entries = await readEntries(live());
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      daemon: 'my-daemon',
      level: 4,
      message: 'disk almost full',
      fields: { mount: '/var', key: 'value' },
    });
    expect(typeof entries[0]?.pid).toBe('number');
  });

  it('sends one entry per line of stdin, with $LOGSTREAM_SOCKET, the user name as tag and facility.level', async () => {
    server = await startServer(['-s', sock, '-o', out]);
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i}`);
    const r = await logstream(['-p', 'local0.err', 'job=nightly'], { stdin: '', env: { LOGSTREAM_SOCKET: sock } });
    // "job=nightly" alone is a message (the first word always is).
    expect(r.code).toBe(0);
    const s = await logstream(['-p', 'user.err'], {
      stdin: `${lines.slice(0, 2).join('\r\n')}\n\n${lines.slice(2).join('\n')}`,
      env: { LOGSTREAM_SOCKET: sock },
    });
    expect(s).toEqual({ code: 0, stdout: '', stderr: '' });
    const entries = await readEntries(live());
    expect(entries[0]).toMatchObject({ message: 'job=nightly', level: 3 });
    const fromStdin = entries.slice(1);
    expect(fromStdin.map((e) => e.message)).toEqual(lines);
    for (const e of fromStdin) expect(e).toMatchObject({ level: 3, daemon: userInfo().username, fields: {} });
  });

  it('refuses a bad priority with exit 2 and one line, sending nothing', async () => {
    server = await startServer(['-s', sock, '-o', out]);
    for (const p of ['loud', '9', 'nosuch.err']) {
      const r = await logstream(['-s', sock, '-p', p, 'hello']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `logstream: -p/--priority: ${JSON.stringify(p)} is not a level (emergency, alert, critical, error, warning, notice, info, debug, 0-7, or facility.level) (see logstream --help)\n`,
      );
    }
    expect(await readEntries(live())).toEqual([]);
  });

  it('exits 1 with one clear line when the server is unreachable', async () => {
    const missing = join(dir, 'nobody.sock');
    const r = await logstream(['-s', missing, 'hello']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`logstream: cannot reach LogStream server at ${missing}: connect ENOENT ${missing}\n`);
    // Stdin mode too, before reading anything.
    const s = await logstream(['-s', missing], { stdin: 'a\nb\n' });
    expect(s.code).toBe(1);
    expect(s.stderr.split('\n')).toHaveLength(2);
  });

  it('exits 1 when the server refuses an entry, and still stores the others', async () => {
    await writeFile(join(dir, 'c.toml'), '[server]\nmax_line_bytes = 1024\n');
    server = await startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out]);
    const r = await logstream(['-s', sock], { stdin: `before\n${'x'.repeat(2000)}\nafter\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^logstream: the server refused an entry: line of \d+ bytes exceeds max_line_bytes 1024\n$/);
    expect((await readEntries(live())).map((e) => e.message)).toEqual(['before', 'after']);
  });

  it('streams stdin as it comes (tail -f | logstream) and exits 1 at once when the server goes away', async () => {
    server = await startServer(['-s', sock, '-o', out]);
    const proc = spawn(process.execPath, [BIN, '-s', sock, '-t', 'tail'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.stdin.write('first\n');
    await until(async () => (await readEntries(live())).length === 1, 15_000, 'first entry stored while stdin is open');
    await server.stop('SIGKILL');
    server = undefined;
    // stdin stays open: the command must notice the lost server by itself.
    expect(await exited).toBe(1);
    // The ack of "first" may or may not have left the server before SIGKILL.
    expect(stderr).toMatch(
      new RegExp(`^logstream: lost the connection to the LogStream server at ${sock}; [01] entr(y|ies) not acknowledged\\n$`),
    );
    proc.stdin.destroy();
  });

  it('is an executable with a shebang, and prints help', async () => {
    expect((await stat(BIN)).mode & 0o111).not.toBe(0);
    const r = await logstream(['--help'], { direct: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: logstream \[options\]/);
    expect(r.stdout).toContain('-p, --priority');
  });
});

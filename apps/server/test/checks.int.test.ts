import { describe, expect, it } from 'vitest';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LogClient } from '@logstream/client';
import { readEntries, runCli, startServer, useServerDir } from '@logstream/test-support';

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

const ERROR_LINE = /^\S+Z ERROR logstream-server: cannot start: /;

describe('start-up errors name the cause', () => {
  it('creates a missing socket directory (its parent exists) with mode 0755 and says so', async () => {
    const runDir = join(dir, 'run');
    const path = join(runDir, 'logstream.sock');
    const server = await startServer(['-s', path, '-o', out]);
    expect(server.stderr()).toContain(`INFO  logstream-server: created the socket directory ${runDir} (mode 0755)`);
    expect((await stat(runDir)).mode & 0o7777).toBe(0o755);
    expect((await stat(path)).isSocket()).toBe(true);
    const client = await LogClient.connect(path, 'rundir');
    client.info('through a created directory');
    await client.close();
    expect((await readEntries(join(out, 'current.log'))).map((e) => e.message)).toEqual(['through a created directory']);
  });

  it('says the directory is missing when more than its last part is, and makes nothing', async () => {
    const path = join(dir, 'a', 'b', 's.sock');
    const r = await runCli(['-s', path, '-o', out], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(ERROR_LINE);
    // The old message was `listen EACCES: permission denied`, even as root.
    expect(lines[0]).toContain(`server.socket_path: the directory ${join(dir, 'a', 'b')} does not exist, nor its parent ${join(dir, 'a')}`);
    expect(await readdir(dir)).toEqual([]);
  });

  it('says a socket path over 107 bytes is too long, and leaves no cut-short socket behind', async () => {
    const path = join(dir, `${'x'.repeat(120 - dir.length)}.sock`);
    expect(Buffer.byteLength(path)).toBeGreaterThan(107);
    const r = await runCli(['-s', path, '-o', out], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(ERROR_LINE);
    expect(lines[0]).toContain(`is ${Buffer.byteLength(path)} bytes, longer than the 107 a Unix socket path may have`);
    expect(await readdir(dir)).toEqual([]);
    const validate = await runCli(['--validate', '-s', path]);
    expect(validate.code).toBe(1);
    expect(validate.stderr).toContain('longer than the 107');
  });
});

describe('config checks', () => {
  it('reports every unknown key of every table, with "did you mean" for a close one', async () => {
    await writeFile(
      join(dir, 'typos.toml'),
      [
        '[server]',
        'max_conections = 5',
        'max_line_byts = 4096',
        'frobnicate = true',
        '[backends.file]',
        'syncc = "batch"',
        'format = "xml"',
        '[metric]',
        'enabled = true',
        '',
      ].join('\n'),
    );
    const r = await runCli(['--validate', '-c', join(dir, 'typos.toml')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `logstream-server: ${join(dir, 'typos.toml')}: 6 error(s)`,
      'server.max_conections: unknown key (did you mean max_connections?)',
      'server.max_line_byts: unknown key (did you mean max_line_bytes?)',
      'server.frobnicate: unknown key',
      'backends.file.syncc: unknown key (did you mean sync?)',
      'metric: unknown table (did you mean metrics?)',
      'backends.file.format: expected "json" | "human" | "syslog", got "xml"',
    ]);
  });

  it('--validate refuses a socket_group that does not exist (the start would fail on it)', async () => {
    await writeFile(join(dir, 'grp.toml'), '[server]\nsocket_group = "no-such-group-ls"\n');
    const r = await runCli(['--validate', '-c', join(dir, 'grp.toml'), '-s', sock]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('server.socket_group: no such group "no-such-group-ls"');
  });

  it('--validate refuses syslog TLS files it cannot read', async () => {
    await writeFile(
      join(dir, 'tls.toml'),
      `[backends.syslog]\nenabled = true\nserver = "tls://127.0.0.1:6514"\ntls_ca = "${join(dir, 'ca.pem')}"\n`,
    );
    const r = await runCli(['--validate', '-c', join(dir, 'tls.toml'), '-s', sock]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`backends.syslog.tls_ca: cannot read ${join(dir, 'ca.pem')}: ENOENT`);
  });

  it('names the TOML key of a value a backend package refuses (its own option name), in one line, and starts nothing', async () => {
    // Within the schema's bounds, but over max_buffered_bytes: only the syslog package knows.
    await writeFile(
      join(dir, 'msg.toml'),
      '[backends.syslog]\nenabled = true\nserver = "udp://127.0.0.1:9"\nmax_buffered_bytes = 65536\nmax_message_bytes = 100000\n',
    );
    const key = 'backends.syslog.max_message_bytes: expected 480 to max_buffered_bytes (65536), got 100000';
    const r = await runCli(['-c', join(dir, 'msg.toml'), '-s', sock, '-o', out], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(ERROR_LINE);
    expect(lines[0]).toContain(key);
    expect(await readdir(dir)).toEqual(['msg.toml']);
    // --validate finds it too, rather than calling the file valid.
    const validate = await runCli(['--validate', '-c', join(dir, 'msg.toml'), '-s', sock]);
    expect(validate.code).toBe(1);
    expect(validate.stdout).toBe('');
    expect(validate.stderr.trim().split('\n')).toEqual([`logstream-server: ${join(dir, 'msg.toml')}: 1 error(s)`, key]);
  });

  it("names the problem of a TOML syntax error in its first line, with the file's line and column", async () => {
    await writeFile(join(dir, 'quote.toml'), '[server]\nmax_connections = 5\nsocket_path = "/run/logstream/logstream.sock\n');
    const r = await runCli(['--validate', '-c', join(dir, 'quote.toml')]);
    expect(r.code).toBe(1);
    // smol-toml says "control characters are not allowed in strings" here.
    expect(r.stderr.split('\n')[0]).toBe(
      `logstream-server: ${join(dir, 'quote.toml')}:3:45: invalid TOML: unterminated string: a string must end on the line it starts (use """ or ''' for a multi-line string)`,
    );
    await writeFile(join(dir, 'header.toml'), '[server\nmax_connections = 5\n');
    const h = await runCli(['--validate', '-c', join(dir, 'header.toml')]);
    expect(h.stderr.split('\n')[0]).toBe(
      `logstream-server: ${join(dir, 'header.toml')}:1:8: invalid TOML: unterminated table header: missing "]"`,
    );
    await writeFile(join(dir, 'twice.toml'), '[server]\nmax_connections = 5\nmax_connections = 6\n');
    const t = await runCli(['--validate', '-c', join(dir, 'twice.toml')]);
    expect(t.stderr.split('\n')[0]).toContain(`twice.toml:3:1: invalid TOML: trying to redefine an already defined table or value`);
  });
});

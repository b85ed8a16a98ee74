import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseServerFrame } from '@logstream/protocol';
import { runCli, startServer, until, useRawConnections, useServerDir, type ServerProcess } from '@logstream/test-support';

// The intake limits and canonical storage of issue 13 (items 6, 7 and 9's storage part), through
// the built server and its config.

let dir: string;
let sock: string;
let out: string;

useServerDir((paths) => ({ dir, sock, out } = paths));

async function serve(config: string): Promise<ServerProcess> {
  await writeFile(join(dir, 'c.toml'), config);
  // LS_FAULTS_CLI runs these tests against another build (e.g. one without a fix).
  return startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out], {
    ...(process.env.LS_FAULTS_CLI === undefined ? {} : { cli: process.env.LS_FAULTS_CLI }),
  });
}

/** Raw connections that collect what the server sends (destroyed after each test). */
const raw = useRawConnections(() => sock, parseServerFrame);

describe('[server] handshake_timeout_ms', () => {
  it('closes a silent connection and one with a line begun and not finished, with a TIMEOUT line; an idle one between lines stays', async () => {
    await serve('[server]\nhandshake_timeout_ms = 500\n');
    const silent = await raw();
    const unfinished = await raw();
    unfinished.socket.write('app\n{"message":"never');
    const idle = await raw();
    idle.socket.write('app\n{"message":"one"}\n');
    await until(() => silent.closed && unfinished.closed, 15_000, 'the silent and the unfinished connection to be closed');
    expect(silent.text()).toContain('"code":"TIMEOUT"');
    expect(silent.text()).toContain('no complete first line within handshake_timeout_ms 500');
    expect(unfinished.text()).toContain('line not finished within handshake_timeout_ms 500');
    // Idle after a complete line: still open, and it still logs.
    idle.socket.write('{"message":"two"}\n');
    await until(() => idle.text().includes('"seq":2'), 15_000, 'the idle connection acked twice');
    expect(idle.closed).toBe(false);
    expect(idle.text()).not.toContain('"type":"error"');
  });

  it('is in the effective config with its default, and max_partial_bytes must exceed max_line_bytes', async () => {
    const ok = await runCli(['--validate']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('"handshake_timeout_ms": 10000');
    await writeFile(join(dir, 'bad.toml'), '[server]\nmax_line_bytes = 1048576\nmax_partial_bytes = 1048576\n');
    const bad = await runCli(['--validate', '-c', join(dir, 'bad.toml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('server.max_partial_bytes: expected more than max_line_bytes (1048576), got 1048576');
  });
});

describe('stored lines are canonical (file backend)', () => {
  it('spaced JSON and a key sent twice are stored compact, in canonical order, each key once', async () => {
    await serve('');
    const c = await raw();
    const spaced =
      '{"id": "spaced-1", "timestamp": "2024-01-15T10:30:45.123Z", "level": 6, "daemon": "py", "message": "hi", "fields": {"k": "v"}, "pid": 7, "hostname": "h"}';
    const twice =
      '{"id":"twice-1","timestamp":"2024-01-15T10:30:45.123Z","level":0,"daemon":"d","message":"x","fields":{"a":"1","a":"2"},"pid":1,"hostname":"h","level":6}';
    c.socket.write(`py\n${spaced}\n${twice}\n`);
    await until(() => c.text().includes('"seq":2'), 15_000, 'both acked');
    const lines = (await readFile(join(out, 'current.log'), 'utf8')).split('\n').filter((l) => l !== '');
    // Each ends with the sender as the kernel says: this process.
    const { peer } = JSON.parse(lines[0] as string) as { peer: unknown };
    expect(peer).toMatchObject({ pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
    const tail = `,"peer":${JSON.stringify(peer)}}`;
    expect(lines).toEqual([
      `{"id":"spaced-1","timestamp":"2024-01-15T10:30:45.123Z","level":6,"daemon":"py","message":"hi","fields":{"k":"v"},"pid":7,"hostname":"h"${tail}`,
      `{"id":"twice-1","timestamp":"2024-01-15T10:30:45.123Z","level":6,"daemon":"d","message":"x","fields":{"a":"2"},"pid":1,"hostname":"h"${tail}`,
    ]);
  });
});

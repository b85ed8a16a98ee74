import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { startServer, until, useServerDir } from '@logstream/test-support';

// One unprivileged user holding idle connections must not lock everyone else out: the server
// counts connections per uid (the kernel's word, SO_PEERCRED) and caps each such user's share.

let dir: string;
let sock: string;
let out: string;
const procs: ChildProcess[] = [];
const sockets: Socket[] = [];
useServerDir((paths) => ({ dir, sock, out } = paths));
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});

const HOLDER = `
import { createConnection } from 'node:net';
const [path, count] = process.argv.slice(2);
let ready = 0, refused = 0;
for (let i = 0; i < Number(count); i++) {
  const s = createConnection(path);
  s.on('error', () => {});
  s.setEncoding('utf8');
  s.on('data', (d) => { if (d.includes('"ready"')) ready++; if (d.includes('TOO_MANY')) refused++; });
  s.write('idle-' + i + '\\n');
}
setInterval(() => console.log(JSON.stringify({ ready, refused })), 100);
`;

describe('connections per uid', () => {
  it('60 idle connections held by nobody (max_connections 50): a root client is still served within 2 s', async () => {
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'c.toml'), '[server]\nmax_connections = 50\nsocket_mode = "0666"\n');
    await writeFile(join(dir, 'holder.mjs'), HOLDER);
    await startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', out]);
    const holder = spawn('runuser', ['-u', 'nobody', '--', process.execPath, join(dir, 'holder.mjs'), sock, '60'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    procs.push(holder);
    let state = { ready: 0, refused: 0 };
    holder.stdout.setEncoding('utf8').on('data', (d: string) => {
      const last = d.trim().split('\n').at(-1);
      if (last) state = JSON.parse(last) as typeof state;
    });
    await until(() => state.ready + state.refused >= 60, 15_000, 'every connection of nobody answered');
    expect(state.ready).toBe(25);

    const started = Date.now();
    const root = createConnection(sock);
    sockets.push(root);
    let text = '';
    root.setEncoding('utf8').on('data', (d: string) => (text += d));
    root.write('root-daemon\n');
    await until(() => text.includes('"ready"') || text.includes('error'), 2_000, 'the root client answered');
    expect(text).toContain('"ready"');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('warns at start when its socket sits in a world-writable directory (where another user could take the path)', async () => {
    const shared = join(dir, 'tmp');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const server = await startServer(['-s', join(shared, 'logstream.sock'), '-o', out]);
    expect(server.stderr()).toContain(`is in a world-writable directory (${shared})`);
  });
});

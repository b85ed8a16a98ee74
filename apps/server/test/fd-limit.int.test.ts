import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { parseServerFrame } from '@logstream/protocol';
import { SERVER_CLI as CLI, until, useRawConnections, useServerDir } from '@logstream/test-support';

// Past its open-file limit a Node server's new connections are closed by libuv without a word
// (EMFILE on accept): the client sees a bare EOF and nothing says why. The server must refuse
// them itself while it still can, with an error frame, and name the cause in its log, once per
// interval, not once per connection.

let sock: string;
let out: string;
useServerDir((paths) => ({ sock, out } = paths));

/** Raw connections that collect what the server sends (destroyed after each test). */
const connect = useRawConnections(() => sock, parseServerFrame);

describe('the open-file limit', () => {
  it('refuses connections past it with an error frame, names it once in the log, and serves again when they go', async () => {
    const proc = spawn('bash', ['-c', `ulimit -n 100 && exec "${process.execPath}" "${CLI}" -s "${sock}" -o "${out}"`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    try {
      await until(() => err.includes('listening on'), 15_000, 'server start-up');
      expect(err).toMatch(/max_connections 1000 is more than the open-file limit leaves room for \(\d+\)/);
      // All at once: the server accepts the whole burst in one turn, so connections it refused
      // and has not yet closed hold descriptors too.
      const conns = await Promise.all(Array.from({ length: 200 }, () => connect()));
      await until(() => conns.filter((c) => c.closed).length > 0, 10_000, 'refused connections to close');
      const refused = conns.filter((c) => c.closed);
      // Every connection the server closed was told why: none was dropped unseen.
      expect(refused.every((c) => c.text().includes('TOO_MANY_CONNECTIONS'))).toBe(true);
      expect(refused.length).toBeGreaterThan(0);
      const lines = err.split('\n').filter((l) => l.includes('out of file descriptors'));
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines.length).toBeLessThanOrEqual(2);
      // Once the idle connections go, a client is served again.
      for (const c of conns) c.socket.destroy();
      await new Promise((r) => setTimeout(r, 200));
      const good = await connect();
      good.socket.write('after\n');
      await until(() => good.text().includes('"ready"'), 10_000, 'a served handshake');
    } finally {
      proc.kill('SIGKILL');
    }
  });
});

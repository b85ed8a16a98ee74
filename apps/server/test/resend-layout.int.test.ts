import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseServerFrame, type ServerFrame } from '@logstream/protocol';
import {
  readEntries,
  startServer,
  until,
  useRawConnections,
  useServerDir,
  type RawConn,
  type ServerProcess,
} from '@logstream/test-support';

// A client that writes JSON with spaces after `:` and `,` (as Python's json.dumps does) resends
// what a SIGKILL left unacknowledged. After the restart the server seeds its dedupe window from
// the file backend's recentIds(), which must find the ids of those lines whatever their layout.

let sock: string;
let out: string;
useServerDir((paths) => ({ sock, out } = paths));

const open = useRawConnections(() => sock, parseServerFrame);

/** A raw protocol client: handshake, then lines; records the frames the server sends. */
async function connect(daemon: string): Promise<RawConn<ServerFrame>> {
  const c = await open();
  c.send(`${daemon}\n`);
  await c.waitFrame((f) => f.type === 'ready', 10_000);
  return c;
}

/** JSON as Python's json.dumps writes it: `{"id": "x", "level": 6}`. */
function pythonJson(value: unknown): string {
  return JSON.stringify(value, null, 1)
    .replace(/\n\s*/g, ' ')
    .replace(/\{ /g, '{')
    .replace(/ \}/g, '}')
    .replace(/\[ /g, '[')
    .replace(/ \]/g, ']');
}

const COUNT = 2000;
const lines = Array.from({ length: COUNT }, (_, i) =>
  pythonJson({
    id: `py-${i}`,
    timestamp: '2026-01-01T00:00:00.000Z',
    level: 6,
    daemon: 'pyapp',
    message: `entry ${i}`,
    fields: { n: String(i) },
    pid: 4242,
    hostname: 'host1',
  }),
);

async function serve(): Promise<ServerProcess> {
  // One live file, so that the restart reads every id from current.log.
  return startServer(['-s', sock, '-o', out]);
}

describe('resends after a crash, from a client that writes spaced JSON', () => {
  it('SIGKILL, restart, the same lines resent: each id is stored once', async () => {
    expect(lines[0]).toMatch(/^\{"id": "py-0", "timestamp": "2026/);
    let server = await serve();
    const first = await connect('pyapp');
    first.socket.write(`${lines.join('\n')}\n`);
    await until(() => first.acked() >= COUNT, 30_000, 'every line acknowledged');
    expect(first.frames.filter((f) => f.type === 'error')).toEqual([]);
    const killed = await server.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');

    server = await serve();
    // The client never saw its acks (say), so it sends everything again.
    const second = await connect('pyapp');
    second.socket.write(`${lines.join('\n')}\n`);
    await until(() => second.acked() >= COUNT, 30_000, 'every resent line acknowledged');
    await server.stop('SIGTERM');

    const ids = (await readEntries(join(out, 'current.log'))).map((e) => e.id as string);
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(ids).toHaveLength(COUNT);
    expect(new Set(ids)).toEqual(new Set(lines.map((_, i) => `py-${i}`)));
  }, 90_000);
});

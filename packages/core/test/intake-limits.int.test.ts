import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { decodeEntryLine, encodeEntry, type Backend, type EntryBatch, type ErrorFrame } from '@logstream/protocol';
import { LogServer, type LogServerOptions } from '../src/index';
import { until, useTempDir } from '@logstream/test-support';
import { completeEntry } from '../src/enrich';
import { readPeerIdentity } from '../src/peer-identity';
import { rawConnect, type RawConn } from './helpers';

/** A backend that keeps the stored lines as bytes: what a file backend would write. */
class BytesBackend implements Backend {
  readonly name = 'bytes';
  readonly lines: string[] = [];
  async open(): Promise<void> {}
  async write(batch: EntryBatch): Promise<void> {
    for (const line of batch.lines) this.lines.push(line.toString('utf8'));
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

let dir: string;
let server: LogServer | undefined;
const conns: RawConn[] = [];

useTempDir((d) => (dir = d));
afterEach(async () => {
  for (const c of conns.splice(0)) c.socket.destroy();
  await server?.close();
  server = undefined;
});

async function start(options: Partial<LogServerOptions> = {}) {
  const backend = new BytesBackend();
  server = new LogServer({ socketPath: join(dir, 's.sock'), backends: [{ backend }], shutdownTimeoutMs: 2000, ...options });
  server.on('error', () => undefined);
  await server.listen();
  return { server, backend, path: join(dir, 's.sock') };
}

async function connect(path: string): Promise<RawConn> {
  const c = await rawConnect(path);
  conns.push(c);
  return c;
}

const isError = (code: string) => (f: { type: string; code?: string }) => f.type === 'error' && f.code === code;

describe('handshake_timeout_ms', () => {
  it('closes a connection that sends nothing, with a TIMEOUT error frame', async () => {
    const { path } = await start({ handshakeTimeoutMs: 300 });
    const c = await connect(path);
    const frame = (await c.waitFrame(isError('TIMEOUT'), 10_000)) as ErrorFrame;
    expect(frame).toMatchObject({ kind: 'client', code: 'TIMEOUT' });
    expect(frame.message).toContain('no complete first line within handshake_timeout_ms 300');
    await until(() => c.closed, 10_000, 'the silent connection to be closed');
    expect(server?.activeConnections).toBe(0);
  });

  it('closes a connection whose handshake never ends, and one that trickles a byte at a time', async () => {
    const { path } = await start({ handshakeTimeoutMs: 300 });
    const half = await connect(path);
    half.send('my-dae');
    const trickle = await connect(path);
    trickle.send('{');
    const timer = setInterval(() => trickle.socket.writable && trickle.send('a'), 50);
    try {
      await half.waitFrame(isError('TIMEOUT'), 10_000);
      await trickle.waitFrame(isError('TIMEOUT'), 10_000);
      await until(() => half.closed && trickle.closed, 10_000, 'both to be closed');
    } finally {
      clearInterval(timer);
    }
    expect(half.frames.some((f) => f.type === 'ready')).toBe(false);
  });

  it('a line begun and not finished is refused the same way; the lines before it are stored and acked', async () => {
    const { path, backend } = await start({ handshakeTimeoutMs: 300 });
    const c = await connect(path);
    c.send('app\n{"message":"kept"}\n{"message":"never ends');
    const frame = (await c.waitFrame(isError('TIMEOUT'), 10_000)) as ErrorFrame;
    expect(frame.message).toContain('line not finished within handshake_timeout_ms 300');
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 1);
    await until(() => c.closed, 10_000, 'the connection to be closed');
    expect(backend.lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['kept']);
  });

  it('an oversized line that never ends is refused too (it holds no memory, but a slot)', async () => {
    const { path } = await start({ handshakeTimeoutMs: 300, maxLineBytes: 1000 });
    const c = await connect(path);
    c.send(`app\n{"message":"${'x'.repeat(5000)}`);
    await c.waitFrame(isError('TIMEOUT'), 10_000);
    await until(() => c.closed, 10_000, 'the connection to be closed');
  });

  it('lets a connection stay idle between complete lines, far longer than the timeout', async () => {
    const { path, backend } = await start({ handshakeTimeoutMs: 200 });
    const c = await connect(path);
    c.send('daemon\n');
    await c.waitFrame((f) => f.type === 'ready');
    c.send('{"message":"one"}\n');
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 1);
    // Idle for more than five timeouts (and more than one sweep of the timer).
    await new Promise((r) => setTimeout(r, 1500));
    c.send('{"message":"two"}\n');
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 2);
    expect(c.closed).toBe(false);
    expect(c.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(backend.lines).toHaveLength(2);
  });

  it('rejects a handshake timeout that is not a positive number', () => {
    expect(() => new LogServer({ socketPath: join(dir, 's.sock'), backends: [], handshakeTimeoutMs: 0 })).toThrow(/handshakeTimeoutMs/);
  });
});

describe('maxPartialBytes: a bound on unfinished lines across all connections', () => {
  it('refuses the connections holding the most with BUFFER_FULL; the others, and new lines, go on', async () => {
    const budget = 256 * 1024;
    const { path, backend, server: s } = await start({ maxPartialBytes: budget, maxLineBytes: 64 * 1024, handshakeTimeoutMs: 60_000 });
    const good = await connect(path);
    good.send('good\n');
    await good.waitFrame((f) => f.type === 'ready');
    // 16 connections x 60 KiB unfinished: ~4x the budget.
    const holders: RawConn[] = [];
    for (let i = 0; i < 16; i++) {
      const c = await connect(path);
      c.send(`h${i}\n{"message":"${'a'.repeat(60 * 1024)}`);
      holders.push(c);
    }
    await until(() => holders.filter((c) => c.frames.some(isError('BUFFER_FULL'))).length >= 12, 10_000, 'the largest holders refused');
    await until(() => s.partialBytes <= budget, 10_000, 'the total under the bound');
    const refused = holders.filter((c) => c.frames.some(isError('BUFFER_FULL')));
    const frame = refused[0]?.frames.find(isError('BUFFER_FULL')) as ErrorFrame;
    expect(frame).toMatchObject({ kind: 'server', code: 'BUFFER_FULL' });
    expect(frame.message).toContain(`max_partial_bytes ${budget}`);
    await until(() => refused.every((c) => c.closed), 15_000, 'the refused connections closed');
    // A connection under the bound finishes its line and it is stored.
    const kept = holders.find((c) => !c.frames.some((f) => f.type === 'error'));
    expect(kept).toBeDefined();
    kept?.send('"}\n');
    await kept?.waitFrame((f) => f.type === 'ack' && f.seq === 1);
    good.send('{"message":"still served"}\n');
    await good.waitFrame((f) => f.type === 'ack' && f.seq === 1);
    expect(backend.lines.map((l) => (JSON.parse(l) as { message: string }).message.slice(0, 12))).toEqual(
      expect.arrayContaining(['aaaaaaaaaaaa', 'still served']),
    );
    for (const c of holders) c.socket.destroy();
    await until(() => s.partialBytes === 0, 10_000, 'every unfinished line forgotten once its connection closed');
  });

  it('refuses a bound a line of maxLineBytes could not pass', () => {
    expect(() => new LogServer({ socketPath: join(dir, 's.sock'), backends: [], maxLineBytes: 65536, maxPartialBytes: 65536 })).toThrow(
      /maxPartialBytes/,
    );
  });
});

describe('every input shape is stored in the canonical form, with the sender as the kernel says', () => {
  it('stores a line in another key order, a partial line and a canonical one byte for byte as the slow path did, peer last; a client-sent peer is replaced', async () => {
    const { path, backend } = await start({ hostname: 'box' });
    const c = await connect(path);
    const lines = [
      '{"message":"other order","level":"warning","hostname":"h2","id":"ord-1","fields":{"b":"2","a":"1"},"daemon":"x","pid":5,"timestamp":"2024-01-15T10:30:45.123Z"}',
      '{"message":"partial","level":3}',
      '{"level": "info", "message": "python spacing", "fields": {"k": "v"}}',
      '{"id":"can-1","timestamp":"2024-01-15T10:30:45.123Z","level":6,"daemon":"d","message":"canonical","fields":{},"pid":1,"hostname":"h"}',
      '{"message":"claims to be init","peer":{"pid":1,"uid":0,"gid":0,"comm":"init"}}',
      '{"id":"can-2","timestamp":"2024-01-15T10:30:45.123Z","level":6,"daemon":"d","message":"m","fields":{},"pid":1,"hostname":"h","peer":null}',
    ];
    c.send(`app\n${lines.map((l) => `${l}\n`).join('')}`);
    await c.waitFrame((f) => f.type === 'ack' && f.seq === lines.length);
    expect(c.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(backend.lines).toHaveLength(lines.length);
    const peer = readPeerIdentity({ pid: process.pid, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
    expect(peer).not.toBeNull();
    for (const [i, line] of lines.entries()) {
      const stored = backend.lines[i] as string;
      const { id, timestamp } = JSON.parse(stored) as { id: string; timestamp: string };
      // The slow path as it was: JSON.parse, check, complete (with the id and time the server chose).
      const decoded = decodeEntryLine(line);
      if (!decoded.ok) throw new Error(decoded.message);
      const { entry } = completeEntry(
        { ...decoded.entry, id: decoded.entry.id ?? id, timestamp: decoded.entry.timestamp ?? timestamp },
        { daemon: 'app', hostname: 'box' },
      );
      expect(stored, line).toBe(encodeEntry({ ...entry, peer }));
      expect((JSON.parse(stored) as { peer: unknown }).peer).toEqual(peer);
    }
    expect((JSON.parse(backend.lines[4] as string) as { peer: { pid: number } }).peer.pid).toBe(process.pid);
  });
});

describe('stored lines are canonical', () => {
  const cases: [string, string][] = [
    ['a key twice', '{"message":"x","level":0,"level":6}'],
    ['a field key twice', '{"message":"x","fields":{"a":"1","a":"2"}}'],
    [
      'a complete canonical entry with a field key twice',
      '{"id":"dup-1","timestamp":"2024-01-15T10:30:45.123Z","level":6,"daemon":"d","message":"m","fields":{"k":"1","k":"2"},"pid":1,"hostname":"h"}',
    ],
    [
      'a complete entry in canonical order with a top-level key twice',
      '{"id":"dup-2","timestamp":"2024-01-15T10:30:45.123Z","level":0,"daemon":"d","message":"m","fields":{},"pid":1,"hostname":"h","level":6}',
    ],
    [
      'spaced JSON (Python json.dumps)',
      '{"id": "sp-1", "timestamp": "2024-01-15T10:30:45.123Z", "level": 6, "daemon": "d", "message": "m", "fields": {}, "pid": 1, "hostname": "h"}',
    ],
    ['escapes a reader would decode', '{"id":"esc-1","message":"\\u0041\\/b","fields":{"\\u006b":"v"}}'],
  ];

  it.each(cases)('%s: stored with each key once, in canonical compact form', async (_what, line) => {
    const { path, backend } = await start({ hostname: 'box' });
    const c = await connect(path);
    c.send(`app\n${line}\n`);
    await c.waitFrame((f) => f.type === 'ack' && f.seq === 1);
    expect(c.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(backend.lines).toHaveLength(1);
    const stored = backend.lines[0] as string;
    const entry = JSON.parse(stored) as Record<string, unknown>;
    // The server's reading of the line (JSON.parse: the last value of a key) is what is stored.
    const sent = JSON.parse(line) as Record<string, unknown>;
    for (const [k, v] of Object.entries(sent)) expect(entry[k]).toEqual(v);
    expect(stored).toBe(
      JSON.stringify({
        id: entry.id,
        timestamp: entry.timestamp,
        level: entry.level,
        daemon: entry.daemon,
        message: entry.message,
        fields: entry.fields,
        pid: entry.pid,
        hostname: entry.hostname,
        peer: entry.peer,
      }),
    );
    // The sender as the kernel says (this process), last.
    expect(entry.peer).toMatchObject({ pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
    expect(stored).not.toBe(line);
    expect(duplicateKeys(stored)).toEqual([]);
  });

  it('anything stored parses, has no key twice and is canonical (fuzz: keys repeated, spaces, escapes, orders)', async () => {
    const { path, backend } = await start({ hostname: 'box' });
    const c = await connect(path);
    c.send('fuzz\n');
    await c.waitFrame((f) => f.type === 'ready');
    const value = fc.oneof(
      fc.constant('"v"'),
      fc.constant('"\\u00e9\\n"'),
      fc.constant('3'),
      fc.constant('null'),
      fc.constant('"2024-01-15T10:30:45.123Z"'),
      fc.constant('"info"'),
    );
    const key = fc.constantFrom('id', 'timestamp', 'level', 'daemon', 'message', 'fields', 'pid', 'hostname', 'extra');
    const fieldsObject = fc
      .array(fc.tuple(fc.constantFrom('a', 'b', 'k\\u0061'), fc.constantFrom('"1"', '"2"', '3')), { maxLength: 5 })
      .map((kv) => `{${kv.map(([k, v]) => `"${k}":${v}`).join(',')}}`);
    const member = fc.oneof(
      fc.tuple(key, value).map(([k, v]) => `"${k}":${v}`),
      fieldsObject.map((f) => `"fields":${f}`),
      fc.constantFrom('"message":"m"', '"message": "spaced"', '"level":7', '"level":"debug"', '"pid":42'),
    );
    const loose = fc
      .tuple(fc.array(member, { minLength: 1, maxLength: 12 }), fc.constantFrom(',', ', ', ' , '))
      .map(([members, sep]) => `{${members.join(sep)}}`);
    // Complete entries in canonical order (what the client sends), spaced or with a member again.
    const complete = fc
      .tuple(fc.uuid(), fc.constantFrom('', ' '), fc.option(member, { nil: undefined }), fieldsObject)
      .map(
        ([id, sp, again, fields]) =>
          `{"id":${sp}"${id}","timestamp":${sp}"2024-01-15T10:30:45.123Z","level":${sp}6,"daemon":${sp}"d","message":${sp}"m","fields":${sp}${fields},"pid":${sp}1,"hostname":${sp}"h"${again === undefined ? '' : `,${again}`}}`,
      );
    const lines = fc.sample(fc.oneof(loose, complete), { numRuns: 3000, seed: 42 });
    c.send(lines.map((l) => `${l}\n`).join(''));
    await c.waitFrame((f) => f.type === 'ack' && f.seq === lines.length, 60_000);
    const errors = c.frames.filter((f) => f.type === 'error').length;
    expect(backend.lines.length + errors).toBeGreaterThan(0);
    expect(backend.lines.length).toBeGreaterThan(100);
    for (const stored of backend.lines) {
      const entry = JSON.parse(stored) as Record<string, unknown>;
      expect(duplicateKeys(stored)).toEqual([]);
      expect(Object.keys(entry)).toEqual(['id', 'timestamp', 'level', 'daemon', 'message', 'fields', 'pid', 'hostname', 'peer']);
      expect(entry.peer).toMatchObject({ pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
      expect(stored).toBe(JSON.stringify(entry));
    }
  });
});

/** Keys that appear twice in one object of a JSON text (a small tokenizer: strings, braces, colons). */
function duplicateKeys(text: string): string[] {
  const dups: string[] = [];
  const stack: Set<string>[] = [];
  let i = 0;
  let lastString: string | undefined;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      lastString = JSON.parse(text.slice(i, j + 1)) as string;
      i = j + 1;
      continue;
    }
    if (ch === '{') stack.push(new Set());
    else if (ch === '}') stack.pop();
    else if (ch === ':' && lastString !== undefined) {
      // A string followed by a colon is a key.
      const keys = stack[stack.length - 1] as Set<string>;
      if (keys.has(lastString)) dups.push(lastString);
      keys.add(lastString);
    }
    if (ch !== ' ') lastString = undefined;
    i++;
  }
  return dups;
}

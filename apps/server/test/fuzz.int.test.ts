import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { open, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { LogClient } from '@logstream/client';
import { startServer, tempDir, type ServerProcess } from '@logstream/test-support';
import { memoryOf } from './fixtures/fault-helpers';

// Untrusted input, thrown at a real server process on several connections at once, while a
// well-behaved client logs on another: that client loses nothing, the server stays up, and its
// memory stays bounded.

const MAX_LINE_BYTES = 65_536;
const GOOD_ENTRIES = 200;
const SERVER_HEAP_MIB = 64;
const RSS_BOUND_MIB = 200;

/** One thing an attacking connection sends. */
type Piece =
  | { kind: 'bytes'; data: Uint8Array }
  | { kind: 'lines'; line: string; count: number }
  | { kind: 'huge'; bytes: number; newline: boolean }
  | { kind: 'nested'; depth: number; shape: 'array' | 'object' | 'fields' | 'message' }
  | { kind: 'utf8'; where: 'message' | 'key' | 'value' | 'daemon' | 'id' | 'raw'; bytes: Uint8Array }
  | { kind: 'fields'; count: number; value: 'string' | 'number' | 'object' | 'long' }
  | { kind: 'entry'; value: Record<string, unknown> }
  | { kind: 'partial'; text: string };

interface Attack {
  /** undefined: no handshake; a string or bytes: sent as the first line. */
  handshake: string | Uint8Array | undefined;
  pieces: Piece[];
  /** Largest write, in bytes. */
  chunkBytes: number;
  /** Whether the attacker reads what the server answers. */
  reads: boolean;
  /** end: FIN; destroy: close abruptly after everything; cut: close abruptly halfway; linger: stay open, unread, until the run ends. */
  ending: 'end' | 'destroy' | 'cut' | 'linger';
}

const invalidUtf8 = fc.constantFrom(
  Uint8Array.of(0xff),
  Uint8Array.of(0xc3), // a lead byte with no continuation
  Uint8Array.of(0x80, 0x80),
  Uint8Array.of(0xed, 0xa0, 0x80), // an encoded surrogate
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80), // above U+10FFFF
  Uint8Array.of(0xc0, 0xaf), // overlong '/'
  Uint8Array.of(0xe2, 0x82), // truncated '€'
);

const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', maxLength: 50 }));

const entryValue = fc.record(
  {
    id: fc.oneof(fc.uuid(), anyText, fc.integer(), fc.constant(null)),
    timestamp: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      anyText,
      fc.constant('2024-02-30T10:00:00Z'),
    ),
    level: fc.oneof(fc.integer({ min: -3, max: 12 }), fc.constantFrom('info', 'warning', 'WARN', 'bogus', ''), fc.double()),
    daemon: fc.oneof(anyText, fc.string({ maxLength: 300 })),
    message: fc.oneof(anyText, fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 })),
    fields: fc.oneof(
      fc.dictionary(anyText, anyText, { maxKeys: 20 }),
      fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
      fc.constant(null),
    ),
    pid: fc.oneof(fc.integer({ min: -1, max: 2 ** 33 }), fc.constant(null), fc.double(), anyText),
    hostname: fc.oneof(anyText, fc.constant(null)),
    extra: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);

const piece: fc.Arbitrary<Piece> = fc.oneof(
  fc.record({ kind: fc.constant('bytes' as const), data: fc.uint8Array({ minLength: 1, maxLength: 16_384 }) }),
  fc.record({
    kind: fc.constant('lines' as const),
    line: fc.oneof(fc.constantFrom('{', '', '}', '[]', 'null', '{"message":1}', '{"message":"ok"}', '{"message":"x"}\r'), anyText),
    count: fc.integer({ min: 1, max: 20_000 }),
  }),
  fc.record({
    kind: fc.constant('huge' as const),
    bytes: fc.integer({ min: MAX_LINE_BYTES + 1, max: 6 * 1024 * 1024 }),
    newline: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('nested' as const),
    depth: fc.integer({ min: 1, max: 40_000 }),
    shape: fc.constantFrom('array' as const, 'object' as const, 'fields' as const, 'message' as const),
  }),
  fc.record({
    kind: fc.constant('utf8' as const),
    where: fc.constantFrom('message' as const, 'key' as const, 'value' as const, 'daemon' as const, 'id' as const, 'raw' as const),
    bytes: invalidUtf8,
  }),
  fc.record({
    kind: fc.constant('fields' as const),
    count: fc.integer({ min: 1, max: 20_000 }),
    value: fc.constantFrom('string' as const, 'number' as const, 'object' as const, 'long' as const),
  }),
  fc.record({ kind: fc.constant('entry' as const), value: entryValue }),
  fc.record({ kind: fc.constant('partial' as const), text: fc.string({ maxLength: 200 }) }),
);

const attack: fc.Arbitrary<Attack> = fc.record({
  handshake: fc.oneof(
    fc.constant(undefined),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/),
    fc.constantFrom('', '{not-a-name', 'x'.repeat(300), 'tab\there', 'nul\u0000'),
    fc.uint8Array({ minLength: 1, maxLength: 64 }),
    invalidUtf8,
  ),
  pieces: fc.array(piece, { minLength: 1, maxLength: 5 }),
  chunkBytes: fc.constantFrom(1, 7, 512, 65_536, 1 << 20),
  reads: fc.boolean(),
  ending: fc.constantFrom('end' as const, 'destroy' as const, 'cut' as const, 'linger' as const),
});

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** The bytes of one piece (huge lines are produced as a stream by {@link send}). */
function render(p: Exclude<Piece, { kind: 'huge' }>): Buffer {
  switch (p.kind) {
    case 'bytes':
      return Buffer.from(p.data);
    case 'lines':
      return utf8(`${p.line.replace(/\n/g, ' ')}\n`.repeat(p.count));
    case 'nested': {
      const d = p.depth;
      if (p.shape === 'array') return utf8(`${'['.repeat(d)}${']'.repeat(d)}\n`);
      if (p.shape === 'object') return utf8(`${'{"a":'.repeat(d)}1${'}'.repeat(d)}\n`);
      if (p.shape === 'fields') return utf8(`{"message":"deep","fields":{"k":${'{"a":'.repeat(d)}"v"${'}'.repeat(d)}}}\n`);
      return utf8(`{"message":${'['.repeat(d)}${']'.repeat(d)}}\n`);
    }
    case 'utf8': {
      const bad = Buffer.from(p.bytes);
      const parts: Record<typeof p.where, [string, string]> = {
        message: ['{"message":"before ', ' after"}'],
        key: ['{"message":"m","fields":{"k', '":"v"}}'],
        value: ['{"message":"m","fields":{"k":"', '"}}'],
        daemon: ['{"message":"m","daemon":"d', '"}'],
        id: ['{"message":"m","id":"i', '"}'],
        raw: ['', ''],
      };
      const [head, tail] = parts[p.where];
      return Buffer.concat([utf8(head), bad, utf8(`${tail}\n`)]);
    }
    case 'fields': {
      const value = { string: '"v"', number: '1', object: '{"x":"y"}', long: `"${'v'.repeat(100)}"` }[p.value];
      const keys = Array.from({ length: p.count }, (_, i) => `"k${i}":${value}`).join(',');
      return utf8(`{"message":"many fields","fields":{${keys}}}\n`);
    }
    case 'entry':
      return utf8(`${JSON.stringify(p.value)}\n`);
    case 'partial':
      return utf8(p.text.replace(/\n/g, ' '));
  }
}

/**
 * Writes `buf` in writes of at most `chunk` bytes (tiny writes only for its first 4 KiB, to keep
 * runs short), honouring backpressure; false once the socket is gone.
 */
async function write(socket: Socket, buf: Buffer, chunk: number): Promise<boolean> {
  for (let at = 0; at < buf.length;) {
    if (socket.destroyed || !socket.writable) return false;
    const size = at < 4096 ? chunk : Math.max(chunk, 65_536);
    const part = buf.subarray(at, at + size);
    at += part.length;
    if (!socket.write(part)) {
      const gone = await new Promise<boolean>((resolve) => {
        const done = (closed: boolean) => {
          socket.off('drain', onDrain);
          socket.off('close', onClose);
          resolve(closed);
        };
        const onDrain = () => done(false);
        const onClose = () => done(true);
        socket.once('drain', onDrain);
        socket.once('close', onClose);
      });
      if (gone) return false;
    }
  }
  return true;
}

/** Runs one attacking connection; resolves once it is closed (or lingering, see `release`). */
async function runAttack(sock: string, a: Attack, lingering: Socket[]): Promise<void> {
  const socket = createConnection(sock);
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const connected = await new Promise<boolean>((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('close', () => resolve(false));
  });
  if (!connected) return;
  if (a.reads) socket.resume();
  else socket.pause();
  const chunk = a.chunkBytes;
  let ok = true;
  if (a.handshake !== undefined) {
    const name =
      typeof a.handshake === 'string' ? utf8(a.handshake.replace(/\n/g, ' ')) : Buffer.from(a.handshake.filter((b) => b !== 0x0a));
    ok = await write(socket, Buffer.concat([name, utf8('\n')]), chunk);
  }
  const cutAt = a.ending === 'cut' ? Math.floor(a.pieces.length / 2) : -1;
  for (const [i, p] of a.pieces.entries()) {
    if (!ok) break;
    if (i === cutAt) break;
    if (p.kind === 'huge') {
      // Streamed: never built whole, as a client would send it.
      const block = Buffer.alloc(Math.min(p.bytes, 1 << 20), 0x61);
      block[0] = 0x7b;
      for (let sent = 0; ok && sent < p.bytes; sent += block.length) {
        ok = await write(socket, block.subarray(0, Math.min(block.length, p.bytes - sent)), sent === 0 ? chunk : 65_536);
      }
      if (ok && p.newline) ok = await write(socket, utf8('\n'), chunk);
    } else {
      ok = await write(socket, render(p), chunk);
    }
  }
  if (a.ending === 'end') socket.end();
  // A socket that never reads never sees the server's FIN either: it stays until the run ends.
  if ((a.ending === 'linger' || (a.ending === 'end' && !a.reads)) && !socket.destroyed) {
    lingering.push(socket);
    return;
  }
  socket.destroy();
  await closed;
}

// FUZZ_TRACE=1 prints each run's attacks and progress (to find a run that hangs).
const trace = (line: string) => process.env.FUZZ_TRACE && process.stderr.write(`${line}\n`);

/** A short description of an attack for traces and counterexamples. */
function summarize(a: Attack): string {
  const pieces = a.pieces.map((p) =>
    p.kind === 'huge'
      ? `huge(${p.bytes}${p.newline ? ',nl' : ''})`
      : p.kind === 'lines'
        ? `lines(${JSON.stringify(p.line.slice(0, 20))}x${p.count})`
        : p.kind === 'nested'
          ? `nested(${p.shape},${p.depth})`
          : p.kind === 'fields'
            ? `fields(${p.count},${p.value})`
            : p.kind,
  );
  const hs =
    a.handshake === undefined
      ? 'no-handshake'
      : typeof a.handshake === 'string'
        ? `hs(${JSON.stringify(a.handshake.slice(0, 20))})`
        : 'hs(bytes)';
  return `${hs} ${pieces.join(' ')} chunk=${a.chunkBytes} ${a.reads ? 'reads' : 'no-read'} ${a.ending}`;
}

let dir: string;
let cleanup: () => Promise<void>;
let server: ServerProcess;
let sock: string;
let logPath: string;
let good: LogClient;
let offset = 0;
let run = 0;
let rssPeakSampled = 0;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  sock = join(dir, 's.sock');
  logPath = join(dir, 'out', 'current.log');
  await writeFile(join(dir, 'c.toml'), `[server]\nmax_line_bytes = ${MAX_LINE_BYTES}\n`);
  // A small V8 heap, so that RSS measures what the server keeps rather than how lazily V8
  // collects the garbage of millions of bad lines; memory it kept would crash it instead.
  server = await startServer(['-c', join(dir, 'c.toml'), '-s', sock, '-o', join(dir, 'out')], {
    env: { NODE_OPTIONS: process.env.FUZZ_SERVER_NODE_OPTIONS ?? `--max-old-space-size=${SERVER_HEAP_MIB}` },
  });
  good = await LogClient.withConfig({ socketPath: sock, daemonName: 'fuzz-good', timeout: 30_000 });
});

afterAll(async () => {
  await good?.close();
  const result = await server?.stop('SIGTERM');
  await cleanup();
  // Still up after everything, and it shuts down cleanly.
  expect(result).toEqual({ code: 0, signal: null });
});

/** The good client's entries of `run` appended to the log since the last call. */
async function goodEntriesSince(runId: number): Promise<{ i: number; id: string }[]> {
  const handle = await open(logPath, 'r');
  try {
    const { size } = await handle.stat();
    const buf = Buffer.alloc(size - offset);
    await handle.read(buf, 0, buf.length, offset);
    // The server may be writing as we read: take complete lines only, the rest next time.
    const complete = buf.lastIndexOf(0x0a) + 1;
    offset += complete;
    const found: { i: number; id: string }[] = [];
    for (const line of buf.subarray(0, complete).toString('utf8').split('\n')) {
      if (!line.includes('"daemon":"fuzz-good"')) continue;
      const e = JSON.parse(line) as { id: string; daemon: string; fields: Record<string, string> };
      if (e.daemon === 'fuzz-good' && e.fields.run === String(runId)) found.push({ i: Number(e.fields.i), id: e.id });
    }
    return found;
  } finally {
    await handle.close();
  }
}

describe('fuzz: hostile connections next to a well-behaved client', () => {
  it('the client loses nothing, the server stays up and its memory stays bounded', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(attack, { minLength: 1, maxLength: 4 }), async (attacks) => {
        const id = ++run;
        trace(`run ${id}: ${JSON.stringify(attacks.map(summarize))}`);
        const lingering: Socket[] = [];
        // Logged while the attacks run; backpressure through drain(), as an application does.
        const logged = (async () => {
          for (let i = 0; i < GOOD_ENTRIES; i++)
            if (!good.info(`run ${id} entry ${i}`, { run: String(id), i: String(i) })) await good.drain();
        })();
        const sampler = setInterval(() => {
          memoryOf(server.proc.pid as number).then(
            (m) => (rssPeakSampled = Math.max(rssPeakSampled, m.rssMiB)),
            () => undefined,
          );
        }, 50);
        try {
          await Promise.all(attacks.map((a, k) => runAttack(sock, a, lingering).then(() => trace(`run ${id}: attack ${k} done`))));
          await logged;
          trace(`run ${id}: logged`);
          await good.flush();
          trace(`run ${id}: flushed`);
        } finally {
          clearInterval(sampler);
          for (const s of lingering) s.destroy();
        }
        expect(server.proc.exitCode).toBe(null);
        expect(good.stats.rejected).toBe(0);
        const found = await goodEntriesSince(id);
        expect(found.map((e) => e.i)).toEqual(Array.from({ length: GOOD_ENTRIES }, (_, i) => i));
        expect(new Set(found.map((e) => e.id)).size).toBe(GOOD_ENTRIES);
        const mem = await memoryOf(server.proc.pid as number);
        trace(`run ${id}: server RSS ${mem.rssMiB.toFixed(1)} MiB, VmHWM ${mem.peakMiB.toFixed(1)} MiB`);
        expect(mem.peakMiB).toBeLessThan(RSS_BOUND_MIB);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150), endOnFailure: true },
    );
    const mem = await memoryOf(server.proc.pid as number);
    console.info(
      `fuzz: ${run} runs; server RSS now ${mem.rssMiB.toFixed(1)} MiB, sampled peak ${rssPeakSampled.toFixed(1)} MiB, VmHWM ${mem.peakMiB.toFixed(1)} MiB`,
    );
    // A well-behaved client on a fresh connection still logs.
    const late = await LogClient.withConfig({ socketPath: sock, daemonName: 'fuzz-late', timeout: 10_000 });
    late.info('after the fuzz');
    await late.close();
    expect(late.stats.acked).toBe(1);
  }, 300_000);
});

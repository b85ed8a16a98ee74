import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EntryBatch, formatSyslog, type LogEntry, type SyslogFormat } from '@logstream/protocol';
import { decodeSyslogLine } from '@logstream/test-support';
import { ArchiveNamer } from '@logstream/rotator';
import { FileBackend, formatHuman } from '../src/index';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ls-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (i: number, extra: Partial<LogEntry> = {}): LogEntry => ({
  id: `id-${i}`,
  timestamp: '2024-01-15T10:30:45.123Z',
  level: 6,
  daemon: 'web-server',
  message: `m${i}`,
  fields: { user_id: '12345' },
  pid: 1234,
  hostname: 'server01',
  ...extra,
});

describe('FileBackend', () => {
  it('creates the directory and writes a batch as canonical JSON lines', async () => {
    const backend = new FileBackend({ directory: join(dir, 'a', 'b') });
    await backend.open();
    await backend.write(EntryBatch.fromEntries([entry(1), entry(2)]));
    await backend.close();
    const lines = (await readFile(join(dir, 'a', 'b', 'current.log'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((l): unknown => JSON.parse(l))).toEqual([entry(1), entry(2)]);
  });

  it('refuses a write after close with the one closed error (kind io, code CLOSED), and leaves the file as it was', async () => {
    const backend = new FileBackend({ directory: dir });
    await backend.open();
    await backend.write(EntryBatch.fromEntries([entry(1)]));
    await backend.close();
    await expect(backend.write(EntryBatch.fromEntries([entry(2)]))).rejects.toMatchObject({
      name: 'LogStreamError',
      kind: 'io',
      code: 'CLOSED',
      message: 'file backend is closed',
    });
    const lines = (await readFile(join(dir, 'current.log'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['id-1']);
  });

  it('formats human lines as in the spec example, escaping newlines and quoting odd values', () => {
    expect(formatHuman(entry(1, { message: 'Request processed' }))).toBe(
      '2024-01-15T10:30:45.123Z INFO  web-server[1234]: Request processed user_id=12345',
    );
    expect(formatHuman(entry(1, { message: 'a\nb', fields: { k: 'x y', e: '' }, pid: null, level: 3 }))).toBe(
      '2024-01-15T10:30:45.123Z ERROR web-server: a\\nb k="x y" e=""',
    );
  });

  it('cuts a torn last line left by a crash, and gives the ids of the last entries', async () => {
    const path = join(dir, 'current.log');
    await writeFile(path, `${JSON.stringify(entry(1))}\n${JSON.stringify(entry(2))}\n{"id":"torn","times`);
    const backend = new FileBackend({ directory: dir });
    await backend.open();
    expect(backend.tornBytesRemoved).toBe('{"id":"torn","times'.length);
    expect(await backend.recentIds()).toEqual(['id-1', 'id-2']);
    await backend.write(EntryBatch.fromEntries([entry(3)]));
    await backend.close();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['id-1', 'id-2', 'id-3']);
  });

  it('gives the ids of the newest archive too when a rotation came just before a crash', async () => {
    for (const compression of ['none', 'gzip', 'lz4'] as const) {
      const sub = join(dir, compression);
      const backend = new FileBackend({ directory: sub, maxFileBytes: 4096, compression });
      await backend.open();
      for (let i = 0; i < 40; i++) await backend.write(EntryBatch.fromEntries([entry(i)]));
      await backend.writer.whenIdle();
      await backend.close();
      // The live file now holds only the entries written after the last rotation.
      const reopened = new FileBackend({ directory: sub, maxFileBytes: 4096, compression });
      const ids = await reopened.recentIds(1024 * 1024);
      expect(ids.slice(-30)).toEqual(Array.from({ length: 30 }, (_, i) => `id-${i + 10}`));
      expect(new Set(ids).size).toBe(ids.length);
    }
  });
});

describe('FileBackend human and syslog files under hostile entries', () => {
  const hostile = [
    entry(1, { daemon: 'sshd[1]: Accepted password for root from 10.0.0.1 port 22 ssh2', message: 'x', fields: {} }),
    entry(2, {
      message: 'clear\u001b[2J\u001b[H\rbell\u0007nul\u0000 literal #012 real\nnewline',
      fields: { 'user id=x': 'a=b c', k: '\u001b]0;pwned\u0007' },
    }),
    entry(3, { message: 'bidi \u202eevil\u202c ls\u2028ps\u2029 c1\u0085\u009b31m del\u007f', fields: {} }),
  ];
  // eslint-disable-next-line no-control-regex
  const FORBIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

  /** The file's bytes as a terminal would get them from `cat`, checked to be one clean line per entry. */
  async function catLines(path: string): Promise<string[]> {
    const { stdout } = await promisify(execFile)('cat', [path], { encoding: 'buffer' });
    expect(stdout.findIndex((b) => b < 0x20 && b !== 0x0a)).toBe(-1);
    expect(stdout.includes(0x7f)).toBe(false);
    const text = stdout.toString('utf8');
    expect(FORBIDDEN.test(text)).toBe(false);
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(lines).toHaveLength(hostile.length);
    return lines;
  }

  it('human: cat shows one line per entry, no control bytes, the daemon quoted, odd keys quoted', async () => {
    const backend = new FileBackend({ directory: dir, format: 'human' });
    await backend.open();
    await backend.write(EntryBatch.fromEntries(hostile));
    await backend.close();
    const lines = await catLines(backend.path);
    expect(lines[0]).toBe('2024-01-15T10:30:45.123Z INFO  "sshd[1]: Accepted password for root from 10.0.0.1 port 22 ssh2"[1234]: x');
    expect(lines[1]).toBe(
      '2024-01-15T10:30:45.123Z INFO  web-server[1234]: clear\\u001b[2J\\u001b[H\\rbell\\u0007nul\\u0000 literal #012 real\\nnewline' +
        ' "user id=x"="a=b c" k="\\u001b]0;pwned\\u0007"',
    );
    expect(lines[2]).toContain(': bidi \\u202eevil\\u202c ls\\u2028ps\\u2029 c1\\u0085\\u009b31m del\\u007f');
  });

  for (const flavour of ['rfc5424', 'rfc3164'] as SyslogFormat[]) {
    it(`syslog ${flavour}: cat shows one line per entry, #ooo escapes that read back exactly`, async () => {
      const backend = new FileBackend({ directory: dir, format: 'syslog', syslog: { format: flavour } });
      await backend.open();
      await backend.write(EntryBatch.fromEntries(hostile));
      await backend.close();
      const lines = await catLines(backend.path);
      expect(lines[1]).toContain('clear#033[2J#033[H#015bell#007nul#000 literal #043012 real#012newline');
      expect(lines[2]).toContain('bidi #342#200#256evil#342#200#254 ls#342#200#250ps#342#200#251 c1#302#205#302#233');
      // Each #ooo is one byte: undoing them gives back the formatted entry, newline and all.
      lines.forEach((line, i) => expect(decodeSyslogLine(line)).toBe(formatSyslog(hostile[i] as LogEntry, flavour)));
    });
  }
});

describe('FileBackend and the Backend contract', () => {
  it('takes a name (default "file") for logs and metric labels, and refuses an empty one naming the option', () => {
    expect(new FileBackend({ directory: dir }).name).toBe('file');
    expect(new FileBackend({ directory: dir, name: 'audit' }).name).toBe('audit');
    expect(() => new FileBackend({ directory: dir, name: '' })).toThrow(/^name must be a non-empty string, got ""$/);
  });

  it("reports background trouble to open()'s context, not as 'error'; bare, to 'error' listeners", async () => {
    // A link planted under an archive name: the archive scan leaves it alone and reports it.
    const planted = join(dir, new ArchiveNamer('current.log').format(Date.UTC(2026, 0, 1), 1));
    await symlink('/etc/passwd', planted);
    const reported: Error[] = [];
    const emitted: Error[] = [];
    const withContext = new FileBackend({ directory: dir, compression: 'gzip' });
    withContext.on('error', (e) => emitted.push(e));
    await withContext.open({ reportError: (e) => reported.push(e) });
    await withContext.writer.whenIdle();
    await withContext.close();
    expect(reported.map((e) => e.message)).toEqual([`scan failed for ${planted}: a symbolic link under an archive name; left alone`]);
    expect(emitted).toEqual([]);

    const bare = new FileBackend({ directory: dir, compression: 'gzip' });
    bare.on('error', (e) => emitted.push(e));
    await bare.open();
    await bare.writer.whenIdle();
    await bare.close();
    expect(emitted.map((e) => e.message)).toEqual([`scan failed for ${planted}: a symbolic link under an archive name; left alone`]);
  });

  it("types its metrics: the live file's size a gauge, rotations a counter, writes backend events", async () => {
    const backend = new FileBackend({ directory: dir, maxFileBytes: 400 });
    await backend.open();
    for (let i = 0; i < 5; i++) await backend.write(EntryBatch.fromEntries([entry(i)]));
    const samples = backend.metrics();
    const live = samples.find((s) => s.name === 'logstream_live_file_bytes');
    expect(live).toMatchObject({ type: 'gauge', value: backend.writer.size });
    expect(live?.value).toBeGreaterThan(0);
    expect(samples.find((s) => s.name === 'logstream_rotations_total')).toMatchObject({
      type: 'counter',
      value: backend.stats().rotations,
    });
    expect(backend.stats().rotations).toBeGreaterThan(0);
    expect(samples.find((s) => s.labels?.event === 'writes')).toMatchObject({
      name: 'logstream_backend_events_total',
      type: 'counter',
      value: 5,
    });
    expect(samples.every((s) => s.type === 'gauge' || s.name.endsWith('_total'))).toBe(true);
    await backend.close();
  });
});

import { appendFile, cp, readdir, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryEntries, type QueryWarning } from '../dist/index.js';
import { startServer, until, type ServerProcess } from '@logstream/test-support';
import { QUERY_CLI, archiveNames, removeDir, runQuery, sendLines, storedLines, tempDir, writeConfig } from './helpers';

// One real server's output, written in four waves: two by a server compressing with gzip, two
// by one compressing with lz4 (the same directory), rotating every few KiB. Every query is
// checked against the same filter computed here from the lines the real zcat / lz4 tools give.

interface Entry {
  id: string;
  timestamp: string;
  level: number;
  daemon: string;
  message: string;
  fields: Record<string, string>;
  pid: number | null;
  hostname: string | null;
}

const DAEMONS = ['web', 'db', 'cache'];
let dir: string;
let out: string;
let lines: string[];
let entries: Entry[];

function waveLines(wave: number, count: number): string[] {
  const result: string[] = [];
  for (let i = 0; i < count; i++) {
    const message =
      i % 11 === 0
        ? `Timeout ERROR in request ${wave}/${i}`
        : i % 13 === 0
          ? `héllo ✓ "quoted"\nsecond line ${wave}/${i}`
          : `request ${wave}/${i} handled`;
    result.push(
      JSON.stringify({
        level: i % 8,
        daemon: DAEMONS[i % 3],
        message,
        fields: { k: String(i % 4), wave: String(wave), ...(i % 5 === 0 ? { user: `u${i % 7}` } : {}) },
        pid: 1000 + (i % 3),
      }),
    );
  }
  return result;
}

/** Lines in canonical key order but with spaces, a zoned timestamp and escapes: the slow path. */
function rawLines(wave: number): string[] {
  const ts = new Date().toISOString().replace('Z', '+00:00');
  return [0, 1, 2].map(
    (i) =>
      `{"id": "raw-${wave}-${i}", "timestamp": "${ts}", "level": ${i + 2}, "daemon": "web", "message": "raw \\u0072ow ${i}", "fields": {"k": "1", "wave": "${wave}"}, "pid": null, "hostname": "h\\u0031"}`,
  );
}

async function wave(sock: string, n: number): Promise<void> {
  // Three connections at once, as daemons log; the server stamps each entry as it arrives.
  const all = [...waveLines(n, 450), ...rawLines(n)];
  await Promise.all(
    [0, 1, 2].map((c) =>
      sendLines(
        sock,
        `conn${c}`,
        all.filter((_, i) => i % 3 === c),
      ),
    ),
  );
}

beforeAll(async () => {
  dir = await tempDir();
  out = join(dir, 'out');
  const sock = join(dir, 's.sock');
  // Files rotate at batch ends, and a faster server gathers more lines per batch: 4 KiB files
  // keep the archives many (at 8 KiB one run in three gave 18; the data set wants more than 20).
  let server: ServerProcess = await startServer(['-c', await writeConfig(dir, 'gzip', 4096)]);
  await wave(sock, 1);
  await new Promise((r) => setTimeout(r, 1100));
  await wave(sock, 2);
  expect((await server.stop()).code).toBe(0);
  server = await startServer(['-c', await writeConfig(dir, 'lz4', 4096)]);
  await wave(sock, 3);
  await new Promise((r) => setTimeout(r, 1100));
  await wave(sock, 4);
  expect((await server.stop()).code).toBe(0);
  // The server stores every line in canonical form; lines in another layout (an older server, a
  // file another tool appended to) must be read too, through the full parse.
  await appendFile(join(out, 'current.log'), `${rawLines(5).join('\n')}\n`);
  lines = await storedLines(out);
  entries = lines.map((l) => JSON.parse(l) as Entry);
}, 120_000);

afterAll(async () => {
  if (dir !== undefined) await removeDir(dir);
});

/** The stored lines whose entries pass `keep`, in stored order. */
function expected(keep: (e: Entry) => boolean): string[] {
  return lines.filter((_, i) => keep(entries[i] as Entry));
}

async function json(args: string[]): Promise<string[]> {
  const r = await runQuery(['-D', out, '-o', 'json', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout === '' ? [] : r.stdout.slice(0, -1).split('\n');
}

describe('the data set', () => {
  it('has gzip, lz4 and plain archives and every kind of line', async () => {
    const names = await archiveNames(out);
    expect(names.some((n) => n.endsWith('.gz'))).toBe(true);
    expect(names.some((n) => n.endsWith('.lz4'))).toBe(true);
    expect(names.length).toBeGreaterThan(20);
    expect(entries).toHaveLength(4 * 453 + 3);
    expect(lines.filter((l) => l.startsWith('{"id":"raw-'))).toHaveLength(12);
    expect(lines.filter((l) => l.startsWith('{"id": "raw-'))).toHaveLength(3);
  });
});

describe('logstream-query over a real server output', () => {
  it('prints every stored line as stored, in stored order (-o json)', async () => {
    expect(await json([])).toEqual(lines);
  });

  it('reads LOGSTREAM_DIR when -D is not given', async () => {
    const r = await runQuery(['-o', 'json'], { LOGSTREAM_DIR: out });
    expect(r.code).toBe(0);
    expect(r.stdout.slice(0, -1).split('\n')).toEqual(lines);
  });

  it('-t: one daemon, or several (OR)', async () => {
    expect(await json(['-t', 'db'])).toEqual(expected((e) => e.daemon === 'db'));
    expect(await json(['-t', 'db', '-t', 'cache'])).toEqual(expected((e) => e.daemon === 'db' || e.daemon === 'cache'));
    expect(await json(['-t', 'nobody'])).toEqual([]);
  });

  it('-p: a level and more severe, a range, names', async () => {
    expect(await json(['-p', '3'])).toEqual(expected((e) => e.level <= 3));
    expect(await json(['-p', 'err'])).toEqual(expected((e) => e.level <= 3));
    expect(await json(['-p', '2..5'])).toEqual(expected((e) => e.level >= 2 && e.level <= 5));
    expect(await json(['-p', 'warning..info'])).toEqual(expected((e) => e.level >= 4 && e.level <= 6));
  });

  it('-S / -U: at or after, at or before, exact to the millisecond', async () => {
    const ms = entries.map((e) => Date.parse(e.timestamp));
    const since = new Date(ms[Math.floor(ms.length * 0.3)] as number).toISOString();
    const until = new Date(ms[Math.floor(ms.length * 0.7)] as number).toISOString();
    const s = Date.parse(since);
    const u = Date.parse(until);
    const a = await json(['-S', since]);
    expect(a).toEqual(expected((e) => Date.parse(e.timestamp) >= s));
    expect(a.length).toBeGreaterThan(0);
    expect(a.length).toBeLessThan(lines.length);
    expect(await json(['-U', until])).toEqual(expected((e) => Date.parse(e.timestamp) <= u));
    expect(await json(['-S', since, '-U', until])).toEqual(expected((e) => Date.parse(e.timestamp) >= s && Date.parse(e.timestamp) <= u));
    expect(await json(['-S', '-1h'])).toEqual(lines);
    expect(await json(['-S', 'tomorrow'])).toEqual([]);
    expect(await json(['-U', 'yesterday'])).toEqual([]);
  });

  it('-g: searches the message; smart case', async () => {
    expect(await json(['-g', 'timeout error'])).toEqual(expected((e) => /timeout error/i.test(e.message)));
    expect(await json(['-g', 'Timeout ERROR in request 3/'])).toEqual(expected((e) => e.message.includes('Timeout ERROR in request 3/')));
    expect(await json(['-g', 'TIMEOUT'])).toEqual([]);
    expect(await json(['-g', '^héllo ✓ "quoted"\\nsecond'])).toEqual(expected((e) => /^héllo ✓ "quoted"\nsecond/iu.test(e.message)));
    expect(await json(['-g', 'raw row'])).toEqual(expected((e) => e.message.startsWith('raw row')));
  });

  it('FIELD=VALUE: ANDs across fields, ORs repeats of one field; top-level keys too', async () => {
    expect(await json(['k=1'])).toEqual(expected((e) => e.fields.k === '1'));
    expect(await json(['k=1', 'k=3'])).toEqual(expected((e) => e.fields.k === '1' || e.fields.k === '3'));
    expect(await json(['k=1', 'wave=2'])).toEqual(expected((e) => e.fields.k === '1' && e.fields.wave === '2'));
    expect(await json(['user=u3', 'k=0', 'k=2'])).toEqual(
      expected((e) => e.fields.user === 'u3' && (e.fields.k === '0' || e.fields.k === '2')),
    );
    expect(await json(['hostname=h1'])).toEqual(expected((e) => e.hostname === 'h1'));
    expect(await json(['pid=1001', 'daemon=db'])).toEqual(expected((e) => e.pid === 1001 && e.daemon === 'db'));
    expect(await json(['pid=null'])).toEqual(expected((e) => e.pid === null));
    expect(await json(['fields.wave=4', 'k=1'])).toEqual(expected((e) => e.fields.wave === '4' && e.fields.k === '1'));
  });

  it('every filter together', async () => {
    const ms = entries.map((e) => Date.parse(e.timestamp));
    const s = ms[Math.floor(ms.length * 0.1)] as number;
    const u = ms[Math.floor(ms.length * 0.9)] as number;
    const got = await json([
      '-t',
      'web',
      '-t',
      'db',
      '-p',
      '1..6',
      '-S',
      new Date(s).toISOString(),
      '-U',
      new Date(u).toISOString(),
      '-g',
      'request',
      'k=0',
      'k=2',
    ]);
    const want = expected(
      (e) =>
        (e.daemon === 'web' || e.daemon === 'db') &&
        e.level >= 1 &&
        e.level <= 6 &&
        Date.parse(e.timestamp) >= s &&
        Date.parse(e.timestamp) <= u &&
        /request/i.test(e.message) &&
        (e.fields.k === '0' || e.fields.k === '2'),
    );
    expect(want.length).toBeGreaterThan(10);
    expect(got).toEqual(want);
  });

  it('-n, -r, and both, with and without filters', async () => {
    expect(await json(['-n', '7'])).toEqual(lines.slice(-7));
    expect(await json(['-n7', '-r'])).toEqual(lines.slice(-7).reverse());
    expect(await json(['-r'])).toEqual([...lines].reverse());
    expect(await json(['-n', '0'])).toEqual([]);
    expect(await json(['-n', '100000'])).toEqual(lines);
    const db = expected((e) => e.daemon === 'db' && e.level <= 3);
    expect(await json(['-t', 'db', '-p', '3', '-n', '25'])).toEqual(db.slice(-25));
    expect(await json(['-t', 'db', '-p', '3', '-r'])).toEqual([...db].reverse());
    expect(await json(['--lines=5', '--reverse', 'wave=1'])).toEqual(
      expected((e) => e.fields.wave === '1')
        .slice(-5)
        .reverse(),
    );
  });

  it('cursors round-trip: --show-cursor prints the last id, --after-cursor resumes after it', async () => {
    const half = Math.floor(lines.length / 2);
    const until = new Date(Date.parse((entries[half] as Entry).timestamp)).toISOString();
    const first = await runQuery(['-D', out, '-o', 'json', '-U', until, '--show-cursor']);
    expect(first.code).toBe(0);
    const printed = first.stdout.slice(0, -1).split('\n');
    const cursorLine = printed.pop() as string;
    const lastShown = JSON.parse(printed[printed.length - 1] as string) as Entry;
    expect(cursorLine).toBe(`-- cursor: ${lastShown.id}`);
    expect(printed).toEqual(expected((e) => Date.parse(e.timestamp) <= Date.parse(until)));
    const rest = await json(['--after-cursor', lastShown.id]);
    expect(rest).toEqual(lines.slice(lines.indexOf(printed[printed.length - 1] as string) + 1));
    expect(rest.length).toBeGreaterThan(0);
    expect(await json(['--after-cursor', lastShown.id, '-r'])).toEqual([...rest].reverse());
    expect(await json(['--after-cursor', lastShown.id, '-n', '3'])).toEqual(rest.slice(-3));
    expect(await json(['--after-cursor', lastShown.id, '-t', 'cache'])).toEqual(
      rest.filter((l) => (JSON.parse(l) as Entry).daemon === 'cache'),
    );
    const missing = await runQuery(['-D', out, '--after-cursor', 'no-such-id']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`logstream-query: cursor no-such-id is not in ${out}\n`);
  });

  it('-o short, short-iso, cat: journalctl layouts, control characters escaped', async () => {
    const e = entries.find((x) => x.message.includes('\n')) as Entry;
    const args = ['-D', out, '--after-cursor', (entries[entries.indexOf(e) - 1] as Entry).id, '-n', '1000000'];
    const t = new Date(Date.parse(e.timestamp));
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const hms = t.toISOString().slice(11, 19);
    const msg = e.message.replace('\n', '\\n');
    const short = (await runQuery([...args, '-o', 'short'])).stdout.split('\n')[0];
    expect(short).toBe(
      `${months[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, '0')} ${hms} ${e.hostname} ${e.daemon}[${e.pid}]: ${msg}`,
    );
    const iso = (await runQuery([...args, '-o', 'short-iso'])).stdout.split('\n')[0];
    expect(iso).toBe(`${t.toISOString().slice(0, 19)}+00:00 ${e.hostname} ${e.daemon}[${e.pid}]: ${msg}`);
    const cat = (await runQuery([...args, '-o', 'cat'])).stdout.split('\n')[0];
    expect(cat).toBe(msg);
  });
});

describe('bad input', () => {
  it.each([
    [['-x'], 'unknown option -x'],
    [['--bogus'], 'unknown option --bogus'],
    [['-p', '9'], '-p: bad priority "9"'],
    [['-p', 'err..loud'], '-p: bad priority "err..loud"'],
    [['-S', 'last tuesday'], '-S: bad time "last tuesday"'],
    [['-U', '2026-02-30'], '-U: bad time "2026-02-30"'],
    [['-o', 'xml'], '-o: bad output format "xml"'],
    [['-n', '-3'], 'unknown option -3'],
    [['--lines=abc'], '--lines: bad number of lines "abc"'],
    [['-g', '('], '-g: bad regular expression "("'],
    [['web'], 'unexpected argument "web" (expected FIELD=VALUE)'],
    [['-t'], '-t: missing value'],
    [['-r', '-f'], '-r cannot be combined with -f'],
  ])('%j → exit 2, one line naming it', async (args, message) => {
    const r = await runQuery(['-D', out, ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr.startsWith(`logstream-query: ${message}`)).toBe(true);
  });

  it('a directory that is not a LogStream output directory → exit 1, a clear error', async () => {
    const empty = await tempDir();
    try {
      await writeFile(join(empty, 'notes.txt'), 'hello\n');
      const r = await runQuery(['-D', empty]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `logstream-query: ${empty} is not a LogStream output directory: no current.log and no rotated current-*.log* files in it\n`,
      );
      const gone = await runQuery(['-D', join(empty, 'missing')]);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toBe(`logstream-query: ${join(empty, 'missing')}: no such directory\n`);
    } finally {
      await removeDir(empty);
    }
  });

  it('damaged archives (truncated gzip and lz4, a corrupt line): the readable part, one warning per file, exit 3', async () => {
    const copy = await tempDir();
    try {
      const damaged = join(copy, 'out');
      await cp(out, damaged, { recursive: true });
      const names = await archiveNames(damaged);
      const gz = names.filter((n) => n.endsWith('.gz'))[2] as string;
      const lz4 = names.filter((n) => n.endsWith('.lz4'))[2] as string;
      await truncate(join(damaged, gz), Math.floor((await stat(join(damaged, gz))).size / 2));
      await truncate(join(damaged, lz4), Math.floor((await stat(join(damaged, lz4))).size / 2));
      // A corrupt line in the middle of the live file.
      const live = join(damaged, 'current.log');
      const liveLines = (await storedLines(damaged, true)).length;
      const text = (await readFile(live, 'utf8')).split('\n');
      text.splice(1, 0, '{"id":"broken","timestamp":');
      await writeFile(live, text.join('\n'));
      const r = await runQuery(['-D', damaged, '-o', 'json']);
      expect(r.code).toBe(3);
      const warnings = r.stderr.slice(0, -1).split('\n');
      expect(warnings).toHaveLength(3);
      expect(warnings.filter((w) => w.startsWith(`logstream-query: warning: ${join(damaged, gz)}: `))).toHaveLength(1);
      expect(warnings.filter((w) => w.startsWith(`logstream-query: warning: ${join(damaged, lz4)}: `))).toHaveLength(1);
      expect(warnings.filter((w) => w.startsWith(`logstream-query: warning: ${live}: 1 damaged line left out`))).toHaveLength(1);
      const got = r.stdout.slice(0, -1).split('\n');
      // gzip: exactly what zcat reads before the damage; lz4: whole frames before the cut.
      const readable = (await storedLines(damaged, true)).filter((l) => !l.startsWith('{"id":"broken"'));
      expect(got.length).toBeGreaterThan(lines.length * 0.8);
      expect(got.length).toBeLessThan(lines.length);
      // In order, each a stored line: a subsequence of the undamaged data.
      let at = 0;
      for (const l of got) {
        at = lines.indexOf(l, at);
        expect(at).toBeGreaterThanOrEqual(0);
        at++;
      }
      // Only lines of the two damaged archives are missing, and the gzip part equals zcat's.
      expect(readable.filter((l) => !got.includes(l)).length).toBeLessThan(200);
      expect(liveLines).toBeGreaterThan(0);
      expect(lines.filter((l) => !got.includes(l)).length).toBeGreaterThan(0);
    } finally {
      await removeDir(copy);
    }
  });
});

describe('the library', () => {
  it('does not open archives whose time range cannot match', async () => {
    const copy = await tempDir();
    try {
      const dirCopy = join(copy, 'out');
      await cp(out, dirCopy, { recursive: true });
      // Wreck the oldest archive: opening it would warn.
      const oldest = (await archiveNames(dirCopy))[0] as string;
      await writeFile(join(dirCopy, oldest), 'not an archive\n');
      const sinceMs = Date.parse((entries[Math.floor(entries.length * 0.6)] as Entry).timestamp);
      const warnings: QueryWarning[] = [];
      const got: string[] = [];
      for await (const e of queryEntries({ directory: dirCopy, filter: { sinceMs }, clockSkewMs: 0, onWarning: (w) => warnings.push(w) })) {
        got.push(e.line.toString());
      }
      expect(warnings).toEqual([]);
      expect(got).toEqual(expected((e) => Date.parse(e.timestamp) >= sinceMs));
      for await (const e of queryEntries({ directory: dirCopy, onWarning: (w) => warnings.push(w) })) void e;
      expect(warnings.map((w) => w.file)).toEqual([join(dirCopy, oldest)]);
    } finally {
      await removeDir(copy);
    }
  });
});

describe('follow (-f)', () => {
  it.each(['gzip', 'lz4'] as const)(
    'yields every new entry once across rotations with %s, and a logrotate rename + SIGHUP',
    async (compression) => {
      const fdir = await tempDir();
      const fout = join(fdir, 'out');
      const sock = join(fdir, 's.sock');
      const server = await startServer(['-c', await writeConfig(fdir, compression, 16384)]);
      let follower: ReturnType<typeof spawn> | undefined;
      try {
        await sendLines(sock, 'before', waveLines(0, 50));
        // Resume after the last stored entry: no race with the entries sent below.
        const lastBefore = JSON.parse((await storedLines(fout)).pop() as string) as Entry;
        follower = spawn(process.execPath, [QUERY_CLI, '-D', fout, '-f', '--after-cursor', lastBefore.id, '-o', 'json'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let text = '';
        let err = '';
        follower.stdout?.setEncoding('utf8').on('data', (d: string) => (text += d));
        follower.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
        const printed = (): number => text.split('\n').length - 1;
        // Rounds of 100 entries (a rotation every ~70), each waited for: the follower is following
        // the live file when it is rotated and compressed, again and again.
        for (let round = 0; round < 16; round++) {
          await sendLines(sock, `d${round}`, waveLines(10 + round, 100));
          await until(() => printed() >= 100 * (round + 1), 60_000, `follow output (${printed()} of ${100 * (round + 1)})`);
        }
        await rename(join(fout, 'current.log'), join(fout, 'current.log.1'));
        server.proc.kill('SIGHUP');
        await until(() => server.stderr().includes('reopened'), 20_000, 'reopen');
        await sendLines(sock, 'after', waveLines(20, 300));
        const rotatedAway = (await readFile(join(fout, 'current.log.1'), 'utf8')).split('\n').filter((l) => l !== '');
        const wanted = [...(await storedLines(fout)), ...rotatedAway].filter((l) => (JSON.parse(l) as Entry).fields.wave !== '0');
        const newIds = new Set(wanted.map((l) => (JSON.parse(l) as Entry).id));
        expect(newIds.size).toBe(16 * 100 + 300);
        await until(
          () => text.split('\n').length - 1 >= newIds.size,
          60_000,
          `follow output (${text.split('\n').length - 1} of ${newIds.size})`,
        );
        // Nothing more comes (no repeats): stop it and read what it printed up to its exit.
        follower.kill('SIGTERM');
        await new Promise((r) => follower?.once('exit', r));
        const got = text
          .slice(0, -1)
          .split('\n')
          .map((l) => (JSON.parse(l) as Entry).id);
        expect(got).toHaveLength(newIds.size);
        expect(new Set(got).size).toBe(got.length);
        expect(got.every((id) => newIds.has(id))).toBe(true);
        const names = await readdir(fout);
        expect(names.filter((n) => n.endsWith(compression === 'gzip' ? '.gz' : '.lz4')).length).toBeGreaterThan(3);
        expect(err).toBe('');
      } finally {
        follower?.kill('SIGTERM');
        await server.stop();
        await removeDir(fdir);
      }
    },
    120_000,
  );
});

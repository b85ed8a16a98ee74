// logstream-query against the jq pipeline operators use today (`zcat | jq`, `lz4 -dc | jq`), on
// the same >= 1 M stored entries, in the same run: a full scan (every entry printed as JSON) and
// two selective queries (a 5 % time range in the middle; one daemon's errors). The data is
// written by the real rotator (32 MiB files, compressed with gzip in one directory and lz4 in
// another). Rates are stored entries scanned per second; RSS is the peak of the process that
// reads (our command; jq for the pipeline), from /usr/bin/time.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArchiveNamer, RotatingFileWriter, readArchiveTail } from '../../packages/rotator/dist/index.js';
import { makeTempDir } from '../lib/procs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const QUERY = join(here, '..', '..', 'packages', 'query', 'dist', 'cli.js');
// QUERY_BENCH_ENTRIES: fewer entries, to try the case quickly.
const ENTRIES = Number(process.env.QUERY_BENCH_ENTRIES ?? 1_200_000);
const SPAN_MS = 10 * 3_600_000;
const START_MS = Date.parse('2026-11-20T00:00:00.000Z');
const DAEMONS = ['web-server', 'db', 'cache', 'auth', 'worker'];
const ARCHIVE = /^current-\d{8}T\d{6}\.\d{3}Z-\d{6,}\.log(\.gz|\.lz4)?$/;

function line(n) {
  const id = ((n * 2654435761) >>> 0).toString(16).padStart(8, '0');
  return JSON.stringify({
    id: `${id}-0000-4000-8000-${String(n).padStart(12, '0')}`,
    timestamp: new Date(START_MS + Math.floor((n * SPAN_MS) / ENTRIES)).toISOString(),
    level: (n * 7) % 8,
    daemon: DAEMONS[n % DAEMONS.length],
    message: n % 17 === 0 ? `upstream timeout after ${n % 3000} ms` : `request ${n} handled in ${n % 97} ms`,
    fields: { user_id: String(n % 9973), path: `/api/v1/items/${n % 211}` },
    pid: 1000 + (n % 50),
    hostname: 'server01',
  });
}

async function fill(dir, compression) {
  const writer = new RotatingFileWriter({
    directory: dir,
    maxFileBytes: 32 * 1024 * 1024,
    rotation: { enabled: true, keepFiles: 1000 },
    compression,
  });
  await writer.open();
  for (let n = 0; n < ENTRIES;) {
    let text = '';
    for (let i = 0; i < 512 && n < ENTRIES; i++, n++) text += `${line(n)}\n`;
    await writer.write(Buffer.from(text));
  }
  await writer.whenIdle();
  await writer.close();
  // The data spans 10 hours but was written in seconds: give each archive the name a server
  // running those 10 hours would have given it (rotated just after its last entry), so that
  // choosing files by time sees what it would see in production.
  const namer = new ArchiveNamer('current.log');
  for (const name of readdirSync(dir)) {
    const a = namer.parse(name);
    if (a === undefined) continue;
    const tail = (await readArchiveTail(join(dir, name), a.compression, 4096)).toString('utf8').trimEnd();
    const last = JSON.parse(tail.slice(tail.lastIndexOf('\n') + 1));
    renameSync(join(dir, name), join(dir, namer.format(Date.parse(last.timestamp) + 1, a.seq, a.compression)));
  }
}

/** Runs `sh -c script`, returns seconds, the line count printed and the peak RSS (MiB) /usr/bin/time reported. */
function timed(script) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rss = /RSS_KB=(\d+)/.exec(err);
      if (code !== 0 || rss === null) return reject(new Error(`exit ${code}: ${err.slice(-400)}`));
      resolve({ seconds, lines: Number(out.trim()), rssMiB: Number(rss[1]) / 1024 });
    });
  });
}

const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

export async function run() {
  for (const tool of ['jq', 'zcat', 'lz4', '/usr/bin/time']) execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  const jqVersion = execFileSync('jq', ['--version'], { encoding: 'utf8' }).trim();
  const fromMs = START_MS + SPAN_MS * 0.5;
  const since = new Date(fromMs).toISOString();
  const until = new Date(fromMs + SPAN_MS * 0.05).toISOString();
  const queries = [
    { name: 'full scan', ours: [], jq: '.' },
    { name: 'time range (5 %)', ours: ['-S', since, '-U', until], jq: `select(.timestamp >= "${since}" and .timestamp <= "${until}")` },
    { name: 'one daemon, errors', ours: ['-t', 'web-server', '-p', 'err'], jq: 'select(.daemon == "web-server" and .level <= 3)' },
  ];
  const rows = [];
  for (const compression of ['gzip', 'lz4']) {
    const dir = makeTempDir('lsb-query-');
    await fill(dir, compression);
    const archives = readdirSync(dir)
      .filter((n) => ARCHIVE.test(n))
      .sort();
    const cat = compression === 'gzip' ? 'zcat' : 'lz4 -dc';
    const source = `(for f in ${archives.map((a) => q(join(dir, a))).join(' ')}; do ${cat} "$f"; done; cat ${q(join(dir, 'current.log'))})`;
    for (const query of queries) {
      const ours = await timed(
        `/usr/bin/time -f RSS_KB=%M ${q(process.execPath)} ${q(QUERY)} -D ${q(dir)} -o json ${query.ours.map(q).join(' ')} | wc -l`,
      );
      const jq = await timed(`${source} | /usr/bin/time -f RSS_KB=%M jq -c ${q(query.jq)} | wc -l`);
      const same = ours.lines === jq.lines ? '' : ` (jq printed ${jq.lines}!)`;
      rows.push([
        query.name,
        compression,
        `logstream-query`,
        same === '' ? ours.lines : `${ours.lines}${same}`,
        ours.seconds,
        ENTRIES / ours.seconds,
        ours.rssMiB,
        `${(jq.seconds / ours.seconds).toFixed(1)}x`,
      ]);
      rows.push([query.name, compression, `${cat} | jq`, jq.lines, jq.seconds, ENTRIES / jq.seconds, jq.rssMiB, '1.0x']);
    }
  }
  return {
    title: `query: logstream-query vs the jq pipeline over ${ENTRIES.toLocaleString('en-US')} stored entries`,
    columns: ['query', 'archives', 'tool', 'entries out', 's', 'stored entries/s', 'peak RSS MiB', 'speed vs jq'],
    rows,
    notes: [
      `${jqVersion}; files of 32 MiB written by RotatingFileWriter; both read the same files, both print JSON lines (jq -c re-encodes, -o json prints the stored line) counted by wc -l.`,
      'The time range and daemon queries print the same entries with both tools (a mismatch is shown in "entries out").',
    ],
  };
}

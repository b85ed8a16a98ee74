// Per-line cost of the server's validation, without sockets: the naive baseline
// (JSON.parse + JSON.stringify), the slow path (JSON.parse + checks + completion + encoding) and
// the fast path (byte scanner; the original bytes are stored). Same lines, same run, medians of 5.
import { randomUUID } from 'node:crypto';
import { checkEntryInput, encodeEntry, scanCanonicalEntry } from '../../packages/protocol/dist/index.js';
import { completeEntry } from '../../packages/core/dist/index.js';
import { median } from '../lib/stats.mjs';

const N = 200_000;

function makeLines() {
  const lines = [];
  const ts = new Date().toISOString();
  for (let i = 0; i < N; i++) {
    lines.push(
      Buffer.from(
        encodeEntry({
          id: randomUUID(),
          timestamp: ts,
          level: 6,
          daemon: 'web-server',
          message: `Request processed in ${i % 1000} ms`,
          fields: { user_id: String(10000 + (i % 5000)), path: '/api/v1/items' },
          pid: 1234,
          hostname: 'server01',
        }),
      ),
    );
  }
  return lines;
}

function time(fn, lines) {
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (const line of lines) sink += fn(line);
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink < 0) console.log(sink);
  return (lines.length / ns) * 1e9;
}

const naive = (line) => JSON.stringify(JSON.parse(line.toString('utf8'))).length;
const slow = (line) => {
  const value = JSON.parse(line.toString('utf8'));
  const checked = checkEntryInput(value);
  if (!checked.ok) return 0;
  const { entry } = completeEntry(checked.entry, { daemon: 'd', hostname: 'h' }, false);
  return Buffer.byteLength(encodeEntry(entry));
};
const scan = { level: 0, idStart: 0, idEnd: 0 };
const fast = (line) => (scanCanonicalEntry(line, scan) ? scan.level + scan.idEnd - scan.idStart : 0);

export async function run() {
  const lines = makeLines();
  const bytes = lines.reduce((n, l) => n + l.length + 1, 0) / lines.length;
  const cases = [
    ['naive: JSON.parse + JSON.stringify (baseline)', naive],
    ['slow path: JSON.parse + checks + complete + encode', slow],
    ['fast path: byte scanner, original bytes kept', fast],
  ];
  const runs = new Map(cases.map(([name]) => [name, []]));
  for (let r = 0; r < 5; r++) for (const [name, fn] of cases) runs.get(name).push(time(fn, lines));
  const base = median(runs.get(cases[0][0]));
  return {
    title: `Hot path: validating one ${Math.round(bytes)}-byte entry line (no I/O), ${N.toLocaleString('en-US')} lines x 5 runs`,
    columns: ['path', 'median lines/s', 'ns/line', 'vs naive', 'runs (k lines/s)'],
    rows: cases.map(([name]) => {
      const m = median(runs.get(name));
      return [
        name,
        m,
        1e9 / m,
        `${(m / base).toFixed(2)}x`,
        runs
          .get(name)
          .map((x) => Math.round(x / 1000))
          .join(' / '),
      ];
    }),
    notes: ['Single thread, same lines and same run for every path; medians of 5.'],
  };
}

// Micro-benchmark of the intake's per-line work: the byte scanner per input shape and the dedupe
// window, this tree against an older one read from git (default `main`). Medians of several
// rounds, ns per line: the machine is shared, so compare ratios from one run, not absolutes.
//
//   node packages/core/bench/intake-micro.mjs [git-ref]   (after `pnpm build`)
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const ref = process.argv[2] ?? 'main';
const protocolDist = join(root, 'packages/protocol/dist/index.js');
const protocol = await import(pathToFileURL(protocolDist).href);
const core = await import(pathToFileURL(join(root, 'packages/core/dist/index.js')).href);

// The old scanner and id window, from git, transpiled with the esbuild that tsup brings.
const require = createRequire(require_from());
function require_from() {
  return join(root, 'packages/core/package.json');
}
const esbuild = createRequire(require.resolve('tsup')).resolve('esbuild');
const { transformSync } = await import(pathToFileURL(esbuild).href).then((m) => m.default ?? m);
const tmp = mkdtempSync(join(tmpdir(), 'intake-micro-'));
async function oldModule(path) {
  const source = execFileSync('git', ['-C', root, 'show', `${ref}:${path}`], { encoding: 'utf8' }).replaceAll(
    "'@logstream/protocol'",
    JSON.stringify(pathToFileURL(protocolDist).href),
  );
  const file = join(tmp, path.replaceAll('/', '_').replace(/\.ts$/, '.mjs'));
  writeFileSync(file, transformSync(source, { loader: 'ts', format: 'esm' }).code);
  return import(pathToFileURL(file).href);
}
const old = {
  ...(await oldModule('packages/core/src/fast-scan.ts')),
  ...(await oldModule('packages/core/src/id-window.ts')),
};
rmSync(tmp, { recursive: true, force: true });

const ts = '2024-01-15T10:30:45.123Z';
const fill = (n) => 'x'.repeat(Math.max(0, n));
function canonical(bytes) {
  const base = {
    id: randomUUID(),
    timestamp: ts,
    level: 6,
    daemon: 'web-server',
    message: '',
    fields: { user_id: '12345', path: '/api/users' },
    pid: 4242,
    hostname: 'server01',
  };
  const over = Buffer.byteLength(protocol.encodeEntry(base));
  return protocol.encodeEntry({ ...base, message: `Request processed ${fill(bytes - over - 18)}` });
}
function otherOrder(bytes) {
  const e = JSON.parse(canonical(bytes));
  return JSON.stringify({
    message: e.message,
    level: e.level,
    fields: e.fields,
    hostname: e.hostname,
    id: e.id,
    pid: e.pid,
    daemon: e.daemon,
    timestamp: e.timestamp,
  });
}
const partial = (bytes) => JSON.stringify({ message: `partial entry ${fill(bytes - 47)}`, level: 'info' });
const shapes = [
  ['208 B canonical', () => canonical(208)],
  ['208 B other order', () => otherOrder(208)],
  ['97 B partial', () => partial(97)],
  ['1 KB canonical', () => canonical(1024)],
  ['8 KB canonical', () => canonical(8192)],
];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}
/**
 * Median CPU ns (user + system) per call of `fn(i)` over `rounds` rounds of `n` calls: CPU time,
 * not wall time, since the other processes on the machine take turns on its cores.
 */
function measure(n, fns, rounds = 9) {
  for (const fn of fns) for (let i = 0; i < n; i++) fn(i); // warm-up
  const times = fns.map(() => []);
  // Rounds interleaved, so that a burst of load on the machine hits both sides alike.
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, f) => {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) fn(i);
      const c = process.cpuUsage(c0);
      times[f].push(((c.user + c.system) * 1000) / n);
    });
  }
  return times.map(median);
}

const context = protocol.canonicalContext('web-server', 'box', { pid: 4242, uid: 1000, gid: 1000, comm: 'web', exe: '/usr/bin/web' });
const result = { level: 0, end: 0, idStart: 0, idEnd: 0 };
const scanned = { level: 0, idStart: 0, idEnd: 0 };
let arena = Buffer.allocUnsafeSlow(1 << 20);
let at = 0;
const rows = [];
for (const [name, make] of shapes) {
  const lines = Array.from({ length: 2048 }, () => Buffer.from(make()));
  const bytes = lines[0].length;
  const n = Math.max(2000, Math.min(100_000, Math.floor(40_000_000 / bytes)));
  // Old: lines the old scanner takes are kept as they are; the rest take parse → check → complete → encode.
  const [before, after] = measure(n, [
    (i) => {
      const line = lines[i & 2047];
      if (old.scanCanonicalEntry(line, scanned)) return;
      const decoded = protocol.decodeEntryLine(line);
      if (!decoded.ok) throw new Error(decoded.message);
      Buffer.from(protocol.encodeEntry(core.completeEntry(decoded.entry, { daemon: 'web-server', hostname: 'box' }).entry));
    },
    // New: validated and copied into the arena in canonical form, with the peer last.
    (i) => {
      const line = lines[i & 2047];
      if (arena.length - at < protocol.canonicalRoom(line.length, context)) {
        arena = Buffer.allocUnsafeSlow(1 << 20);
        at = 0;
      }
      if (!protocol.canonicalizeLine(line, context, arena, at, result)) throw new Error(`slow path: ${line}`);
      at = result.end;
    },
  ]);
  rows.push({
    shape: name,
    bytes,
    'old ns/line': Math.round(before),
    'new ns/line': Math.round(after),
    'new ns/KB': Math.round((after * 1024) / bytes),
    ratio: +(before / after).toFixed(2),
  });
}
console.table(rows);

// The dedupe window: distinct UUIDs through a 65536-id window (steady state: every add evicts).
const ids = Buffer.from(Array.from({ length: 1 << 18 }, () => randomUUID()).join(''));
const windows = [new old.IdWindow(65536), new core.IdWindow(65536)];
for (const w of windows) for (let i = 0; i < 200_000; i++) w.addBytes(ids, (i & 0x3ffff) * 36, (i & 0x3ffff) * 36 + 36);
const next = [200_000, 200_000];
const adds = measure(
  200_000,
  windows.map((w, k) => () => {
    const j = next[k]++ & 0x3ffff;
    w.addBytes(ids, j * 36, j * 36 + 36);
  }),
);
const dedupe = [
  { window: `IdWindow (${ref})`, 'ns/add': Math.round(adds[0]) },
  { window: 'IdWindow (this tree)', 'ns/add': Math.round(adds[1]) },
];
console.table(dedupe);
console.log(
  `load average: ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} (shared 2-core machine: CPU-time medians of 9 rounds; compare ratios)`,
);

#!/usr/bin/env node
// `pnpm bench`: runs every case in bench/cases (or the ones named on the command line) and
// prints one table per case, after a header that names the machine. Cases measure their own
// baselines in the same run, because these machines are noisy: read the ratios and medians.
// A benchmark prints figures; it never fails for being slow.
//
//   node bench/run.mjs [CASE...] [--quick] [--rows shapes,conns,outputs,settings] [--server-dir PATH]
//                      [--compare-dir PATH] [--profile]
//
// The options are handed to every case (`ctx.options`); `ingest` reads them all (see README.md).
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { cpus, totalmem, release, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const FLAGS = { '--quick': 'boolean', '--profile': 'boolean', '--rows': 'value', '--server-dir': 'value', '--compare-dir': 'value' };

/** Case names and options from the command line; a bad option exits 2 with one line saying why. */
function parseArgs(argv) {
  const names = [];
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      names.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const kind = FLAGS[flag];
    if (kind === undefined) fail(`unknown option ${flag} (expected ${Object.keys(FLAGS).join(', ')})`);
    const key = flag.slice(2).replace(/-(\w)/g, (_, c) => c.toUpperCase());
    if (kind === 'boolean') {
      if (eq !== -1) fail(`${flag} takes no value`);
      options[key] = true;
    } else {
      const value = eq !== -1 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '' || (eq === -1 && value.startsWith('--'))) fail(`${flag} needs a value`);
      options[key] = value;
    }
  }
  if (options.rows !== undefined) {
    const groups = ['shapes', 'conns', 'outputs', 'settings'];
    const bad = options.rows.split(',').filter((g) => !groups.includes(g.trim()));
    if (bad.length > 0)
      fail(`--rows ${options.rows}: unknown group ${bad.join(', ')} (expected a comma-separated list of ${groups.join(', ')})`);
  }
  for (const key of ['serverDir', 'compareDir']) {
    if (options[key] === undefined) continue;
    options[key] = resolve(options[key]);
    const cli = join(options[key], 'apps', 'server', 'dist', 'cli.js');
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (!existsSync(cli)) fail(`${flag} ${options[key]}: ${cli} is missing (build that checkout first)`);
  }
  return { names, options };
}

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

/** `git describe`-like commit of a checkout: short hash, subject, and "+ changes" when dirty. */
function commitOf(dir) {
  try {
    const line = execFileSync('git', ['-C', dir, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return `${line.length > 100 ? `${line.slice(0, 100)}…` : line}${dirty ? ' (+ uncommitted changes)' : ''}`;
  } catch {
    return '(not a git checkout)';
  }
}

const loadText = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

function machine() {
  const cpu = cpus();
  let distro = '';
  try {
    distro = execFileSync('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"'], { encoding: 'utf8' }).trim();
  } catch {
    // no /etc/os-release: the machine line just leaves the distribution out
  }
  return `${cpu.length} cores, ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${release()}, ${distro}, Node ${process.version}`;
}

export function printTable(result) {
  const { title, columns, rows, notes = [] } = result;
  const cells = [columns, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : String(c))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r) => `| ${r.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n## ${title}\n`);
  console.log(line(cells[0]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells.slice(1)) console.log(line(r));
  for (const n of notes) console.log(`\n${n}`);
}

function formatNumber(n) {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(2);
}

const { names: wanted, options } = parseArgs(process.argv.slice(2));
const files = (await readdir(join(here, 'cases'))).filter((f) => f.endsWith('.mjs')).sort();
const known = files.map((f) => f.replace(/\.mjs$/, ''));
const unknown = wanted.filter((w) => !known.includes(w));
if (unknown.length > 0) fail(`unknown case ${unknown.join(', ')} (cases: ${known.join(', ')})`);
const header = [
  `Machine: ${machine()}`,
  `Commit: ${commitOf(join(here, '..'))}`,
  ...(options.serverDir ? [`Server: ${options.serverDir} at ${commitOf(options.serverDir)}`] : []),
  ...(options.compareDir ? [`Compared with: ${options.compareDir} at ${commitOf(options.compareDir)}`] : []),
  `Date: ${new Date().toISOString()}`,
  `Load average (1/5/15 min) at start: ${loadText()}`,
];
console.log(`# LogStream benchmarks\n\n${header.join('\n')}`);
for (const file of files) {
  const name = file.replace(/\.mjs$/, '');
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const mod = await import(join(here, 'cases', file));
  const started = Date.now();
  try {
    const results = await mod.run({ name, options });
    for (const result of Array.isArray(results) ? results : [results]) printTable(result);
  } catch (error) {
    console.log(`\n## ${name}\n\nfailed to run: ${error?.stack ?? error}`);
  }
  console.log(`\n(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
console.log(`\nLoad average (1/5/15 min) at end: ${loadText()}`);

#!/usr/bin/env node
// `pnpm bench`: runs every case in bench/cases (or the ones named on the command line) and
// prints one table per case, after a header that names the machine. Cases measure their own
// baselines in the same run, because these machines are noisy: read the ratios and medians.
// A benchmark prints figures; it never fails for being slow.
import { readdir } from 'node:fs/promises';
import { cpus, totalmem, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));

function machine() {
  const cpu = cpus();
  let distro = '';
  try {
    distro = execFileSync('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"'], { encoding: 'utf8' }).trim();
  } catch {
    // no /etc/os-release: the machine line just leaves the distribution out
  }
  return `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${release()}, ${distro}, Node ${process.version}`;
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

const wanted = process.argv.slice(2);
const files = (await readdir(join(here, 'cases'))).filter((f) => f.endsWith('.mjs')).sort();
console.log(`# LogStream benchmarks\n\nMachine: ${machine()}\nDate: ${new Date().toISOString()}`);
for (const file of files) {
  const name = file.replace(/\.mjs$/, '');
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const mod = await import(join(here, 'cases', file));
  const started = Date.now();
  try {
    const results = await mod.run({ name });
    for (const result of Array.isArray(results) ? results : [results]) printTable(result);
  } catch (error) {
    console.log(`\n## ${name}\n\nfailed to run: ${error?.stack ?? error}`);
  }
  console.log(`\n(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

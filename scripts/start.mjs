#!/usr/bin/env node
// `pnpm start [--] [server options]`: runs the built server, building first only the packages of
// the server whose sources are newer than their build (and the packages that depend on them).
// pnpm hands a literal `--` through to the script: it is dropped here, so `pnpm start -- -s X`
// and `pnpm start -s X` both reach the server as `-s X`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const SERVER = '@logstream/server';

/** name → { dir, deps }, for every workspace package. */
function workspace() {
  const found = new Map();
  for (const group of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, group))) {
      const dir = join(root, group, name);
      if (!existsSync(join(dir, 'package.json'))) continue;
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const deps = { ...pkg.dependencies, ...pkg.optionalDependencies };
      found.set(pkg.name, { dir, deps: Object.keys(deps).filter((d) => String(deps[d]).startsWith('workspace:')) });
    }
  }
  return found;
}

/** Newest (or oldest) mtime of the files under `path`, in ms; undefined when there are none. */
function mtime(path, pick) {
  if (!existsSync(path)) return undefined;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let best;
  for (const entry of readdirSync(path)) {
    const t = mtime(join(path, entry), pick);
    if (t !== undefined) best = best === undefined ? t : pick(best, t);
  }
  return best;
}

/** True when a source, the manifest or a build config changed after the oldest file of dist/. */
function stale(dir) {
  const built = mtime(join(dir, 'dist'), Math.min);
  if (built === undefined) return true;
  const sources = ['src', 'package.json', 'tsup.config.ts', 'tsconfig.json'].map((f) => mtime(join(dir, f), Math.max) ?? 0);
  return Math.max(...sources) > built;
}

const packages = workspace();
// The server and everything it depends on, dependencies first.
const order = [];
const visit = (name) => {
  if (order.includes(name) || !packages.has(name)) return;
  for (const dep of packages.get(name).deps) visit(dep);
  order.push(name);
};
visit(SERVER);
const rebuild = new Set();
for (const name of order) {
  if (stale(packages.get(name).dir) || packages.get(name).deps.some((d) => rebuild.has(d))) rebuild.add(name);
}
if (rebuild.size > 0) {
  console.error(`pnpm start: building ${[...rebuild].join(', ')} (sources changed since the last build)`);
  const execpath = process.env.npm_execpath;
  const [cmd, pre] = execpath?.includes('pnpm') ? [process.execPath, [execpath]] : ['npx', ['-y', 'pnpm@10.34.8']];
  const filters = [...rebuild].flatMap((name) => ['--filter', name]);
  const built = spawnSync(cmd, [...pre, ...filters, 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const args = process.argv.slice(2);
if (args[0] === '--') args.shift();
const server = spawn(process.execPath, ['--max-semi-space-size=4', join(packages.get(SERVER).dir, 'dist', 'cli.js'), ...args], {
  stdio: 'inherit',
});
// Signals sent to this process (systemctl, kill PID) reach the server too.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => server.kill(signal));
server.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));

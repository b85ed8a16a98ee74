// Receivers the end-to-end cases feed: the LogStream server (json file backend) and the peers
// it is compared with. Each target starts on a fresh directory and reports where it listens and
// where its output goes; `skip()` names why a target cannot run on this machine, if it cannot.
// Receivers run with the soft open-file limit raised to the hard one (`ulimit -n`), so that a
// run with 1,000 connections is not cut short by a low default.
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from './procs.mjs';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(benchDir, '..');

/** `apps/server/dist/cli.js` of this checkout, or of the checkout `serverDir` (`--server-dir`). */
export function serverCliPath(serverDir) {
  return join(serverDir === undefined ? repoRoot : resolve(serverDir), 'apps', 'server', 'dist', 'cli.js');
}

const serverCli = serverCliPath();

/**
 * `startProcess` with the soft open-file limit raised to the hard one first: `sh` raises it and
 * execs the command, so the PID is the command's.
 */
export function startWithFileLimit(name, cmd, args, options) {
  const raise = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 1048576 2>/dev/null || true; exec "$0" "$@"';
  return startProcess(name, '/bin/sh', ['-c', raise, cmd, ...args], options);
}

function fillTemplate(name, dir, sock, out) {
  const text = readFileSync(join(benchDir, 'peers', name), 'utf8');
  return text.replaceAll('@SOCK@', sock).replaceAll('@OUT@', out).replaceAll('@DIR@', dir);
}

/**
 * Writes a server.toml for a bench run: the spec's defaults, except the socket and output
 * directory, and a max_file_size large enough that one run never rotates (the default, 100 MB,
 * would split a 213 MB run over two files). `serverSettings` go into the `[server]` table, `extra`
 * is appended verbatim.
 */
function writeServerConfig(dir, extra = '', serverSettings = '') {
  const sock = join(dir, 'in.sock');
  const outDir = join(dir, 'out');
  mkdirSync(outDir, { recursive: true });
  const config = join(dir, 'server.toml');
  writeFileSync(
    config,
    `[server]\nsocket_path = ${JSON.stringify(sock)}\n${serverSettings}\n[storage]\noutput_directory = ${JSON.stringify(outDir)}\nmax_file_size = 8589934592\n${extra}`,
  );
  return { config, sock, out: join(outDir, 'current.log') };
}

/**
 * Node flags the server runs with in the bench: those the systemd unit (apps/server/deploy) and
 * `pnpm start` give it. LOGSTREAM_NODE_FLAGS overrides them (`LOGSTREAM_NODE_FLAGS= pnpm bench`
 * runs the server with none).
 */
export const SERVER_NODE_FLAGS = (process.env.LOGSTREAM_NODE_FLAGS ?? '--max-semi-space-size=4').split(' ').filter(Boolean);

/**
 * Starts `logstream-server -c DIR/server.toml` (json file backend, sync none: the defaults), from
 * this checkout or from the checkout `serverDir`; `serverSettings` are lines of its `[server]`
 * table.
 */
export function startLogstream(dir, extraConfig = '', nodeFlags = SERVER_NODE_FLAGS, { serverDir, serverSettings } = {}) {
  const cli = serverCliPath(serverDir);
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`pnpm build\` first`);
  const { config, sock, out } = writeServerConfig(dir, extraConfig, serverSettings);
  const proc = startWithFileLimit('logstream-server', process.execPath, [...nodeFlags, cli, '-c', config], { logDir: dir });
  return { proc, sock, out };
}

function findSyslogNg() {
  if (existsSync('/usr/sbin/syslog-ng')) return { bin: '/usr/sbin/syslog-ng', env: process.env, args: [] };
  // A private unpack (`apt-get download syslog-ng-core && dpkg -x … ROOT`): syslog-ng-core
  // conflicts with rsyslog on Debian, so it is never installed system-wide for the bench.
  const root = process.env.SYSLOG_NG_ROOT;
  if (root && existsSync(join(root, 'usr/sbin/syslog-ng'))) {
    const libDir = join(root, 'usr/lib/syslog-ng');
    const modDir = readdirSync(libDir).find((d) => /^\d+\.\d+$/.test(d));
    return {
      bin: join(root, 'usr/sbin/syslog-ng'),
      env: { ...process.env, LD_LIBRARY_PATH: libDir },
      args: modDir ? [`--module-path=${join(libDir, modDir)}`] : [],
    };
  }
  return undefined;
}

/**
 * Targets of the ingest case (the receivers compared with LogStream in the order of their columns). `handshake`: fed with the `daemon-name\n` line (only LogStream
 * speaks it); `acks`: the target sends ack frames the load generator waits for.
 */
export const ingestTargets = [
  {
    key: 'logstream',
    label: 'logstream-server (json file)',
    handshake: true,
    acks: true,
    verbatim: true,
    skip: () => (existsSync(serverCli) ? undefined : `${serverCli} is missing (run pnpm build)`),
    start: (dir) => startLogstream(dir),
  },
  {
    key: 'rsyslog-json',
    label: 'rsyslog json (imptcp→mmjsonparse→omfile)',
    short: 'rsyslog-json',
    handshake: false,
    acks: false,
    skip: () =>
      existsSync('/usr/sbin/rsyslogd')
        ? undefined
        : 'rsyslog-json skipped: /usr/sbin/rsyslogd is missing (node scripts/ensure-system-deps.mjs installs it)',
    start(dir) {
      const sock = join(dir, 'in.sock');
      const out = join(dir, 'out.jsonl');
      const conf = join(dir, 'rsyslog.conf');
      writeFileSync(conf, fillTemplate('rsyslog-json.conf', dir, sock, out));
      const proc = startWithFileLimit('rsyslogd', '/usr/sbin/rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslog.pid')], {
        logDir: dir,
      });
      return { proc, sock, out };
    },
  },
  {
    key: 'naive-node',
    label: 'naive Node (readline+JSON)',
    short: 'naive Node',
    handshake: false,
    acks: false,
    skip: () => undefined,
    start(dir) {
      const sock = join(dir, 'in.sock');
      const out = join(dir, 'out.jsonl');
      const proc = startWithFileLimit('naive-node', process.execPath, [join(benchDir, 'naive-node-server.mjs'), sock, out], {
        logDir: dir,
      });
      return { proc, sock, out };
    },
  },
  {
    key: 'syslog-ng-json',
    label: 'syslog-ng json (json-parser→format-json)',
    short: 'syslog-ng-json',
    handshake: false,
    acks: false,
    skip: () =>
      findSyslogNg()
        ? undefined
        : 'syslog-ng-json skipped: syslog-ng is not installed (it conflicts with rsyslog on Debian, so the bench does not install it; set SYSLOG_NG_ROOT to a `dpkg -x` of syslog-ng-core to include it)',
    start(dir) {
      const sng = findSyslogNg();
      const sock = join(dir, 'in.sock');
      const out = join(dir, 'out.jsonl');
      const conf = join(dir, 'syslog-ng.conf');
      writeFileSync(conf, fillTemplate('syslog-ng-json.conf', dir, sock, out));
      const args = [
        '-F',
        ...sng.args,
        '-f',
        conf,
        '-p',
        join(dir, 'syslog-ng.pid'),
        '-R',
        join(dir, 'syslog-ng.persist'),
        '-c',
        join(dir, 'syslog-ng.ctl'),
      ];
      const proc = startWithFileLimit('syslog-ng', sng.bin, args, { logDir: dir, env: sng.env });
      return { proc, sock, out };
    },
  },
];

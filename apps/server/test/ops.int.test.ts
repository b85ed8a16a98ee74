import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { chmod, copyFile, cp, mkdir, readFile, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { LogClient } from '@logstream/client';
import { SERVER_CLI as CLI, readEntries, runCli, startServer, until, useServerDir, type ServerProcess } from '@logstream/test-support';

const DEPLOY = join(dirname(fileURLToPath(import.meta.url)), '..', 'deploy');

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

function serve(args: string[], env?: NodeJS.ProcessEnv): Promise<ServerProcess> {
  return startServer(args, env === undefined ? {} : { env });
}

/** A group of this machine other than our own primary group: [name, gid]. */
function otherGroup(): [string, number] {
  const mine = process.getgid?.() ?? 0;
  for (const line of execFileSync('getent', ['group'], { encoding: 'utf8' }).split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && gid && Number(gid) !== mine && /^[a-z][\w-]*$/.test(name)) return [name, Number(gid)];
  }
  throw new Error('no second group on this machine');
}

/** Sends one raw line and waits for the server's answer to it. */
async function sendRaw(path: string, text: string, answered: string): Promise<string> {
  const socket = createConnection(path);
  let got = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (got += d));
  socket.write(text);
  await until(() => got.includes(answered), 15_000, answered);
  socket.destroy();
  return got;
}

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR|DEBUG) logstream-server: \S.*$/;

describe('socket permissions', () => {
  it('gives the socket socket_mode (default 0660) and socket_group, by name or by gid', async () => {
    const [group, gid] = otherGroup();
    await writeFile(join(dir, 'a.toml'), `[server]\nsocket_mode = "0600"\nsocket_group = "${group}"\n`);
    const a = await serve(['-c', join(dir, 'a.toml'), '-s', sock, '-o', out]);
    const st = await stat(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o7777).toBe(0o600);
    expect(st.gid).toBe(gid);
    await a.stop();

    await writeFile(join(dir, 'b.toml'), `[server]\nsocket_group = "${gid}"\n`);
    await serve(['-c', join(dir, 'b.toml'), '-s', sock, '-o', out]);
    const st2 = await stat(sock);
    expect(st2.mode & 0o7777).toBe(0o660);
    expect(st2.gid).toBe(gid);
  });

  it('makes a bad socket_mode a config error naming the key, and an unknown group a one-line start-up error', async () => {
    await writeFile(join(dir, 'bad.toml'), '[server]\nsocket_mode = "999"\n');
    const bad = await runCli(['--validate', '-c', join(dir, 'bad.toml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('server.socket_mode: expected an octal mode such as "0660", got "999"');
    await writeFile(join(dir, 'int.toml'), '[server]\nsocket_mode = 660\n');
    const int = await runCli(['--validate', '-c', join(dir, 'int.toml')]);
    expect(int.code).toBe(1);
    expect(int.stderr).toContain('server.socket_mode: expected string, got 660');

    // --validate shows the mode as it is written.
    await writeFile(join(dir, 'ok.toml'), '[server]\nsocket_mode = "0600"\n');
    const ok = await runCli(['--validate', '-c', join(dir, 'ok.toml')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('"socket_mode": "0600"');

    await writeFile(join(dir, 'grp.toml'), '[server]\nsocket_group = "no-such-group-ls"\n');
    const grp = await runCli(['-c', join(dir, 'grp.toml'), '-s', sock, '-o', out]);
    expect(grp.code).toBe(1);
    const lines = grp.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(LINE);
    expect(lines[0]).toContain('ERROR logstream-server: cannot start: server.socket_group: no such group "no-such-group-ls"');
    await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('deployment files', () => {
  it('validates deploy/server.toml with exit 0', async () => {
    const r = await runCli(['--validate', '-c', join(DEPLOY, 'server.toml')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('server.toml: valid');
  });

  it('agree with each other: socket in the RuntimeDirectory, output in ReadWritePaths and in logrotate.conf', async () => {
    const toml = parseToml(await readFile(join(DEPLOY, 'server.toml'), 'utf8')) as {
      server: { socket_path: string };
      storage: { output_directory: string };
    };
    const unit = await readFile(join(DEPLOY, 'logstream.service'), 'utf8');
    const setting = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1] as string);
    for (const key of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome']) expect(setting(key)).toEqual(['true']);
    expect(setting('ProtectSystem')).toEqual(['strict']);
    expect(setting('ExecStart')[0]).toMatch(/logstream-server -c \/etc\/logstream\/server\.toml$/);
    expect(setting('ExecReload')[0]).toContain('-HUP $MAINPID');
    expect(dirname(toml.server.socket_path)).toBe(`/run/${setting('RuntimeDirectory')[0]}`);
    expect(setting('ReadWritePaths')[0]?.split(' ')).toContain(toml.storage.output_directory);
    // PrivateTmp=true hides the service's /tmp: the socket must not be there.
    expect(toml.server.socket_path.startsWith('/tmp/')).toBe(false);
    const logrotate = await readFile(join(DEPLOY, 'logrotate.conf'), 'utf8');
    expect(logrotate).toContain(`${toml.storage.output_directory}/current.log {`);
    expect(logrotate).toMatch(/^\s*postrotate$/m);
    expect(logrotate).toMatch(/^\s*delaycompress$/m);
    expect(logrotate).not.toMatch(/^\s*copytruncate/m);
  });
});

/** systemd-analyze, when this machine has it (scripts/ensure-system-deps.mjs installs systemd). */
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

/**
 * `systemd-analyze verify` of deploy/logstream.service in a root directory where
 * logstream-server is where `npm install -g` with this prefix puts it: $PREFIX/bin, a link to
 * the package's cli.js. Returns its exit code and output.
 */
async function verifyUnit(root: string, prefix: string): Promise<{ code: number; output: string }> {
  await mkdir(join(root, 'etc', 'systemd', 'system'), { recursive: true });
  await mkdir(join(root, 'usr', 'lib', 'systemd'), { recursive: true });
  await mkdir(join(root, 'usr', 'bin'), { recursive: true });
  // The targets a service depends on by default, and /bin/kill for ExecReload.
  await cp('/usr/lib/systemd/system', join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true });
  await symlink('usr/bin', join(root, 'bin'));
  await copyFile('/bin/kill', join(root, 'usr', 'bin', 'kill'));
  const lib = join(root, prefix, 'lib', 'node_modules', '@logstream', 'server');
  await mkdir(join(lib, 'dist'), { recursive: true });
  await copyFile(CLI, join(lib, 'dist', 'cli.js'));
  await chmod(join(lib, 'dist', 'cli.js'), 0o755);
  await mkdir(join(root, prefix, 'bin'), { recursive: true });
  await symlink(
    join(prefix, 'lib', 'node_modules', '@logstream', 'server', 'dist', 'cli.js'),
    join(root, prefix, 'bin', 'logstream-server'),
  );
  const unit = join(root, 'etc', 'systemd', 'system', 'logstream.service');
  await copyFile(join(DEPLOY, 'logstream.service'), unit);
  try {
    const output = execFileSync(SYSTEMD_ANALYZE as string, ['verify', `--root=${root}`, unit], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, output };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, output: `${e.stdout}${e.stderr}` };
  }
}

describe('the systemd unit', () => {
  it.skipIf(SYSTEMD_ANALYZE === undefined && !process.env.CI)(
    'passes systemd-analyze verify where a global npm install puts logstream-server: /usr/bin (Debian) and /usr/local/bin',
    async () => {
      expect(SYSTEMD_ANALYZE, 'systemd-analyze (Debian package systemd) is needed in CI').toBeDefined();
      for (const prefix of ['/usr', '/usr/local']) {
        const r = await verifyUnit(join(dir, `root${prefix.replaceAll('/', '-')}`), prefix);
        expect(r, prefix).toEqual({ code: 0, output: '' });
      }
    },
  );
});

describe('SIGHUP', () => {
  it('reopens current.log after a rename: later entries land in a new current.log, none lost or doubled', async () => {
    const server = await serve(['-s', sock, '-o', out]);
    const live = join(out, 'current.log');
    const moved = join(out, 'current.log.1');
    const client = await LogClient.withConfig({ socketPath: sock, daemonName: 'hup', autoReconnect: false });
    for (let i = 0; i < 10; i++) client.info(`a${i}`);
    await client.flush();

    await rename(live, moved);
    // Entries keep coming while the server reopens: each must land in exactly one file.
    for (let i = 0; i < 100; i++) {
      client.info(`b${i}`);
      if (i === 50) server.proc.kill('SIGHUP');
      await new Promise((r) => setImmediate(r));
    }
    await until(() => server.stderr().includes('SIGHUP: output files reopened'), 15_000, 'reopen');
    for (let i = 0; i < 10; i++) client.info(`c${i}`);
    await client.flush();
    await client.close();

    const before = (await readEntries(moved)).map((e) => e.message as string);
    const after = (await readEntries(live)).map((e) => e.message as string);
    const all = [
      ...Array.from({ length: 10 }, (_, i) => `a${i}`),
      ...Array.from({ length: 100 }, (_, i) => `b${i}`),
      ...Array.from({ length: 10 }, (_, i) => `c${i}`),
    ];
    // One connection, one writer: the renamed file holds a prefix, the new one the rest.
    expect([...before, ...after]).toEqual(all);
    expect(before.slice(0, 10)).toEqual(all.slice(0, 10));
    expect(after.slice(-10)).toEqual(all.slice(-10));
    expect(server.stderr()).toContain('SIGHUP: reopening output files');
    const stopped = await server.stop('SIGTERM');
    expect(stopped.code).toBe(0);
  });
});

describe('start-up and debug output', () => {
  it('prints one start-up line naming the socket, backends and output paths; -v adds a debug line per refused entry', async () => {
    const server = await serve(['-v', '-s', sock, '-o', out]);
    const first = server.stderr().split('\n')[0] as string;
    expect(first).toMatch(LINE);
    expect(first).toContain(
      `INFO  logstream-server: listening on ${sock} (pid ${server.proc.pid}, config built-in defaults); backends: file (${out}/current.log, json)`,
    );
    await sendRaw(sock, '{"message": oops}\n', '"type":"ack"');
    await until(() => server.stderr().includes('DEBUG'), 15_000, 'debug line');
    const debug = server
      .stderr()
      .split('\n')
      .filter((l) => l.includes('DEBUG'));
    expect(debug).toHaveLength(1);
    expect(debug[0]).toMatch(LINE);
    expect(debug[0]).toContain('INVALID_JSON');
    await server.stop();
    for (const line of server.stderr().trim().split('\n')) expect(line).toMatch(LINE);
  });

  it('turns debug output on with LOGSTREAM_LOG=debug, and keeps it off by default', async () => {
    const quiet = await serve(['-s', sock, '-o', out]);
    await sendRaw(sock, '{"message":"x","level":9}\n', '"type":"ack"');
    await quiet.stop();
    expect(quiet.stderr()).not.toContain('DEBUG');

    const loud = await serve(['-s', sock, '-o', out], { LOGSTREAM_LOG: 'debug' });
    await sendRaw(sock, '{"message":"x","level":9}\n', '"type":"ack"');
    await until(() => loud.stderr().includes('DEBUG'), 15_000, 'debug line');
    expect(loud.stderr()).toMatch(/DEBUG logstream-server: client: INVALID_ENTRY: .*level/);
  });

  it('reports a failed start as one error line and exit code 1', async () => {
    const r = await runCli(['-s', join(dir, 'missing', 'dir', 's.sock'), '-o', out]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(LINE);
    expect(lines[0]).toContain(
      `ERROR logstream-server: cannot start: server.socket_path: the directory ${join(dir, 'missing', 'dir')} does not exist`,
    );
  });
});

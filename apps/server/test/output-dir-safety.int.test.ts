import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SERVER_CLI as CLI, plantNobodyLink, useServerDir } from '@logstream/test-support';

// The server runs as root and its output directory is a place other users must not be able to
// point elsewhere: a planted link is never followed, and a directory another user may write to
// is refused at start, with one line saying why, before any file in it is opened.

// Root-only tests (runuser -u nobody) skip elsewhere but run in CI, where a skip would hide a gap.
const isRoot = process.geteuid?.() === 0;
const VICTIM = 'precious\nno final newline';

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

/** Runs the server; it must exit by itself within 15 s (a server that starts is killed and fails the test). */
function runServer(args: string[]): Promise<{ code: number | null; stderr: string; started: boolean }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let started = false;
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('listening on')) {
        started = true;
        proc.kill('SIGKILL');
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, started });
    });
  });
}

describe('output directory safety at start', () => {
  it('current.log planted as a link to a file without a final newline: start refused in one line, the target byte-identical', async () => {
    const victim = join(dir, 'victim');
    await writeFile(victim, VICTIM);
    await mkdir(out);
    await symlink(victim, join(out, 'current.log'));
    const run = await runServer(['-s', sock, '-o', out]);
    expect(run.started).toBe(false);
    expect(run.code).not.toBe(0);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /ERROR .*cannot start: backend file failed to open: open failed for .*\/out\/current\.log: it is a symbolic link; refusing to follow it/,
    );
    expect(await readFile(victim, 'utf8')).toBe(VICTIM);
    expect(await readlink(join(out, 'current.log'))).toBe(victim);
  });

  it.skipIf(!isRoot && !process.env.CI)(
    'an output directory made by nobody with a link to a root-only 0600 file: start refused, the file byte-identical',
    async () => {
      const secret = await plantNobodyLink(dir, out, VICTIM);
      const run = await runServer(['-s', sock, '-o', out]);
      expect(run.started).toBe(false);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/cannot start: .*unsafe output directory: owned by uid 65534/);
      expect(await readFile(secret, 'utf8')).toBe(VICTIM);
      expect((await lstat(secret)).mode & 0o7777).toBe(0o600);
    },
  );
});

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogClient } from '@logstream/client';
import { SERVER_CLI as CLI, until, useServerDir } from '@logstream/test-support';
import { memoryOf } from './fixtures/fault-helpers';

// Memory under hostile connections (issue 13, item 5): the server's peak RSS (VmHWM, read from
// /proc) stays under 200 MiB, and a well-behaved client is still served afterwards.

const ATTACK = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'conn-attack.mjs');
const BOUND_MIB = 200;
// Thousands of connections: the server and the attacker each get this many file descriptors.
const FDS = 8192;

let dir: string;
let sock: string;
let out: string;
const procs: ChildProcess[] = [];
const clients: LogClient[] = [];

useServerDir((paths) => ({ dir, sock, out } = paths));
afterEach(async () => {
  await Promise.all(
    procs.splice(0).map(async (p) => {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGKILL');
        await new Promise((r) => p.once('exit', r));
      }
    }),
  );
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** Runs `argv` under `ulimit -n FDS` (a shell that execs it: same pid), output piped. */
function withFds(argv: string[]): ChildProcess {
  const proc = spawn('sh', ['-c', `ulimit -n ${FDS} && exec "$@"`, 'sh', ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  procs.push(proc);
  return proc;
}

/** Starts the built server (LS_FAULTS_CLI: another build) with `config`; resolves once it listens. */
async function serve(config: string): Promise<{ pid: number; stderr: () => string; proc: ChildProcess }> {
  await writeFile(join(dir, 'c.toml'), config);
  const proc = withFds([process.execPath, process.env.LS_FAULTS_CLI ?? CLI, '-c', join(dir, 'c.toml'), '-s', sock, '-o', out]);
  let err = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  proc.stdout?.resume();
  await until(() => err.includes('listening on') || proc.exitCode !== null, 15_000, 'server start-up line');
  if (proc.exitCode !== null) throw new Error(`server exited at start: ${err}`);
  return { pid: proc.pid as number, stderr: () => err, proc };
}

type Report = { connections?: number; closed?: number; codes?: Record<string, number>; cycles?: number };

/**
 * Runs the attacker fixture; resolves with its first report. `again()` asks a partial-line
 * attacker (which keeps its connections open) for a new one.
 */
async function attack(args: (string | number)[]): Promise<{ report: Report; again: () => Promise<Report>; proc: ChildProcess }> {
  const proc = withFds([process.execPath, ATTACK, ...args.map(String)]);
  const reports: Report[] = [];
  let text = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    text += d;
    let nl: number;
    while ((nl = text.indexOf('\n')) !== -1) {
      reports.push(JSON.parse(text.slice(0, nl)) as Report);
      text = text.slice(nl + 1);
    }
  });
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const next = async (count: number) => {
    await until(() => reports.length >= count || proc.exitCode !== null, 170_000, 'the attacker report');
    if (reports.length < count) throw new Error(`attacker exited ${proc.exitCode}: ${err}`);
    return reports[count - 1] as Report;
  };
  const report = await next(1);
  return {
    report,
    proc,
    again: () => {
      proc.stdin?.write('report\n');
      return next(reports.length + 1);
    },
  };
}

/** A well-behaved client logs one entry and sees it acknowledged. */
async function goodClientServed(): Promise<void> {
  const client = await LogClient.withConfig({ socketPath: sock, daemonName: 'good', timeout: 60_000 });
  clients.push(client);
  client.info('after the attack');
  await client.flush();
  expect(client.stats.acked).toBe(1);
}

async function expectBounded(pid: number, what: string): Promise<void> {
  const mem = await memoryOf(pid);
  console.info(`${what}: server VmHWM ${mem.peakMiB.toFixed(1)} MiB, VmRSS now ${mem.rssMiB.toFixed(1)} MiB`);
  expect(mem.peakMiB).toBeLessThan(BOUND_MIB);
}

describe('server memory under hostile connections', () => {
  it('2,000 connections each holding a 64 KiB line that never ends: VmHWM < 200 MiB, the largest holders refused', async () => {
    // max_connections raised so that all 2,000 are served (the default refuses half at once),
    // with one slot left for the good client.
    const server = await serve('[server]\nmax_connections = 2001\n');
    const { proc, again } = await attack(['partial', sock, 2000, 64 * 1024]);
    await goodClientServed();
    const report = await again();
    await expectBounded(server.pid, `2000 x 64 KiB partial lines (${JSON.stringify(report)})`);
    // The bound on unfinished lines is what held memory down: holders were refused.
    expect(report.codes?.BUFFER_FULL).toBeGreaterThan(0);
    proc.stdin?.end();
    expect(server.proc.exitCode).toBe(null);
  }, 180_000);

  it('300 connections each holding a 1 MiB line (max_line_bytes 1 MiB): VmHWM < 200 MiB', async () => {
    const server = await serve('[server]\nmax_line_bytes = 1048576\n');
    const { proc, again } = await attack(['partial', sock, 300, 1024 * 1024]);
    await goodClientServed();
    const report = await again();
    await expectBounded(server.pid, `300 x 1 MiB partial lines (${JSON.stringify(report)})`);
    expect(report.codes?.BUFFER_FULL).toBeGreaterThan(0);
    proc.stdin?.end();
    expect(server.proc.exitCode).toBe(null);
  }, 180_000);

  it('connect/abort churn (100,000 cycles or 60 s) on the default config: VmHWM < 200 MiB', async () => {
    const server = await serve('');
    const { report } = await attack(['churn', sock, 100_000, 60, 64]);
    expect(report.cycles).toBeGreaterThan(1000);
    await goodClientServed();
    await expectBounded(server.pid, `connect/abort churn (${JSON.stringify(report)})`);
  }, 180_000);
});

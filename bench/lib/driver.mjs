// Runs lib/client-driver.mjs (the @logstream/client side of the client and flood cases) against a
// LogStream server the case started, and measures the server while it runs.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuWaitUs, errorLine, procStats, startProcess, stopProcess, waitForSocket } from './procs.mjs';

const driver = join(dirname(fileURLToPath(import.meta.url)), 'client-driver.mjs');

/**
 * Waits until `server` (from `startLogstream`) listens and 200 ms more, then runs
 * `client-driver.mjs MODE SOCK …rest` for `args` = [MODE, …rest] with its output in `dir`, and
 * `during()` beside it when given. The driver is stopped after `timeoutMs`, or as soon as the
 * server exits (its clients would otherwise wait for acks until the timeout), and always before
 * this returns. Throws when the server exited, the driver failed or `during()` threw. Returns
 * the driver's result (its last stdout line, parsed), what `during()` resolved with, the server's
 * CPU seconds over the run and its peak RSS (VmHWM) after it, and the machine's CPU wait share
 * over the run (NaN without /proc/pressure/cpu). The server is left running for the caller.
 */
export async function runClientDriver(server, dir, args, { timeoutMs = 120_000, during } = {}) {
  await waitForSocket(server.sock, server.proc);
  await sleep(200);
  const before = procStats(server.proc.pid);
  const waitBefore = cpuWaitUs();
  const startedAt = performance.now();
  const [mode, ...rest] = args;
  const client = startProcess('client-driver', process.execPath, [driver, mode, server.sock, ...rest.map(String)], { logDir: dir });
  const timer = setTimeout(() => void stopProcess(client, 1000), timeoutMs);
  // A server that dies mid-run would leave the clients waiting for acks until the timeout.
  void server.proc.exited.then(() => stopProcess(client, 1000));
  try {
    const [duringResult, exit] = await Promise.all([during?.(), client.exited]);
    const after = procStats(server.proc.pid);
    const waitAfter = cpuWaitUs();
    const wallMs = performance.now() - startedAt;
    if (server.proc.exit)
      throw new Error(`logstream-server exited during the run (${JSON.stringify(server.proc.exit)}): ${errorLine(server.proc.stderrPath)}`);
    if (exit.code !== 0)
      throw new Error(
        `client driver ${exit.signal ? `killed (${exit.signal}, timeout ${timeoutMs / 1000} s)` : `exited ${exit.code}`}: ${errorLine(client.stderrPath)}`,
      );
    return {
      result: JSON.parse(readFileSync(client.stdoutPath, 'utf8').trim().split('\n').pop()),
      during: duringResult,
      serverCpuS: after.cpuS - before.cpuS,
      serverRssBytes: after.peakRssBytes,
      cpuWaitShare: waitBefore === undefined || waitAfter === undefined ? NaN : (waitAfter - waitBefore) / 1000 / wallMs,
    };
  } finally {
    clearTimeout(timer);
    await stopProcess(client, 1000);
  }
}

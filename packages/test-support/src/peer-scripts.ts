// Runs the start/stop scripts of the real test peers (peers/*.sh) and reads what they print.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const PEERS = join(dirname(fileURLToPath(import.meta.url)), '..', 'peers');

/** The path of a script in this package's `peers/` dir (also run by bench/). */
export function peerScript(name: string): string {
  return join(PEERS, name);
}

/** Runs `peers/<name>` and parses the `KEY=VALUE` lines it prints; throws when `required` is missing. */
export async function runStartScript(
  name: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; required: string },
): Promise<Record<string, string>> {
  const { stdout } = await execFileP('bash', [peerScript(name), ...args], {
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 180_000,
  });
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  if (env[options.required] === undefined) throw new Error(`${name} printed no ${options.required}:\n${stdout}`);
  return env;
}

/**
 * Stops the peer processes `pids` (by PID, only if their comm is `comm` and they carry our
 * marker) and removes `base` unless `keepData`. Idempotent.
 */
export async function stopPeer(comm: string, pids: readonly number[], base: string, options: { keepData?: boolean } = {}): Promise<void> {
  await execFileP('bash', [peerScript('stop-peer.sh'), comm, pids.join(' '), base], {
    encoding: 'utf8',
    env: { ...process.env, KEEP_PEER_DATA: options.keepData === true ? '1' : '0' },
  });
}

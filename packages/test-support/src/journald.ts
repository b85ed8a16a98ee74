// A private, real systemd-journald as a test peer (peers/start-journald.sh), and reading its journal.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { runStartScript, stopPeer } from './peer-scripts';

const execFileP = promisify(execFile);

/** A real systemd-journald started by `peers/start-journald.sh`. */
export interface JournaldPeer {
  pid: number;
  /** Native-protocol datagram socket. */
  socket: string;
  /** For `journalctl --directory=`. */
  directory: string;
  /** The peer's temp dir (removed by {@link stopJournald} unless `keepData`). */
  base: string;
}

/** Why a journald cannot be started here, or undefined when it can. */
export function journaldUnavailableReason(): string | undefined {
  const reason = unavailableReason();
  // In CI a real-peer suite that skips would hide a gap: a green run must mean journald ran.
  if (reason !== undefined && process.env.CI) throw new Error(`CI: the journald suites cannot run: ${reason}`);
  return reason;
}

function unavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root to run systemd-journald';
  if (!['/lib/systemd/systemd-journald', '/usr/lib/systemd/systemd-journald'].some((p) => existsSync(p))) {
    return 'systemd-journald is not installed (apt-get install systemd)';
  }
  return undefined;
}

/**
 * Starts a journald in its own temp dir, or, with `base`, starts one again in the temp dir of a
 * journald stopped with `keepData` (same socket path, same journal: a restart).
 */
export async function startJournald(options: { base?: string } = {}): Promise<JournaldPeer> {
  const env = await runStartScript('start-journald.sh', options.base === undefined ? [] : ['--base', options.base], {
    required: 'JOURNALD_PID',
  });
  const need = (key: string): string => {
    const value = env[key];
    if (value === undefined) throw new Error(`start-journald.sh printed no ${key}`);
    return value;
  };
  return {
    pid: Number(need('JOURNALD_PID')),
    socket: need('JOURNALD_SOCKET'),
    directory: need('JOURNALD_DIRECTORY'),
    base: need('JOURNALD_BASE'),
  };
}

/** Stops the peer (by its PID only) and removes its temp dir unless `keepData`. Idempotent. */
export async function stopJournald(peer: JournaldPeer, options: { keepData?: boolean } = {}): Promise<void> {
  // comm is cut to 15 characters: "systemd-journal".
  await stopPeer('systemd-journal', [peer.pid], peer.base, options);
}

/** One entry as `journalctl -o json` prints it: strings, byte arrays for binary, arrays for repeated fields. */
export type JournalRecord = Record<string, unknown>;

/** Reads the entries that match every `FIELD=value` of `matches` (`journalctl -o json --all`). */
export async function readJournal(
  peer: JournaldPeer,
  matches: readonly string[],
  options: { outputFields?: readonly string[] } = {},
): Promise<JournalRecord[]> {
  const args = ['--directory', peer.directory, '-o', 'json', '--all', '--no-pager', '-q'];
  if (options.outputFields !== undefined) args.push(`--output-fields=${options.outputFields.join(',')}`);
  args.push(...matches);
  const { stdout } = await execFileP('journalctl', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  const records: JournalRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('{')) records.push(JSON.parse(line) as JournalRecord);
  }
  return records;
}

/**
 * Polls {@link readJournal} (journald writes asynchronously) until `done(records)` holds, and
 * returns those records. Throws after `timeoutMs` with what was there: a failure, never a threshold.
 */
export async function waitForJournal(
  peer: JournaldPeer,
  matches: readonly string[],
  done: (records: JournalRecord[]) => boolean,
  options: { outputFields?: readonly string[]; timeoutMs?: number } = {},
): Promise<JournalRecord[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const records = await readJournal(peer, matches, options);
    if (done(records)) return records;
    if (Date.now() > deadline) {
      throw new Error(`journal ${peer.directory}: condition not met for ${matches.join(' ')}; ${records.length} records`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

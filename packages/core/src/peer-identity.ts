import { readFileSync, readlinkSync } from 'node:fs';
import type { PeerIdentity } from '@logstream/protocol';
import type { PeerCredentials } from './peer-credentials';

// A systemd unit as the last path segment of a cgroup: `foo.service`, `session-3.scope`.
const UNIT = /^[\w:.@\\-]+\.(service|scope)$/;

/**
 * The sender of a connection as the kernel says: SO_PEERCRED's pid, uid and gid, with `comm` and
 * `exe` from `/proc/<pid>` and `unit` from `/proc/<pid>/cgroup` when a systemd unit holds the
 * process. Read once per connection. What cannot be read (the process has exited, /proc is
 * hidden) is left out; `null` when there are no credentials at all (not Linux, no koffi).
 */
export function readPeerIdentity(credentials: PeerCredentials | undefined): PeerIdentity | null {
  if (credentials === undefined) return null;
  const { pid, uid, gid } = credentials;
  const identity: PeerIdentity = { pid, uid, gid };
  const comm = readText(`/proc/${pid}/comm`);
  if (comm !== undefined) identity.comm = comm.replace(/\n$/, '');
  try {
    identity.exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // Another user's process when we are not root, or gone: left out.
  }
  const unit = unitOf(readText(`/proc/${pid}/cgroup`));
  if (unit !== undefined) identity.unit = unit;
  return identity;
}

/**
 * The systemd unit named by a `/proc/<pid>/cgroup` text: the innermost `.service`, else the
 * innermost `.scope` (a login session, a `systemd-run --scope`); undefined outside systemd.
 */
export function unitOf(cgroup: string | undefined): string | undefined {
  if (cgroup === undefined) return undefined;
  // cgroup v2: "0::/system.slice/foo.service"; v1 lines name a controller: the systemd one counts.
  const line = cgroup.split('\n').find((l) => l.startsWith('0::')) ?? cgroup.split('\n').find((l) => l.includes(':name=systemd:'));
  if (line === undefined) return undefined;
  const segments = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1).split('/');
  let scope: string | undefined;
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i] as string;
    if (!UNIT.test(segment)) continue;
    if (segment.endsWith('.service')) return segment;
    scope ??= segment;
  }
  return scope;
}

/**
 * The key a per-sender limit counts under: the uid and the systemd unit when known (a service
 * cannot evade it by forking or reconnecting), else the uid and pid (renaming the daemon or
 * reconnecting does not change it); `unknown` without credentials. The uid is part of the key
 * because a unit name alone is not the kernel's word: any user may run a unit of its own user
 * manager named `sshd.service`, and must not so share (and exhaust) the real sshd's budget.
 */
export function senderKey(identity: PeerIdentity | null): string {
  if (identity === null) return 'unknown';
  return identity.unit !== undefined ? `uid ${identity.uid} unit ${identity.unit}` : `uid ${identity.uid} pid ${identity.pid}`;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

import { describe, expect, it } from 'vitest';
import { readPeerIdentity, senderKey, unitOf } from './peer-identity';

describe('unitOf', () => {
  it('names the innermost service of a cgroup v2 path', () => {
    expect(unitOf('0::/system.slice/nginx.service\n')).toBe('nginx.service');
    expect(unitOf('0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n')).toBe('foo.service');
  });
  it('falls back to a scope, and to nothing outside systemd', () => {
    expect(unitOf('0::/user.slice/user-1000.slice/session-3.scope\n')).toBe('session-3.scope');
    expect(unitOf('0::/\n')).toBeUndefined();
    expect(unitOf('0::/docker/4f1e2a\n')).toBeUndefined();
    expect(unitOf(undefined)).toBeUndefined();
  });
  it('reads the systemd controller of cgroup v1', () => {
    expect(unitOf('12:cpu:/\n1:name=systemd:/system.slice/cron.service\n')).toBe('cron.service');
  });
});

describe('readPeerIdentity', () => {
  it('reads this process from /proc', () => {
    const me = readPeerIdentity({ pid: process.pid, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
    expect(me).toMatchObject({ pid: process.pid, exe: process.execPath });
    expect(me?.comm).toMatch(/\S/);
  });
  it('leaves out what a gone process cannot tell, and says null without credentials', () => {
    expect(readPeerIdentity({ pid: 2 ** 22 + 1, uid: 7, gid: 8 })).toEqual({ pid: 2 ** 22 + 1, uid: 7, gid: 8 });
    expect(readPeerIdentity(undefined)).toBeNull();
  });
  it('keys a sender by uid and unit, else by uid and pid', () => {
    expect(senderKey({ pid: 5, uid: 1, gid: 1, unit: 'a.service' })).toBe('uid 1 unit a.service');
    expect(senderKey({ pid: 6, uid: 1, gid: 1, unit: 'a.service' })).toBe('uid 1 unit a.service');
    expect(senderKey({ pid: 5, uid: 1, gid: 1 })).toBe('uid 1 pid 5');
    expect(senderKey(null)).toBe('unknown');
  });
  it("a user's own unit named like a system unit is another sender", () => {
    const user = unitOf('0::/user.slice/user-1000.slice/user@1000.service/app.slice/sshd.service\n');
    const system = unitOf('0::/system.slice/sshd.service\n');
    expect(user).toBe(system);
    expect(senderKey({ pid: 9, uid: 1000, gid: 1000, unit: user })).not.toBe(senderKey({ pid: 10, uid: 0, gid: 0, unit: system }));
  });
});

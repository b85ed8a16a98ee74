#!/usr/bin/env node
// Installs the Debian packages the tests need when they are missing: rsyslog and rsyslog-gnutls
// (the real syslog peer and its TLS driver), openssl (certificates for the TLS test), systemd
// (systemd-journald and journalctl, the journald peer), lz4 and gzip (the rotation tests check
// archives with them), netcat-openbsd (nc, for the `echo … | nc -U` test), util-linux
// (unshare, which the journald peer runs in, and prlimit), jq and time (the query bench),
// nats-server (the JetStream cluster the nats backend's tests start; Debian's 2.9 has JetStream
// built in), python3 (its start script picks free ports with it) and mount (tmpfs for the ENOSPC
// suites). The scripts that start these peers are in packages/test-support/peers/. Runs apt-get only as root and only for what is absent, so a second run costs
// nothing. Never starts a system daemon.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, chmodSync, rmSync } from 'node:fs';

const wanted = [
  { pkg: 'rsyslog', has: () => existsSync('/usr/sbin/rsyslogd') },
  // rsyslog's TLS driver, for the syslog backend's TLS test against a real rsyslog.
  // The glob covers every multiarch directory (x86_64-linux-gnu, aarch64-linux-gnu, …).
  { pkg: 'rsyslog-gnutls', has: () => spawnSync('sh', ['-c', 'ls /usr/lib/*/rsyslog/lmnsd_gtls.so'], { stdio: 'ignore' }).status === 0 },
  { pkg: 'openssl', has: () => has('openssl') },
  { pkg: 'lz4', has: () => has('lz4') },
  { pkg: 'gzip', has: () => has('gzip') },
  { pkg: 'netcat-openbsd', has: () => has('nc') },
  { pkg: 'systemd', has: () => existsSync('/lib/systemd/systemd-journald') && has('journalctl') },
  { pkg: 'util-linux', has: () => has('unshare') && has('prlimit') },
  // The query bench compares logstream-query with `zcat | jq`, and reads peak RSS from time(1).
  { pkg: 'jq', has: () => has('jq') },
  { pkg: 'time', has: () => existsSync('/usr/bin/time') },
  { pkg: 'nats-server', has: () => has('nats-server') || existsSync('/usr/sbin/nats-server') },
  // start-nats-cluster.sh picks free ports with python3; the ENOSPC suites mount tmpfs.
  { pkg: 'python3', has: () => has('python3') },
  { pkg: 'mount', has: () => has('mount') && has('umount') },
];

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const missing = wanted.filter((w) => !w.has()).map((w) => w.pkg);
if (missing.length === 0) process.exit(0);
if (process.getuid?.() !== 0) {
  console.error(
    `ensure-system-deps: missing Debian packages ${missing.join(' ')}; install them (as root: apt-get install ${missing.join(' ')})`,
  );
  process.exit(1);
}
console.error(`ensure-system-deps: installing ${missing.join(' ')}`);
// A policy-rc.d that forbids service starts, so installing rsyslog does not start a system
// daemon that would take /dev/log.
const policy = '/usr/sbin/policy-rc.d';
const madePolicy = !existsSync(policy);
if (madePolicy) {
  writeFileSync(policy, '#!/bin/sh\nexit 101\n');
  chmodSync(policy, 0o755);
}
try {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
} finally {
  if (madePolicy) rmSync(policy, { force: true });
}

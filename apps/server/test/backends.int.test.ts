import { afterEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LogClient } from '@logstream/client';
// The real peers: one recipe per peer in the repository.
import {
  readEntries,
  runCli,
  startJournald,
  startRsyslog,
  startServer,
  stopJournald,
  useServerDir,
  waitForJournal,
  type JournaldPeer,
  type RsyslogPeer,
} from '@logstream/test-support';

let dir: string;
let sock: string;
let out: string;
let journald: JournaldPeer | undefined;
let rsyslog: RsyslogPeer | undefined;

// Registered before useServerDir, so it runs after it (in reverse order): the peers (in temp
// dirs of their own) are stopped once the server that talks to them is gone.
afterEach(async () => {
  if (journald) await stopJournald(journald);
  journald = undefined;
  await rsyslog?.stop();
  rsyslog = undefined;
});
useServerDir((paths) => ({ dir, sock, out } = paths));

describe('the server with its journald and syslog backends, against real peers', () => {
  it('--journald with [backends.journald] socket_path stores entries in a real journal, files too', async () => {
    journald = await startJournald();
    await writeFile(join(dir, 'j.toml'), `[backends.journald]\nsocket_path = "${journald.socket}"\n`);
    const server = await startServer(['-c', join(dir, 'j.toml'), '--journald', '-s', sock, '-o', out]);
    expect(server.stderr()).toContain(`journald (${journald.socket})`);
    const daemon = `jd-${process.pid}-${Date.now()}`;
    const client = await LogClient.connect(sock, daemon);
    client.warning('line one\nline two', { 'user-id': '12345' });
    client.info('second');
    await client.close();
    const records = await waitForJournal(journald, [`SYSLOG_IDENTIFIER=${daemon}`], (r) => r.length === 2);
    expect(records.map((r) => [r.MESSAGE, r.PRIORITY])).toEqual([
      ['line one\nline two', '4'],
      ['second', '6'],
    ]);
    expect(records[0]).toMatchObject({ USER_ID: '12345', LOGSTREAM_DAEMON: daemon, SYSLOG_PID: String(process.pid) });
    const files = await readEntries(join(out, 'current.log'));
    expect(files.map((e) => e.message)).toEqual(['line one\nline two', 'second']);
    expect(records.map((r) => r.LOGSTREAM_ID)).toEqual(files.map((e) => e.id));
  });

  it('refuses to start with --journald when the journal socket is missing, naming the path', async () => {
    const missing = join(dir, 'no-journal');
    await writeFile(join(dir, 'j.toml'), `[backends.journald]\nsocket_path = "${missing}"\n`);
    const r = await runCli(['-c', join(dir, 'j.toml'), '--journald', '-s', sock, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(missing);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('[backends.syslog] forwards to a real rsyslog over TCP with PRI, APP-NAME, PROCID and structured data', async () => {
    rsyslog = await startRsyslog();
    await writeFile(
      join(dir, 's.toml'),
      `[backends.syslog]\nenabled = true\nfacility = "LOG_LOCAL3"\nserver = "tcp://127.0.0.1:${rsyslog.tcpPort}"\n`,
    );
    await startServer(['-c', join(dir, 's.toml'), '-s', sock, '-o', out]);
    const client = await LogClient.connect(sock, 'web-server');
    client.error('disk "full" [sda]', { mount: '/var', 'odd]key': 'a\\b' });
    await client.close();
    const [message] = await rsyslog.waitFor((m) => m.some((x) => x['app-name'] === 'web-server'));
    expect(message).toMatchObject({
      pri: String(19 * 8 + 3),
      'app-name': 'web-server',
      procid: String(process.pid),
      msg: 'disk "full" [sda]',
    });
    expect(message?.['structured-data']).toContain('mount="/var"');
    expect(message?.['structured-data']).toContain('a\\\\b');
  });
});

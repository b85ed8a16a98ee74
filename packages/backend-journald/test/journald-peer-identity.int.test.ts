// The sender as the kernel says, in a real journald: OBJECT_PID = peer.pid, and journald's own
// OBJECT_* fields for that process (it adds them because this test, the sending server, runs as root).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryBatch } from '@logstream/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEntry, uniqueDaemon } from './helpers/entries';
import { journaldUnavailableReason, waitForJournal, type JournalRecord } from '@logstream/test-support';
import { useJournaldBackend } from './helpers/journald-suite';

const unavailable = journaldUnavailableReason();
const PROBE = 'objpid-probe';

describe.skipIf(unavailable !== undefined)(
  `OBJECT_PID in a real journald${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`,
  () => {
    const journald = useJournaldBackend();
    let dir: string;
    let probe: ChildProcess;

    beforeAll(async () => {
      // A live process with a name of its own, standing for the sender of the entries.
      dir = mkdtempSync(join(tmpdir(), 'logstream-objpid-'));
      copyFileSync('/bin/sleep', join(dir, PROBE));
      probe = spawn(join(dir, PROBE), ['300'], { stdio: 'ignore' });
      await new Promise<void>((resolve, reject) => {
        probe.once('spawn', resolve);
        probe.once('error', reject);
      });
    });

    afterAll(() => {
      if (probe.exitCode === null) probe.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('stores OBJECT_PID = peer.pid, journald adds the process as OBJECT_COMM/OBJECT_EXE/OBJECT_UID, SYSLOG_PID stays the entry pid', async () => {
      const daemon = uniqueDaemon('objpid');
      const pid = probe.pid as number;
      const entry = makeEntry(daemon, { pid: 4242, peer: { pid, uid: 0, gid: 0, comm: PROBE } });
      await journald.backend.write(EntryBatch.fromEntries([entry]));
      const [record] = await waitForJournal(journald.peer, [`LOGSTREAM_DAEMON=${daemon}`], (r) => r.length === 1);
      expect(record).toMatchObject({
        OBJECT_PID: String(pid),
        OBJECT_COMM: PROBE,
        OBJECT_EXE: join(dir, PROBE),
        OBJECT_UID: '0',
        SYSLOG_PID: '4242',
        // The datagram's own sender: this process, as journald reads it from the socket.
        _PID: String(process.pid),
      });
    });

    it('stores OBJECT_PID as sent when that process is gone, with nothing of its own added', async () => {
      const gone = spawn('/bin/true', [], { stdio: 'ignore' });
      const pid = await new Promise<number>((resolve) => gone.once('exit', () => resolve(gone.pid as number)));
      const daemon = uniqueDaemon('objpid-gone');
      await journald.backend.write(EntryBatch.fromEntries([makeEntry(daemon, { peer: { pid, uid: 0, gid: 0 } })]));
      const [record] = (await waitForJournal(journald.peer, [`LOGSTREAM_DAEMON=${daemon}`], (r) => r.length === 1)) as [JournalRecord];
      expect(record.OBJECT_PID).toBe(String(pid));
      expect(record).not.toHaveProperty('OBJECT_COMM');
      expect(record).not.toHaveProperty('OBJECT_EXE');
    });

    it('sends no OBJECT_PID for an entry whose peer is null (credentials unknown)', async () => {
      const daemon = uniqueDaemon('objpid-null');
      await journald.backend.write(EntryBatch.fromEntries([makeEntry(daemon, { peer: null })]));
      const [record] = (await waitForJournal(journald.peer, [`LOGSTREAM_DAEMON=${daemon}`], (r) => r.length === 1)) as [JournalRecord];
      expect(record).not.toHaveProperty('OBJECT_PID');
      expect(record.SYSLOG_PID).toBe('4242');
    });
  },
);

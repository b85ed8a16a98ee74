// JournaldBackend against a real systemd-journald (namespace mode, private mount namespace),
// read back with `journalctl --directory=… -o json --all`.
import { EntryBatch, type LogEntry, type LogLevel } from '@logstream/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { JournaldBackend, encodeJournalEntry, journalFieldName } from '../src/index';
import { makeEntry, uniqueDaemon } from './helpers/entries';
import { journaldUnavailableReason, waitForJournal, type JournalRecord } from '@logstream/test-support';
import { useJournaldPeer } from './helpers/journald-suite';

const unavailable = journaldUnavailableReason();
const MARKER = /… \[truncated (\d+) bytes\]$/;

describe.skipIf(unavailable !== undefined)(
  `JournaldBackend with a real journald${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`,
  () => {
    const journald = useJournaldPeer();
    const backends: JournaldBackend[] = [];

    // Registered after useJournaldPeer's, so it runs before the peer stops (afterAll hooks run in reverse).
    afterAll(async () => {
      for (const b of backends) await b.close();
    });

    async function openBackend(options: ConstructorParameters<typeof JournaldBackend>[0] = {}): Promise<JournaldBackend> {
      const b = new JournaldBackend({ socketPath: journald.peer.socket, ...options });
      backends.push(b);
      await b.open();
      return b;
    }

    function byId(records: JournalRecord[]): Map<string, JournalRecord> {
      return new Map(records.map((r) => [r.LOGSTREAM_ID as string, r]));
    }

    it('stores every field: message, priority, identifier, pid, id, timestamp, hostname, fields', async () => {
      const b = await openBackend();
      const daemon = uniqueDaemon('fields');
      const full = makeEntry(daemon, {
        level: 3,
        message: 'first line\nsecond line\n\tthird, indented — ünïcödé 日本語 🎉',
        pid: 1234,
        hostname: 'server01',
        fields: {
          user_id: '12345',
          'http.status': '200',
          'user-agent': 'curl/8.0',
          _private: 'p',
          '2fa': 'on',
          message: 'a client field called message',
          'Ünïcode-κλειδί': 'value',
          multi_line: 'a\nb\n',
          utf8: 'Zürich 日本語 🎉',
          empty: '',
        },
      });
      const levels: LogEntry[] = ([0, 1, 2, 3, 4, 5, 6, 7] as LogLevel[]).map((level) =>
        makeEntry(daemon, { level, message: `level ${level}`, pid: null, hostname: null }),
      );
      await b.write(EntryBatch.fromEntries([full, ...levels]));

      const records = await waitForJournal(journald.peer, [`LOGSTREAM_DAEMON=${daemon}`], (r) => r.length >= 9);
      expect(records).toHaveLength(9);
      const got = byId(records).get(full.id) as JournalRecord;
      expect(got).toMatchObject({
        MESSAGE: full.message,
        PRIORITY: '3',
        SYSLOG_IDENTIFIER: daemon,
        SYSLOG_PID: '1234',
        LOGSTREAM_ID: full.id,
        LOGSTREAM_DAEMON: daemon,
        LOGSTREAM_TIMESTAMP: full.timestamp,
        LOGSTREAM_HOSTNAME: 'server01',
        USER_ID: '12345',
        HTTP_STATUS: '200',
        USER_AGENT: 'curl/8.0',
        FIELD__PRIVATE: 'p',
        FIELD_2FA: 'on',
        FIELD_MESSAGE: 'a client field called message',
        [journalFieldName('Ünïcode-κλειδί')]: 'value',
        MULTI_LINE: 'a\nb\n',
        UTF8: 'Zürich 日本語 🎉',
        EMPTY: '',
        _TRANSPORT: 'journal',
        _PID: String(process.pid),
      });
      expect(journalFieldName('Ünïcode-κλειδί')).toBe('FIELD__N_CODE_______');
      expect(got).not.toHaveProperty('LOGSTREAM_TRUNCATED');

      for (const entry of levels) {
        const r = byId(records).get(entry.id) as JournalRecord;
        expect(r.PRIORITY).toBe(String(entry.level));
        expect(r.MESSAGE).toBe(entry.message);
        expect(r).not.toHaveProperty('SYSLOG_PID');
        expect(r).not.toHaveProperty('LOGSTREAM_HOSTNAME');
      }
      // journalctl -t DAEMON finds them: the daemon is the identifier by default.
      const tagged = await waitForJournal(journald.peer, [`SYSLOG_IDENTIFIER=${daemon}`], (r) => r.length >= 9);
      expect(tagged).toHaveLength(9);
      expect(b.stats()).toMatchObject({ entries_sent: 9, truncated: 0, send_errors: 0 });
    });

    it('uses syslogIdentifier for every entry when set', async () => {
      const identifier = uniqueDaemon('ident');
      const b = await openBackend({ syslogIdentifier: identifier });
      const daemon = uniqueDaemon('daemon');
      const entry = makeEntry(daemon);
      await b.write(EntryBatch.fromEntries([entry]));
      const [record] = await waitForJournal(journald.peer, [`SYSLOG_IDENTIFIER=${identifier}`], (r) => r.length >= 1);
      expect(record).toMatchObject({ LOGSTREAM_ID: entry.id, LOGSTREAM_DAEMON: daemon, MESSAGE: 'hello' });
    });

    it('stores an entry of exactly the datagram limit whole, and truncates a larger one with a marker', async () => {
      const b = await openBackend();
      const daemon = uniqueDaemon('big');
      const max = b.maxEntryBytes;
      const probe = makeEntry(daemon, { message: '' });
      const room = max - encodeJournalEntry(probe, { maxEntryBytes: max }).data.length;
      const fits = { ...probe, message: 'f'.repeat(room) };
      const huge = makeEntry(daemon, { message: 'a long line of text\n'.repeat(25_000), fields: { note: 'kept' } });
      await b.write(EntryBatch.fromEntries([fits, huge]));

      const records = byId(await waitForJournal(journald.peer, [`LOGSTREAM_DAEMON=${daemon}`], (r) => r.length >= 2));
      expect((records.get(fits.id) as JournalRecord).MESSAGE).toBe(fits.message);

      const cut = records.get(huge.id) as JournalRecord;
      const message = cut.MESSAGE as string;
      const n = Number(MARKER.exec(message)?.[1]);
      expect(n).toBeGreaterThan(0);
      expect(huge.message.startsWith(message.replace(MARKER, ''))).toBe(true);
      expect(Buffer.byteLength(message.replace(MARKER, '')) + n).toBe(Buffer.byteLength(huge.message));
      expect(cut.LOGSTREAM_TRUNCATED).toBe(String(n));
      expect(cut.NOTE).toBe('kept');
      expect(b.stats()).toMatchObject({ entries_sent: 2, truncated: 1, truncated_bytes: n });
    });

    it('learns a lower datagram limit from EMSGSIZE instead of losing the entry', async () => {
      const b = await openBackend({ maxEntryBytes: 1_000_000 });
      const daemon = uniqueDaemon('emsgsize');
      const entry = makeEntry(daemon, { message: 'z'.repeat(500_000) });
      await b.write(EntryBatch.fromEntries([entry]));
      const [record] = await waitForJournal(journald.peer, [`LOGSTREAM_DAEMON=${daemon}`], (r) => r.length >= 1);
      expect(record?.MESSAGE).toMatch(MARKER);
      expect(b.stats().truncated).toBe(1);
      expect(b.stats().send_errors).toBeGreaterThan(0);
      expect(b.maxEntryBytes).toBeLessThan(1_000_000);
    });
  },
);

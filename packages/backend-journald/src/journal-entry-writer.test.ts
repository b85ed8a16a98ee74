import fc from 'fast-check';
import { ByteSink, encodeEntry, type LogEntry } from '@logstream/protocol';
import { sampleEntry, storedLine } from '@logstream/test-support';
import { describe, expect, it } from 'vitest';
import { decodeNativeRecord } from '../test/helpers/native-format';
import { MAX_DIRECT_FIELDS, MIN_MAX_ENTRY_BYTES, encodeJournalEntry } from './encode-journal-entry';
import { JournalEntryWriter } from './journal-entry-writer';

const base: LogEntry = sampleEntry();

describe('JournalEntryWriter (byte path) against encodeJournalEntry (object path)', () => {
  it('writes the same datagram for any entry, identifier and size limit', () => {
    fc.assert(
      fc.property(
        fc.array(storedLine(encodeEntry), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(undefined, 'logstream', 'multi\nline'),
        fc.constantFrom(MIN_MAX_ENTRY_BYTES, 5000, 212_960),
        (items, syslogIdentifier, maxEntryBytes) => {
          const writer = new JournalEntryWriter(syslogIdentifier);
          const sink = new ByteSink(64);
          for (const { entry, line } of items) {
            const got = writer.write(line, sink, maxEntryBytes);
            const want = encodeJournalEntry(entry, { syslogIdentifier, maxEntryBytes });
            expect(got.data.toString('hex')).toBe(want.data.toString('hex'));
            expect(got.truncatedBytes).toBe(want.truncatedBytes);
            expect(got.overflowFields).toBe(want.overflowFields);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('hands entries with more direct fields than journald takes to the object path', () => {
    const fields = Object.fromEntries(Array.from({ length: MAX_DIRECT_FIELDS + 3 }, (_, i) => [`k${i}`, 'v']));
    const e = { ...base, fields };
    const got = new JournalEntryWriter().write(Buffer.from(encodeEntry(e)), new ByteSink());
    expect(got.overflowFields).toBe(3);
    expect(got.data.equals(encodeJournalEntry(e).data)).toBe(true);
  });
});

describe('peer in the journal', () => {
  it('sends OBJECT_PID = the trusted peer pid, and SYSLOG_PID = the entry pid as before', () => {
    const e: LogEntry = { ...base, peer: { pid: 4321, uid: 1000, gid: 1000, comm: 'node', unit: 'web.service' } };
    for (const data of [encodeJournalEntry(e).data, new JournalEntryWriter().write(Buffer.from(encodeEntry(e)), new ByteSink()).data]) {
      const record = decodeNativeRecord(data);
      expect(record.OBJECT_PID).toBe('4321');
      expect(record.SYSLOG_PID).toBe('1234');
      // journald itself adds OBJECT_UID, OBJECT_COMM…; the client may not set them.
      expect(record).not.toHaveProperty('OBJECT_UID');
    }
  });

  it('sends no OBJECT_PID when the entry has no peer or a null one', () => {
    expect(decodeNativeRecord(encodeJournalEntry(base).data)).not.toHaveProperty('OBJECT_PID');
    expect(decodeNativeRecord(encodeJournalEntry({ ...base, peer: null }).data)).not.toHaveProperty('OBJECT_PID');
  });
});

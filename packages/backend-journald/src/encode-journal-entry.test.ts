import fc from 'fast-check';
import type { LogEntry, LogLevel } from '@logstream/protocol';
import { describe, expect, it } from 'vitest';
import { sampleEntry } from '@logstream/test-support';
import { decodeNativeDatagram, decodeNativeRecord } from '../test/helpers/native-format';
import { DEFAULT_MAX_ENTRY_BYTES, MAX_DIRECT_FIELDS, MIN_MAX_ENTRY_BYTES, encodeJournalEntry } from './encode-journal-entry';
import { isValidJournalFieldName } from './journal-field-name';

const entry = (over: Partial<LogEntry> = {}): LogEntry => ({ ...sampleEntry(), ...over });

const MARKER = /… \[truncated (\d+) bytes\]$/;

describe('encodeJournalEntry', () => {
  it('writes the entry as KEY=VALUE lines, in a fixed order', () => {
    const { data, truncatedBytes, overflowFields } = encodeJournalEntry(entry());
    expect(data.toString('utf8')).toBe(
      'MESSAGE=Request processed\n' +
        'PRIORITY=6\n' +
        'SYSLOG_IDENTIFIER=web-server\n' +
        'SYSLOG_PID=1234\n' +
        'LOGSTREAM_ID=550e8400-e29b-41d4-a716-446655440000\n' +
        'LOGSTREAM_DAEMON=web-server\n' +
        'LOGSTREAM_TIMESTAMP=2024-01-15T10:30:45.123Z\n' +
        'LOGSTREAM_HOSTNAME=server01\n' +
        'USER_ID=12345\n',
    );
    expect(truncatedBytes).toBe(0);
    expect(overflowFields).toBe(0);
  });

  it('leaves out SYSLOG_PID and LOGSTREAM_HOSTNAME when they are null', () => {
    const record = decodeNativeRecord(encodeJournalEntry(entry({ pid: null, hostname: null })).data);
    expect(record).not.toHaveProperty('SYSLOG_PID');
    expect(record).not.toHaveProperty('LOGSTREAM_HOSTNAME');
  });

  it('uses syslogIdentifier when given, and keeps the daemon in LOGSTREAM_DAEMON', () => {
    const record = decodeNativeRecord(encodeJournalEntry(entry(), { syslogIdentifier: 'logstream' }).data);
    expect(record.SYSLOG_IDENTIFIER).toBe('logstream');
    expect(record.LOGSTREAM_DAEMON).toBe('web-server');
  });

  it.each([0, 1, 2, 3, 4, 5, 6, 7] as LogLevel[])('writes level %i as PRIORITY', (level) => {
    expect(decodeNativeRecord(encodeJournalEntry(entry({ level })).data).PRIORITY).toBe(String(level));
  });

  it('writes a value holding a LF in the binary form: KEY\\n, u64le length, bytes, \\n', () => {
    const message = 'first line\nsecond line\n';
    const { data } = encodeJournalEntry(entry({ message, fields: {} }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(message)));
    const expected = Buffer.concat([Buffer.from('MESSAGE\n'), len, Buffer.from(message), Buffer.from('\n')]);
    expect(data.subarray(0, expected.length).equals(expected)).toBe(true);
    expect(decodeNativeRecord(data).MESSAGE).toBe(message);
  });

  it('keeps UTF-8 intact, in messages, values and multi-line values', () => {
    const message = 'héllo wörld — 日本語 🎉';
    const fields = { city: 'Zürich', poem: 'línea uno\nlínea dos 🌙', empty: '' };
    const record = decodeNativeRecord(encodeJournalEntry(entry({ message, fields })).data);
    expect(record.MESSAGE).toBe(message);
    expect(record.CITY).toBe('Zürich');
    expect(record.POEM).toBe('línea uno\nlínea dos 🌙');
    expect(record.EMPTY).toBe('');
  });

  it('cleans field names, and tells apart keys that map to one name', () => {
    const fields = {
      'user-id': 'a',
      user_id: 'b',
      USER_ID: 'c',
      'http.status': '200',
      _private: 'p',
      '2fa': 'on',
      message: 'client message field',
      priority: 'high',
      field_message: 'x',
    };
    const record = decodeNativeRecord(encodeJournalEntry(entry({ fields })).data);
    expect(record).toMatchObject({
      MESSAGE: 'Request processed',
      PRIORITY: '6',
      USER_ID: 'a',
      USER_ID_2: 'b',
      USER_ID_3: 'c',
      HTTP_STATUS: '200',
      FIELD__PRIVATE: 'p',
      FIELD_2FA: 'on',
      FIELD_MESSAGE: 'client message field',
      FIELD_PRIORITY: 'high',
      FIELD_MESSAGE_2: 'x',
    });
  });

  it('keeps a suffixed name within 64 characters', () => {
    const long = 'k'.repeat(80);
    const record = decodeNativeRecord(encodeJournalEntry(entry({ fields: { [long]: '1', [`${long}x`]: '2' } })).data);
    expect(record['K'.repeat(64)]).toBe('1');
    expect(record[`${'K'.repeat(62)}_2`]).toBe('2');
  });

  it(`keeps fields after the first ${MAX_DIRECT_FIELDS} as JSON in LOGSTREAM_FIELDS_OVERFLOW`, () => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < MAX_DIRECT_FIELDS + 50; i++) fields[`f${i}`] = `v${i}`;
    const { data, overflowFields } = encodeJournalEntry(entry({ fields }));
    const names = decodeNativeDatagram(data).map(([name]) => name);
    expect(names.length).toBeLessThanOrEqual(1024);
    expect(overflowFields).toBe(50);
    const record = decodeNativeRecord(data);
    expect(record[`F${MAX_DIRECT_FIELDS - 1}`]).toBe(`v${MAX_DIRECT_FIELDS - 1}`);
    expect(record[`F${MAX_DIRECT_FIELDS}`]).toBeUndefined();
    const overflow = JSON.parse(record.LOGSTREAM_FIELDS_OVERFLOW as string) as Record<string, string>;
    expect(Object.keys(overflow)).toHaveLength(50);
    expect(overflow[`f${MAX_DIRECT_FIELDS + 49}`]).toBe(`v${MAX_DIRECT_FIELDS + 49}`);
  });

  it('keeps a "__proto__" key as a field, directly and in the overflow JSON', () => {
    const many: Array<[string, string]> = [];
    for (let i = 0; i < MAX_DIRECT_FIELDS; i++) many.push([`f${i}`, 'v']);
    const direct = decodeNativeRecord(encodeJournalEntry(entry({ fields: Object.fromEntries([['__proto__', 'a']]) })).data);
    expect(direct.FIELD___PROTO__).toBe('a');
    const { data } = encodeJournalEntry(entry({ fields: Object.fromEntries([...many, ['__proto__', 'b']]) }));
    expect(decodeNativeRecord(data).LOGSTREAM_FIELDS_OVERFLOW).toBe('{"__proto__":"b"}');
  });

  describe('size limit', () => {
    it('does not touch an entry of exactly maxEntryBytes', () => {
      const base = encodeJournalEntry(entry({ message: '' })).data.length;
      const max = 10_000;
      const { data, truncatedBytes } = encodeJournalEntry(entry({ message: 'x'.repeat(max - base) }), {
        maxEntryBytes: max,
      });
      expect(data.length).toBe(max);
      expect(truncatedBytes).toBe(0);
    });

    it('cuts the message of a larger entry, with a marker that counts the bytes cut', () => {
      const message = 'y'.repeat(300_000);
      const { data, truncatedBytes } = encodeJournalEntry(entry({ message }));
      expect(data.length).toBeLessThanOrEqual(DEFAULT_MAX_ENTRY_BYTES);
      expect(data.length).toBeGreaterThan(DEFAULT_MAX_ENTRY_BYTES - 100);
      const record = decodeNativeRecord(data);
      const cut = Number(MARKER.exec(record.MESSAGE as string)?.[1]);
      expect(cut).toBe(truncatedBytes);
      expect(record.LOGSTREAM_TRUNCATED).toBe(String(cut));
      expect((record.MESSAGE as string).replace(MARKER, '')).toBe('y'.repeat(300_000 - cut));
      expect(record.USER_ID).toBe('12345');
      expect(record.LOGSTREAM_ID).toBe(entry().id);
    });

    it('never splits a UTF-8 sequence', () => {
      for (const max of [5000, 5001, 5002, 5003]) {
        const message = '日本語🎉'.repeat(2000);
        const { data, truncatedBytes } = encodeJournalEntry(entry({ message }), { maxEntryBytes: max });
        expect(data.length).toBeLessThanOrEqual(max);
        const value = decodeNativeDatagram(data).find(([name]) => name === 'MESSAGE')?.[1] as Buffer;
        // Valid UTF-8 survives a decode/encode round trip byte for byte.
        expect(Buffer.from(value.toString('utf8')).equals(value)).toBe(true);
        const kept = value.toString('utf8').replace(MARKER, '');
        expect(message.startsWith(kept)).toBe(true);
        expect(Buffer.byteLength(kept) + truncatedBytes).toBe(Buffer.byteLength(message));
      }
    });

    it('cuts the largest values first, and a multi-line value stays in the binary form', () => {
      const fields = { small: 's'.repeat(100), big: 'line\n'.repeat(20_000) };
      const { data } = encodeJournalEntry(entry({ message: 'm'.repeat(1000), fields }), { maxEntryBytes: 20_000 });
      expect(data.length).toBeLessThanOrEqual(20_000);
      const record = decodeNativeRecord(data);
      expect(record.MESSAGE).toBe('m'.repeat(1000));
      expect(record.SMALL).toBe('s'.repeat(100));
      expect(record.BIG).toMatch(MARKER);
      expect((record.BIG as string).startsWith('line\nline\n')).toBe(true);
    });

    it('moves many fields into LOGSTREAM_FIELDS_OVERFLOW when cutting values is not enough', () => {
      const fields: Record<string, string> = {};
      for (let i = 0; i < 900; i++) fields[`field_number_${i}`] = `value ${i}`;
      const { data, truncatedBytes } = encodeJournalEntry(entry({ fields }), { maxEntryBytes: MIN_MAX_ENTRY_BYTES });
      expect(data.length).toBeLessThanOrEqual(MIN_MAX_ENTRY_BYTES);
      expect(truncatedBytes).toBeGreaterThan(0);
      const record = decodeNativeRecord(data);
      expect(record.MESSAGE).toBe('Request processed');
      expect(record.LOGSTREAM_FIELDS_OVERFLOW).toMatch(/^\{"field_number_0":"value 0",.*… \[truncated \d+ bytes\]$/);
    });

    it('rejects a limit below the minimum', () => {
      expect(() => encodeJournalEntry(entry(), { maxEntryBytes: 100 })).toThrow(RangeError);
    });
  });

  it('round-trips any entry: every name valid, every value intact', () => {
    const key = fc.string({ unit: 'binary', minLength: 1, maxLength: 70 });
    const text = fc.string({ unit: 'binary', maxLength: 300 });
    fc.assert(
      fc.property(text, fc.dictionary(key, text, { maxKeys: 20 }), fc.integer({ min: 0, max: 7 }), (message, fields, level) => {
        const e = entry({ message, fields, level: level as LogLevel });
        const { data, truncatedBytes } = encodeJournalEntry(e);
        expect(truncatedBytes).toBe(0);
        const decoded = decodeNativeDatagram(data);
        for (const [name] of decoded) expect(isValidJournalFieldName(name)).toBe(true);
        const record = decodeNativeRecord(data);
        // Lone surrogates become U+FFFD in UTF-8, as everywhere in Node.
        const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');
        expect(record.MESSAGE).toBe(utf8(message));
        const values = Object.values(fields).map(utf8).sort();
        const clientValues = Object.entries(record)
          .filter(([name]) => !/^(MESSAGE|PRIORITY|SYSLOG_IDENTIFIER|SYSLOG_PID|LOGSTREAM_[A-Z]+)$/.test(name))
          .map(([, value]) => value)
          .sort();
        expect(clientValues).toEqual(values);
      }),
    );
  });

  it('fits any entry into a small limit, with valid names', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 6000 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 3000 }), {
          maxKeys: 30,
        }),
        fc.integer({ min: MIN_MAX_ENTRY_BYTES, max: 12_000 }),
        (message, fields, max) => {
          const { data } = encodeJournalEntry(entry({ message, fields }), { maxEntryBytes: max });
          expect(data.length).toBeLessThanOrEqual(max);
          for (const [name] of decodeNativeDatagram(data)) expect(isValidJournalFieldName(name)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

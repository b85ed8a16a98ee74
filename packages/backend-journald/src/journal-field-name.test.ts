import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RESERVED_JOURNAL_FIELD_PREFIXES, RESERVED_JOURNAL_FIELDS, isValidJournalFieldName, journalFieldName } from './journal-field-name';

const reserved = (name: string): boolean =>
  RESERVED_JOURNAL_FIELDS.has(name) || RESERVED_JOURNAL_FIELD_PREFIXES.some((p) => name.startsWith(p));

describe('journalFieldName', () => {
  it.each([
    ['user_id', 'USER_ID'],
    ['USER_ID', 'USER_ID'],
    ['userId', 'USERID'],
    ['http.status', 'HTTP_STATUS'],
    ['user-agent', 'USER_AGENT'],
    ['a b', 'A_B'],
    ['héllo', 'H_LLO'],
    ['emoji😀x', 'EMOJI_X'],
    ['_private', 'FIELD__PRIVATE'],
    ['__x', 'FIELD___X'],
    ['2fa', 'FIELD_2FA'],
    ['-', 'FIELD__'],
    ['', 'FIELD_'],
    ['message', 'FIELD_MESSAGE'],
    ['priority', 'FIELD_PRIORITY'],
    ['syslog_identifier', 'FIELD_SYSLOG_IDENTIFIER'],
    ['message_id', 'FIELD_MESSAGE_ID'],
    ['unit', 'FIELD_UNIT'],
    ['object_pid', 'FIELD_OBJECT_PID'],
    ['OBJECT_SYSTEMD_UNIT', 'FIELD_OBJECT_SYSTEMD_UNIT'],
    ['coredump_unit', 'FIELD_COREDUMP_UNIT'],
    ['logstream_id', 'FIELD_LOGSTREAM_ID'],
    ['messages', 'MESSAGES'],
    ['units', 'UNITS'],
  ])('%j → %s', (key, name) => {
    expect(journalFieldName(key)).toBe(name);
  });

  it('cuts names to 64 characters', () => {
    expect(journalFieldName('a'.repeat(100))).toBe('A'.repeat(64));
    expect(journalFieldName(`_${'a'.repeat(100)}`)).toBe(`FIELD__${'A'.repeat(57)}`);
  });

  it('always gives a name journald accepts', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (key) => {
        expect(isValidJournalFieldName(journalFieldName(key))).toBe(true);
      }),
    );
  });

  it('leaves valid, unreserved upper-case names as they are', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z][A-Z0-9_]{0,63}$/).filter((n) => !reserved(n)),
        (name) => {
          expect(journalFieldName(name)).toBe(name);
        },
      ),
    );
  });
});

describe('isValidJournalFieldName', () => {
  it('follows journal_field_valid()', () => {
    expect(isValidJournalFieldName('A')).toBe(true);
    expect(isValidJournalFieldName('A_1')).toBe(true);
    expect(isValidJournalFieldName('A'.repeat(64))).toBe(true);
    expect(isValidJournalFieldName('A'.repeat(65))).toBe(false);
    expect(isValidJournalFieldName('_A')).toBe(false);
    expect(isValidJournalFieldName('1A')).toBe(false);
    expect(isValidJournalFieldName('a')).toBe(false);
    expect(isValidJournalFieldName('')).toBe(false);
  });
});

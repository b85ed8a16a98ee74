/** Longest journal field name journald accepts, in characters (`journal_field_valid()`). */
export const MAX_JOURNAL_FIELD_NAME_LENGTH = 64;

/** What a client field's name gets in front of it when it cannot be used as it is. */
export const JOURNAL_FIELD_PREFIX = 'FIELD_';

/**
 * Journal fields that journald, journalctl or the message catalog act on, and the fields this
 * backend writes itself. A client field mapped to one of these would change how the entry is
 * classified (priority, identifier, catalog id) or make it match another unit in
 * `journalctl -u` (the server usually runs as root, and journald trusts `OBJECT_PID`,
 * `OBJECT_SYSTEMD_UNIT`, `COREDUMP_UNIT` and `UNIT` from root), so it gets the
 * {@link JOURNAL_FIELD_PREFIX} instead.
 */
export const RESERVED_JOURNAL_FIELDS: ReadonlySet<string> = new Set([
  'MESSAGE',
  'MESSAGE_ID',
  'PRIORITY',
  'SYSLOG_FACILITY',
  'SYSLOG_IDENTIFIER',
  'SYSLOG_PID',
  'SYSLOG_TIMESTAMP',
  'SYSLOG_RAW',
  'CODE_FILE',
  'CODE_LINE',
  'CODE_FUNC',
  'ERRNO',
  'TID',
  'INVOCATION_ID',
  'USER_INVOCATION_ID',
  'UNIT',
  'USER_UNIT',
  'DOCUMENTATION',
]);

/** Name prefixes reserved like {@link RESERVED_JOURNAL_FIELDS}. */
export const RESERVED_JOURNAL_FIELD_PREFIXES: readonly string[] = ['LOGSTREAM_', 'OBJECT_', 'COREDUMP_'];

/** True when `name` is a field name journald accepts from a client: `[A-Z0-9_]{1,64}`, not starting with `_` or a digit. */
export function isValidJournalFieldName(name: string): boolean {
  return /^[A-Z][A-Z0-9_]{0,63}$/.test(name);
}

function isReserved(name: string): boolean {
  if (RESERVED_JOURNAL_FIELDS.has(name)) return true;
  for (const prefix of RESERVED_JOURNAL_FIELD_PREFIXES) if (name.startsWith(prefix)) return true;
  return false;
}

/**
 * Maps a LogStream field key to a journal field name journald accepts, the same way every time:
 *
 * 1. ASCII `a`–`z` become `A`–`Z`; `A`–`Z`, `0`–`9` and `_` stay; every other character (each
 *    code point: `-`, `.`, space, `é`, an emoji) becomes one `_`.
 * 2. A name that is empty, starts with `_` or a digit, or is reserved (see
 *    {@link RESERVED_JOURNAL_FIELDS} and {@link RESERVED_JOURNAL_FIELD_PREFIXES}) gets the prefix
 *    `FIELD_`.
 * 3. The name is cut to 64 characters.
 *
 * `user_id` → `USER_ID`, `http.status` → `HTTP_STATUS`, `_secret` → `FIELD__SECRET`,
 * `2fa` → `FIELD_2FA`, `message` → `FIELD_MESSAGE`. Two keys of one entry that map to the same
 * name are told apart by `encodeJournalEntry`, which appends `_2`, `_3`, … to the later ones.
 */
export function journalFieldName(key: string): string {
  let name = '';
  for (const ch of key) {
    const c = ch.charCodeAt(0);
    if (c >= 0x61 && c <= 0x7a) name += String.fromCharCode(c - 0x20);
    else if ((c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f) name += ch;
    else name += '_';
  }
  const first = name.charCodeAt(0);
  if (name === '' || first === 0x5f || (first >= 0x30 && first <= 0x39) || isReserved(name)) {
    name = JOURNAL_FIELD_PREFIX + name;
  }
  return name.length > MAX_JOURNAL_FIELD_NAME_LENGTH ? name.slice(0, MAX_JOURNAL_FIELD_NAME_LENGTH) : name;
}

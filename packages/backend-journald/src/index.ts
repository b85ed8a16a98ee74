export { JournaldBackend, DEFAULT_JOURNALD_SOCKET } from './journald-backend';
export type { JournaldBackendOptions, JournaldBackendStats } from './journald-backend';
export { encodeJournalEntry, DEFAULT_MAX_ENTRY_BYTES, MIN_MAX_ENTRY_BYTES, MAX_DIRECT_FIELDS } from './encode-journal-entry';
export type { JournalEncodeOptions, EncodedJournalEntry } from './encode-journal-entry';
export { JournalEntryWriter } from './journal-entry-writer';
export {
  journalFieldName,
  isValidJournalFieldName,
  MAX_JOURNAL_FIELD_NAME_LENGTH,
  JOURNAL_FIELD_PREFIX,
  RESERVED_JOURNAL_FIELDS,
  RESERVED_JOURNAL_FIELD_PREFIXES,
} from './journal-field-name';

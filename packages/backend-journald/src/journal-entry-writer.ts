// Owns encoding entries in journald's native protocol from their JSON lines' bytes: the byte
// path of encodeJournalEntry, the same datagram for every entry that needs no truncation.
import type { ByteSink } from '@logstream/protocol';
import { EntryView, type LogEntry, type TextSpan } from '@logstream/protocol';
import {
  DEFAULT_MAX_ENTRY_BYTES,
  MAX_DIRECT_FIELDS,
  MIN_MAX_ENTRY_BYTES,
  cachedFieldName,
  encodeJournalEntry,
  uniqueName,
  type EncodedJournalEntry,
} from './encode-journal-entry';

const LF = 0x0a;

/**
 * Encodes stored entry lines in journald's native protocol straight from their bytes into a
 * {@link ByteSink}: each datagram is a view of the sink, and the same bytes as
 * {@link encodeJournalEntry} gives for the decoded entry. An entry that needs what only the
 * object path does (cutting values to `maxEntryBytes`, more than {@link MAX_DIRECT_FIELDS}
 * fields) is decoded and encoded by it.
 */
export class JournalEntryWriter {
  readonly #identifier: string | undefined;
  readonly #view = new EntryView();
  readonly #used = new Set<string>();

  /** @param syslogIdentifier `SYSLOG_IDENTIFIER` of every entry (default: each entry's daemon) */
  constructor(syslogIdentifier?: string) {
    this.#identifier = syslogIdentifier;
  }

  /**
   * Encodes one stored entry line; the datagram is a view of `sink` (or, for an entry the object
   * path encoded, a buffer of its own).
   *
   * @throws RangeError as {@link encodeJournalEntry} does
   */
  write(line: Buffer, sink: ByteSink, maxEntryBytes = DEFAULT_MAX_ENTRY_BYTES): EncodedJournalEntry {
    if (!(maxEntryBytes >= MIN_MAX_ENTRY_BYTES)) return this.#objectPath(line, maxEntryBytes);
    const view = this.#view;
    if (!view.read(line)) return this.#objectPath(line, maxEntryBytes);
    const start = sink.at;
    if (!this.#fields(view, sink) || sink.at - start > maxEntryBytes) {
      sink.at = start;
      return this.#objectPath(line, maxEntryBytes);
    }
    return { data: sink.buf.subarray(start, sink.at), truncatedBytes: 0, overflowFields: 0 };
  }

  #objectPath(line: Buffer, maxEntryBytes: number): EncodedJournalEntry {
    const entry = JSON.parse(line.toString('utf8')) as LogEntry;
    return encodeJournalEntry(entry, { syslogIdentifier: this.#identifier, maxEntryBytes });
  }

  /** Writes every field; false when the entry has more than {@link MAX_DIRECT_FIELDS} fields. */
  #fields(view: EntryView, sink: ByteSink): boolean {
    span(view, 'MESSAGE', view.message, sink);
    sink.latin1('PRIORITY=');
    sink.decimal(view.level);
    sink.byte(LF);
    if (this.#identifier !== undefined) text('SYSLOG_IDENTIFIER', this.#identifier, sink);
    else span(view, 'SYSLOG_IDENTIFIER', view.daemon, sink);
    if (view.pid !== null) number('SYSLOG_PID', view.pid, sink);
    if (view.peer === 'known') number('OBJECT_PID', view.peerPid, sink);
    span(view, 'LOGSTREAM_ID', view.id, sink);
    span(view, 'LOGSTREAM_DAEMON', view.daemon, sink);
    span(view, 'LOGSTREAM_TIMESTAMP', view.timestamp, sink);
    if (view.hostname !== null) span(view, 'LOGSTREAM_HOSTNAME', view.hostname, sink);
    const used = this.#used;
    used.clear();
    const fields = view.fields();
    let n = 0;
    while (fields.next()) {
      if (++n > MAX_DIRECT_FIELDS) return false;
      const key = fields.key;
      const name = uniqueName(cachedFieldName(view.text(key)), used);
      used.add(name);
      span(view, name, fields.text, sink);
    }
    return true;
  }
}

/** `NAME=value\n` from a span; a decoded value with a LF in the binary form. */
function span(view: EntryView, name: string, value: TextSpan, sink: ByteSink): void {
  if (value.escaped) {
    text(name, view.text(value), sink);
    return;
  }
  // Raw JSON string bytes never hold a LF (JSON escapes it).
  sink.latin1(name);
  sink.byte(0x3d);
  sink.copy(view.line, value.start, value.end);
  sink.byte(LF);
}

function text(name: string, value: string, sink: ByteSink): void {
  sink.latin1(name);
  if (!value.includes('\n')) {
    sink.byte(0x3d);
    sink.utf8(value);
    sink.byte(LF);
    return;
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  sink.byte(LF);
  sink.ensure(8);
  sink.buf.writeUInt32LE(bytes % 0x1_0000_0000, sink.at);
  sink.buf.writeUInt32LE(Math.floor(bytes / 0x1_0000_0000), sink.at + 4);
  sink.at += 8;
  sink.utf8(value);
  sink.byte(LF);
}

function number(name: string, value: number, sink: ByteSink): void {
  sink.latin1(name);
  sink.byte(0x3d);
  sink.decimal(value);
  sink.byte(LF);
}

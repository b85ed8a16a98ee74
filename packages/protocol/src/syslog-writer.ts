// Owns writing syslog messages (RFC 5424 / RFC 3164) from an entry line's bytes: the byte path
// of formatRfc5424 / formatRfc3164 / formatSyslogLine, byte for byte the same output.
import { allBytesIn, byteTable, hasUnsafeText, isUtcMillis } from './byte-classes';
import type { ByteSink } from './byte-sink';
import { EntryView, type TextSpan } from './canonical-reader';
import type { LogEntry } from './entry';
import {
  DEFAULT_SYSLOG_SD_ID,
  HAS_NOT_PRINTUSASCII,
  HAS_NOT_TAG,
  NOT_PRINTUSASCII,
  NOT_TAG,
  escapeParamValue,
  escapeSyslogText,
  formatRfc3164Timestamp,
  formatSyslog,
  formatRfc5424Timestamp,
  headerField,
  priOf,
  toSdName,
  type SyslogFormat,
  type SyslogFormatOptions,
} from './syslog-format';

/**
 * What a syslog message's text must be made safe for:
 * - `file`: one line of a log file, every control escaped as `#ooo` ({@link escapeSyslogText});
 * - `lf`: a stream with LF framing, each LF of the message written `#012`;
 * - `none`: as is (octet-counted streams, datagrams).
 */
export type SyslogTextMode = 'file' | 'lf' | 'none';

const NIL = 0x2d;
const SPACE = 0x20;
const HASH = 0x23;
const LF_G = /\n/g;
const PRINTUSASCII = byteTable([0x21, 0x7e]);
const SD_NAME = byteTable([0x21, 0x21], [0x23, 0x3c], [0x3e, 0x5c], [0x5e, 0x7e]);
const TAG = byteTable([0x21, 0x39], [0x3b, 0x5a], [0x5c, 0x5c], [0x5e, 0x7e]);
const BOM = Buffer.from('\ufeff');

/**
 * Writes entries as syslog messages straight from their JSON lines ({@link EntryView}) into a
 * {@link ByteSink}: the same bytes as `formatSyslog` (mode `none`), `formatSyslogLine` (mode
 * `file`) or `formatSyslog` with each LF made `#012` (mode `lf`) would give for the decoded entry.
 * A span is copied as it is when its bytes need no change in its place; anything else (an
 * escaped string, a header value with a space, a `]` in a structured-data value) goes through
 * the string functions those use.
 */
export class SyslogWriter {
  readonly #format: SyslogFormat;
  readonly #options: SyslogFormatOptions | undefined;
  readonly #mode: SyslogTextMode;
  readonly #pri: string[];
  readonly #defaultHostname: string;
  readonly #appName: string | undefined;
  readonly #msgId: string;
  readonly #sdId: string;
  readonly #bom: boolean;
  readonly #omitHostname: boolean;
  // Option values may hold '#' followed by digits: then every line is checked.
  readonly #alwaysCheck: boolean;
  #dirty = false;
  readonly #tsKey = Buffer.alloc(19);
  #tsKeyValid = false;
  #tsOut = '';

  constructor(format: SyslogFormat, options: SyslogFormatOptions | undefined, mode: SyslogTextMode) {
    this.#format = format;
    this.#options = options;
    this.#mode = mode;
    this.#pri = Array.from({ length: 8 }, (_, level) => priOf(level, options));
    this.#defaultHostname = headerField(options?.hostname, 255, HAS_NOT_PRINTUSASCII, NOT_PRINTUSASCII, '-');
    const appName = options?.appName;
    this.#appName =
      appName === undefined
        ? undefined
        : format === 'rfc3164'
          ? headerField(appName, 32, HAS_NOT_TAG, NOT_TAG, '-')
          : headerField(appName, 48, HAS_NOT_PRINTUSASCII, NOT_PRINTUSASCII, '-');
    this.#msgId = headerField(options?.msgId, 32, HAS_NOT_PRINTUSASCII, NOT_PRINTUSASCII, '-');
    this.#sdId = toSdName(options?.sdId ?? DEFAULT_SYSLOG_SD_ID);
    this.#bom = options?.utf8Bom === true;
    this.#omitHostname = options?.omitHostname === true;
    this.#alwaysCheck = [this.#defaultHostname, this.#appName ?? '', this.#msgId, this.#sdId].some((s) => s.includes('#'));
  }

  readonly #view = new EntryView();

  /**
   * Appends the message of one stored entry line to `sink` (no newline, no framing). A line the
   * view cannot read (not an entry's JSON object) is decoded and formatted as an object.
   */
  writeLine(line: Buffer, sink: ByteSink): void {
    const view = this.#view;
    if (view.read(line)) {
      this.write(view, sink);
      return;
    }
    const text = formatSyslog(JSON.parse(line.toString('utf8')) as LogEntry, this.#format, this.#options);
    this.#dirty = false;
    if (this.#mode === 'file') sink.utf8(escapeSyslogText(text));
    else this.#text(text, sink);
  }

  /** Appends the message of the entry `view` has read to `sink` (no newline, no framing). */
  write(view: EntryView, sink: ByteSink): void {
    const start = sink.at;
    this.#dirty = false;
    if (this.#format === 'rfc3164') this.#write3164(view, sink);
    else this.#write5424(view, sink);
    if (this.#mode !== 'file') return;
    // Only text copied as it is can hold what the file must escape: a control in decoded text, a
    // C1 or bidi character in a UTF-8 span (seen by #body), or '#' before three octal digits.
    if (!this.#dirty && !this.#alwaysCheck && view.line.indexOf(HASH) === -1) return;
    const text = sink.buf.toString('utf8', start, sink.at);
    const safe = escapeSyslogText(text);
    if (safe === text) return;
    sink.at = start;
    sink.utf8(safe);
  }

  #write5424(view: EntryView, sink: ByteSink): void {
    const line = view.line;
    sink.latin1(this.#pri[view.level] as string);
    sink.byte(0x31);
    sink.byte(SPACE);
    const ts = view.timestamp;
    if (isUtcMillis(line, ts)) sink.copy(line, ts.start, ts.end);
    else sink.latin1(formatRfc5424Timestamp(view.text(ts)));
    sink.byte(SPACE);
    const hostname = view.hostname;
    if (hostname === null) sink.latin1(this.#defaultHostname);
    else this.#header(view, hostname, 255, PRINTUSASCII, sink);
    sink.byte(SPACE);
    if (this.#appName !== undefined) sink.latin1(this.#appName);
    else this.#header(view, view.daemon, 48, PRINTUSASCII, sink);
    sink.byte(SPACE);
    const pid = view.peer === 'known' ? view.peerPid : view.pid;
    if (pid === null) sink.byte(NIL);
    else sink.latin1(String(pid).slice(0, 128));
    sink.byte(SPACE);
    sink.latin1(this.#msgId);
    sink.byte(SPACE);
    this.#structuredData(view, sink);
    const message = view.message;
    if (message.end === message.start) return;
    sink.byte(SPACE);
    if (this.#bom) sink.copy(BOM, 0, BOM.length);
    this.#body(view, message, sink);
  }

  #write3164(view: EntryView, sink: ByteSink): void {
    sink.latin1(this.#pri[view.level] as string);
    sink.latin1(this.#timestamp3164(view));
    sink.byte(SPACE);
    if (!this.#omitHostname) {
      const hostname = view.hostname;
      if (hostname === null) sink.latin1(this.#defaultHostname);
      else this.#header(view, hostname, 255, PRINTUSASCII, sink);
      sink.byte(SPACE);
    }
    if (this.#appName !== undefined) sink.latin1(this.#appName);
    else this.#header(view, view.daemon, 32, TAG, sink, true);
    const pid = view.peer === 'known' ? view.peerPid : view.pid;
    if (pid !== null) {
      sink.byte(0x5b);
      sink.latin1(String(pid));
      sink.byte(0x5d);
    }
    sink.byte(0x3a);
    sink.byte(SPACE);
    this.#body(view, view.message, sink);
  }

  /** A header value: its bytes when they are all allowed and fit, else {@link headerField}. */
  #header(view: EntryView, span: TextSpan, max: number, table: Uint8Array, sink: ByteSink, tag = false): void {
    const n = span.end - span.start;
    if (!span.escaped && n > 0 && n <= max && allBytesIn(view.line, span.start, span.end, table)) {
      sink.copy(view.line, span.start, span.end);
      return;
    }
    const value = view.text(span);
    this.#dirty = true;
    sink.latin1(
      tag ? headerField(value, max, HAS_NOT_TAG, NOT_TAG, '-') : headerField(value, max, HAS_NOT_PRINTUSASCII, NOT_PRINTUSASCII, '-'),
    );
  }

  /** MSG or an SD-PARAM value: its bytes when it has no escape, else the decoded text. */
  #body(view: EntryView, span: TextSpan, sink: ByteSink): void {
    if (span.escaped) {
      this.#text(view.text(span), sink);
      return;
    }
    if (this.#mode === 'file' && !view.plain && hasUnsafeText(view.line, span.start, span.end)) this.#dirty = true;
    sink.copy(view.line, span.start, span.end);
  }

  #text(text: string, sink: ByteSink): void {
    this.#dirty = true;
    sink.utf8(this.#mode === 'lf' && text.includes('\n') ? text.replace(LF_G, '#012') : text);
  }

  #structuredData(view: EntryView, sink: ByteSink): void {
    const line = view.line;
    const fields = view.fields();
    let any = false;
    while (fields.next()) {
      if (!any) {
        any = true;
        sink.byte(0x5b);
        sink.latin1(this.#sdId);
      }
      sink.byte(SPACE);
      const key = fields.key;
      const n = key.end - key.start;
      if (!key.escaped && n > 0 && n <= 32 && allBytesIn(line, key.start, key.end, SD_NAME)) sink.copy(line, key.start, key.end);
      else {
        this.#dirty = true;
        sink.latin1(toSdName(view.text(key)));
      }
      sink.byte(0x3d);
      sink.byte(0x22);
      const value = fields.text;
      if (!value.escaped && !hasByte(line, value.start, value.end, 0x5d)) this.#body(view, value, sink);
      else this.#text(escapeParamValue(view.text(value)), sink);
      sink.byte(0x22);
    }
    if (any) sink.byte(0x5d);
    else sink.byte(NIL);
  }

  #timestamp3164(view: EntryView): string {
    const line = view.line;
    const ts = view.timestamp;
    if (!isUtcMillis(line, ts)) return formatRfc3164Timestamp(view.text(ts));
    // One second's entries share one timestamp: keyed on the bytes up to the seconds.
    const key = this.#tsKey;
    if (this.#tsKeyValid && line.compare(key, 0, 19, ts.start, ts.start + 19) === 0) return this.#tsOut;
    line.copy(key, 0, ts.start, ts.start + 19);
    this.#tsKeyValid = true;
    this.#tsOut = formatRfc3164Timestamp(view.text(ts));
    return this.#tsOut;
  }
}

function hasByte(buf: Buffer, start: number, end: number, byte: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] === byte) return true;
  return false;
}

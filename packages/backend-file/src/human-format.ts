import type { ByteSink } from '@logstream/protocol';
import { EntryView, allBytesIn, byteTable, hasUnsafeText, isUtcMillis, type LogEntry, type TextSpan } from '@logstream/protocol';

const LABELS = ['EMERG', 'ALERT', 'CRIT', 'ERROR', 'WARN', 'NOTICE', 'INFO', 'DEBUG'];
const LABEL = LABELS.map((l) => l.padEnd(5));
// Characters a line must not hold raw: C0 controls, DEL, C1 controls, the bidi controls and the
// line/paragraph separators (they move the cursor, end the line or reorder what a terminal shows).
const UNSAFE = String.raw`\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069`;
// In free text (the message) a backslash is escaped too, so that `\n` always means an escape.
const TEXT_ESCAPE = new RegExp(`[${UNSAFE}\\\\]`);
const TEXT_ESCAPE_G = new RegExp(`[${UNSAFE}\\\\]`, 'g');
const QUOTED_ESCAPE_G = new RegExp(`[${UNSAFE}\\\\"]`, 'g');
// A key or value is written bare unless it is empty or holds whitespace, '"', '=', '\' or an
// unsafe character; `\s` covers Unicode spaces (U+00A0, U+3000…) that would look like a separator.
const NEEDS_QUOTES = new RegExp(`[\\s"=\\\\${UNSAFE}]`);
// A daemon is written bare only as printable ASCII without '"', ':', '[', '\' and ']', the
// characters of the `name[pid]: ` prefix; anything else (look-alike letters included) is quoted.
const BARE_DAEMON = /^[\x21\x23-\x39\x3b-\x5a\x5e-\x7e]+$/;
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\f': '\\f',
  '\r': '\\r',
  '"': '\\"',
  '\\': '\\\\',
};

function escapeChar(ch: string): string {
  return SHORT_ESCAPES[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** JSON string escapes (`\n`, `\\`, `\u001b`, `\u202e`) for the unsafe characters and backslashes. */
function escapeText(text: string): string {
  return TEXT_ESCAPE.test(text) ? text.replace(TEXT_ESCAPE_G, escapeChar) : text;
}

/** `text` in double quotes with JSON string escapes; `JSON.parse` reads it back. */
function quote(text: string): string {
  return `"${text.replace(QUOTED_ESCAPE_G, escapeChar)}"`;
}

function formatToken(value: string): string {
  return value === '' || NEEDS_QUOTES.test(value) ? quote(value) : value;
}

/**
 * One entry as a human-readable line, without the newline:
 * `2024-01-15T10:30:45.123Z INFO  web-server[1234]: Request processed user_id=12345`.
 *
 * The pid in brackets is the sender's as the kernel says (`peer.pid`) when the server recorded
 * it, followed by the sender's uid and, when known, its `comm` and systemd `unit`:
 * `web-server[1234] uid=1000 comm=node unit=web.service: Request processed`. The entry's own
 * `pid` (the client's word) is then only in the json format. An entry whose `peer` is null (the
 * server could not read the credentials) shows its own pid and says so: `web-server[1234]
 * peer=unknown: …`; an entry without `peer` (stored before it existed) shows its own pid.
 * A client cannot forge this part: a daemon name with a space, `[`, `]` or `:` is quoted.
 *
 * The line never holds a control character, DEL, a C1 control, a bidi control or a line
 * separator, so one entry is one line and printing it cannot move a terminal's cursor:
 * - the message is written with JSON string escapes (`\n`, `\\`, `\u001b`, `\u202e`), `"` as is;
 * - a field key or value that is empty or holds whitespace, `"`, `=`, `\` or such a character is
 *   written as a JSON string (`"user id"="a=b"`);
 * - a daemon name, `comm` or `unit` that is not printable ASCII without `"`, `:`, `[`, `\` and
 *   `]` is written as a JSON string, so a daemon named `sshd[1]: Accepted…` cannot pass for the
 *   prefix of another daemon's line (`"sshd[1]: Accepted…"[1234]: …`).
 */
export function formatHuman(entry: LogEntry): string {
  const label = LABEL[entry.level] ?? (LABELS[entry.level] ?? String(entry.level)).padEnd(5);
  let line = `${formatToken(entry.timestamp)} ${label} ${who(entry)}: ${escapeText(entry.message)}`;
  const fields = entry.fields;
  for (const key in fields) {
    if (!Object.prototype.hasOwnProperty.call(fields, key)) continue;
    line += ` ${formatToken(key)}=${formatToken(fields[key] as string)}`;
  }
  return line;
}

function bare(name: string): string {
  return BARE_DAEMON.test(name) ? name : quote(name);
}

/** `daemon[pid]` and what the kernel says about the sender (see {@link formatHuman}). */
function who(entry: LogEntry): string {
  const daemon = bare(entry.daemon);
  const peer = entry.peer;
  if (peer === undefined || peer === null) {
    const head = entry.pid === null ? daemon : `${daemon}[${entry.pid}]`;
    return peer === null ? `${head} peer=unknown` : head;
  }
  let out = `${daemon}[${peer.pid}] uid=${peer.uid}`;
  if (peer.comm !== undefined) out += ` comm=${bare(peer.comm)}`;
  if (peer.unit !== undefined) out += ` unit=${bare(peer.unit)}`;
  return out;
}

// Bytes written as they are: a token's (printable ASCII but '"', '=' and '\'), a bare name's.
const TOKEN_BYTES = byteTable([0x21, 0x21], [0x23, 0x3c], [0x3e, 0x5b], [0x5d, 0x7e]);
const BARE_BYTES = byteTable([0x21, 0x21], [0x23, 0x39], [0x3b, 0x5a], [0x5e, 0x7e]);

/**
 * Writes entries in the human format straight from their JSON lines into a {@link ByteSink}:
 * the same bytes as {@link formatHuman} gives for the decoded entry. A span is copied as it is
 * when it needs neither quotes nor escapes; anything else goes through the string functions.
 */
export class HumanWriter {
  readonly #view = new EntryView();

  /** Appends one stored entry line in the human format, without the newline. */
  writeLine(line: Buffer, sink: ByteSink): void {
    const view = this.#view;
    if (view.read(line)) this.write(view, sink);
    else sink.utf8(formatHuman(JSON.parse(line.toString('utf8')) as LogEntry));
  }

  /** Appends the entry `view` has read, without the newline. */
  write(view: EntryView, sink: ByteSink): void {
    const line = view.line;
    const ts = view.timestamp;
    // The usual form (`2024-01-15T10:30:45.123Z`) is a bare token as it is.
    if (isUtcMillis(line, ts)) sink.copy(line, ts.start, ts.end);
    else token(view, ts, sink);
    sink.byte(0x20);
    sink.latin1(LABEL[view.level] as string);
    sink.byte(0x20);
    name(view, view.daemon, sink);
    if (view.peer === 'known') {
      sink.byte(0x5b);
      sink.decimal(view.peerPid);
      sink.latin1('] uid=');
      sink.decimal(view.peerUid);
      if (view.peerComm !== null) {
        sink.latin1(' comm=');
        name(view, view.peerComm, sink);
      }
      if (view.peerUnit !== null) {
        sink.latin1(' unit=');
        name(view, view.peerUnit, sink);
      }
    } else {
      if (view.pid !== null) {
        sink.byte(0x5b);
        sink.decimal(view.pid);
        sink.byte(0x5d);
      }
      if (view.peer === 'null') sink.latin1(' peer=unknown');
    }
    sink.byte(0x3a);
    sink.byte(0x20);
    const message = view.message;
    if (!message.escaped && (view.plain || !hasUnsafeText(line, message.start, message.end))) {
      sink.copy(line, message.start, message.end);
    } else {
      sink.utf8(escapeText(view.text(message)));
    }
    const fields = view.fields();
    while (fields.next()) {
      sink.byte(0x20);
      token(view, fields.key, sink);
      sink.byte(0x3d);
      token(view, fields.text, sink);
    }
  }
}

function token(view: EntryView, span: TextSpan, sink: ByteSink): void {
  if (!span.escaped && span.end > span.start && allBytesIn(view.line, span.start, span.end, TOKEN_BYTES)) {
    sink.copy(view.line, span.start, span.end);
  } else {
    sink.utf8(formatToken(view.text(span)));
  }
}

function name(view: EntryView, span: TextSpan, sink: ByteSink): void {
  if (!span.escaped && span.end > span.start && allBytesIn(view.line, span.start, span.end, BARE_BYTES)) {
    sink.copy(view.line, span.start, span.end);
  } else {
    sink.utf8(quote(view.text(span)));
  }
}

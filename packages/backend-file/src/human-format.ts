import type { LogEntry } from '@logstream/protocol';

const LABELS = ['EMERG', 'ALERT', 'CRIT', 'ERROR', 'WARN', 'NOTICE', 'INFO', 'DEBUG'];
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
 * The line never holds a control character, DEL, a C1 control, a bidi control or a line
 * separator, so one entry is one line and printing it cannot move a terminal's cursor:
 * - the message is written with JSON string escapes (`\n`, `\\`, `\u001b`, `\u202e`), `"` as is;
 * - a field key or value that is empty or holds whitespace, `"`, `=`, `\` or such a character is
 *   written as a JSON string (`"user id"="a=b"`);
 * - a daemon name that is not printable ASCII without `"`, `:`, `[`, `\` and `]` is written as a
 *   JSON string, so a daemon named `sshd[1]: Accepted…` cannot pass for the prefix of another
 *   daemon's line (`"sshd[1]: Accepted…"[1234]: …`).
 */
export function formatHuman(entry: LogEntry): string {
  const label = (LABELS[entry.level] ?? String(entry.level)).padEnd(5);
  const daemon = BARE_DAEMON.test(entry.daemon) ? entry.daemon : quote(entry.daemon);
  const who = entry.pid === null ? daemon : `${daemon}[${entry.pid}]`;
  let line = `${formatToken(entry.timestamp)} ${label} ${who}: ${escapeText(entry.message)}`;
  const fields = entry.fields;
  for (const key in fields) {
    if (!Object.prototype.hasOwnProperty.call(fields, key)) continue;
    line += ` ${formatToken(key)}=${formatToken(fields[key] as string)}`;
  }
  return line;
}

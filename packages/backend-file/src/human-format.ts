import type { LogEntry } from '@logstream/protocol';

const LABELS = ['EMERG', 'ALERT', 'CRIT', 'ERROR', 'WARN', 'NOTICE', 'INFO', 'DEBUG'];
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f\u007f\\]/;
// eslint-disable-next-line no-control-regex
const NEEDS_QUOTES = /[\s"=\u0000-\u001f\u007f\\]/;

/** Escapes control characters (so that an entry stays on one line) and backslashes. */
function escapeText(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"');
}

function formatValue(value: string): string {
  return value === '' || NEEDS_QUOTES.test(value) ? JSON.stringify(value) : value;
}

/**
 * One entry as a human-readable line, without the newline:
 * `2024-01-15T10:30:45.123Z INFO  web-server[1234]: Request processed user_id=12345`.
 * Control characters in the message are escaped (`\n`), so each entry is one line; field values
 * with spaces, quotes or `=` are quoted as JSON strings.
 */
export function formatHuman(entry: LogEntry): string {
  const label = (LABELS[entry.level] ?? String(entry.level)).padEnd(5);
  const who = entry.pid === null ? entry.daemon : `${entry.daemon}[${entry.pid}]`;
  let line = `${entry.timestamp} ${label} ${escapeText(who)}: ${escapeText(entry.message)}`;
  for (const key of Object.keys(entry.fields)) {
    line += ` ${escapeText(key)}=${formatValue(entry.fields[key] as string)}`;
  }
  return line;
}

import type { LogEntry } from '@logstream/protocol';
import type { OutputFormat } from './cli-args';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f\u007f-\u009f\\]/;

/** Control characters (C0, DEL, C1) and backslashes escaped: one line, nothing a terminal obeys. */
export function escapeText(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return JSON.stringify(text)
    .slice(1, -1)
    .replace(/\\"/g, '"')
    .replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function localIso(ms: number): string {
  const d = new Date(ms);
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function shortTime(ms: number): string {
  const d = new Date(ms);
  return `${MONTHS[d.getMonth()]} ${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * One entry as journalctl prints it, without the newline, in local time:
 * - `short`: `Nov 25 14:30:05 server01 web-server[1234]: Request processed`
 * - `short-iso`: `2026-11-25T14:30:05+01:00 server01 web-server[1234]: Request processed`
 * - `cat`: the message only.
 * (`json` prints the stored line itself and never comes here.)
 */
export function formatEntry(entry: LogEntry, format: Exclude<OutputFormat, 'json'>): string {
  if (format === 'cat') return escapeText(entry.message);
  const ms = Date.parse(entry.timestamp);
  const time = Number.isNaN(ms) ? escapeText(entry.timestamp) : format === 'short' ? shortTime(ms) : localIso(ms);
  const who = entry.pid === null || entry.pid === undefined ? entry.daemon : `${entry.daemon}[${entry.pid}]`;
  return `${time} ${escapeText(entry.hostname ?? '-')} ${escapeText(who)}: ${escapeText(entry.message)}`;
}

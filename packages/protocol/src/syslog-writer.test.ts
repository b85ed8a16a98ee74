import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { storedLine } from '@logstream/test-support';
import { ByteSink } from './byte-sink';
import { encodeEntry } from './canonical-line';
import type { LogEntry } from './entry';
import { formatSyslog, formatSyslogLine, type SyslogFormat, type SyslogFormatOptions } from './syslog-format';
import { SyslogWriter, type SyslogTextMode } from './syslog-writer';

const options: fc.Arbitrary<SyslogFormatOptions | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.record(
    {
      facility: fc.integer({ min: 0, max: 23 }),
      msgId: fc.constantFrom('ID47', 'a b', '#123'),
      hostname: fc.constantFrom('fallback', 'fall back', ''),
      appName: fc.constantFrom('app', 'a:p[p]', '', '#012'),
      sdId: fc.constantFrom('meta@1', 'a=b'),
      utf8Bom: fc.boolean(),
      omitHostname: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
);

function expected(entry: LogEntry, format: SyslogFormat, o: SyslogFormatOptions | undefined, mode: SyslogTextMode): Buffer {
  if (mode === 'file') return Buffer.from(formatSyslogLine(entry, format, o));
  const text = formatSyslog(entry, format, o);
  return Buffer.from(mode === 'lf' ? text.replace(/\n/g, '#012') : text);
}

function written(lines: Buffer[], format: SyslogFormat, o: SyslogFormatOptions | undefined, mode: SyslogTextMode): Buffer[] {
  const writer = new SyslogWriter(format, o, mode);
  const sink = new ByteSink(64);
  const ends: number[] = [];
  for (const line of lines) {
    writer.writeLine(line, sink);
    ends.push(sink.at);
  }
  return ends.map((end, i) => sink.buf.subarray(i === 0 ? 0 : ends[i - 1], end));
}

describe('SyslogWriter (byte path) against formatSyslog / formatSyslogLine (object path)', () => {
  it('writes the same bytes for any entry, format, options and text mode', () => {
    fc.assert(
      fc.property(
        fc.array(storedLine(encodeEntry), { minLength: 1, maxLength: 4 }),
        fc.constantFrom<SyslogFormat>('rfc5424', 'rfc3164'),
        options,
        fc.constantFrom<SyslogTextMode>('file', 'lf', 'none'),
        (items, format, o, mode) => {
          // RFC 3164 writes the current time for a timestamp Date cannot read (a leap second): the
          // two paths would read the clock apart.
          fc.pre(format !== 'rfc3164' || items.every(({ entry }) => !Number.isNaN(Date.parse(entry.timestamp))));
          const got = written(
            items.map((i) => i.line),
            format,
            o,
            mode,
          );
          items.forEach(({ entry }, i) => expect(got[i]?.toString('hex')).toBe(expected(entry, format, o, mode).toString('hex')));
        },
      ),
      { numRuns: Number(process.env.RUNS ?? 1500) },
    );
  });

  it('uses the trusted peer pid for PROCID and [PID], else the entry pid, else none', () => {
    const base: LogEntry = {
      id: 'a',
      timestamp: '2024-01-15T10:30:45.123Z',
      level: 6,
      daemon: 'web',
      message: 'm',
      fields: {},
      pid: 42,
      hostname: 'h',
    };
    const line = (e: LogEntry) => Buffer.from(encodeEntry(e));
    const withPeer = { ...base, peer: { pid: 777, uid: 1000, gid: 1000, comm: 'node' } };
    expect(written([line(withPeer)], 'rfc5424', undefined, 'none')[0]?.toString()).toBe('<14>1 2024-01-15T10:30:45.123Z h web 777 - - m');
    expect(written([line({ ...base, peer: null })], 'rfc5424', undefined, 'none')[0]?.toString()).toBe(
      '<14>1 2024-01-15T10:30:45.123Z h web 42 - - m',
    );
    expect(written([line({ ...withPeer, pid: null })], 'rfc3164', { omitHostname: true }, 'none')[0]?.toString()).toMatch(
      /^<14>Jan 15 \d\d:30:45 web\[777\]: m$/,
    );
    expect(written([line({ ...base, pid: null })], 'rfc3164', { omitHostname: true }, 'none')[0]?.toString()).toMatch(
      /^<14>Jan 15 \d\d:30:45 web: m$/,
    );
  });

  it('formats a line it cannot read as an entry view through the object path', () => {
    // No `fields`: not a stored entry's shape, so the view refuses it and JSON.parse decides.
    const odd = Buffer.from(
      '{"id":"a","timestamp":"2024-01-15T10:30:45.123Z","level":6,"daemon":"d","message":"m\\u001b","pid":1,"hostname":null}',
    );
    const entry = JSON.parse(odd.toString()) as LogEntry;
    expect(written([odd], 'rfc5424', undefined, 'file')[0]?.toString()).toBe(formatSyslogLine(entry, 'rfc5424'));
  });
});

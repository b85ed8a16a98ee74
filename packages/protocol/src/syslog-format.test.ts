import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { decodeSyslogLine, expectOneSafeLine, hostileEntry, sampleEntry } from '@logstream/test-support';
import type { LogEntry } from './entry';
import {
  SYSLOG_FACILITIES,
  escapeParamValue,
  formatRfc3164,
  formatRfc3164Timestamp,
  formatRfc5424,
  formatRfc5424Timestamp,
  formatStructuredData,
  formatSyslog,
  formatSyslogLine,
  parseFacility,
  toSdName,
} from './syslog-format';

const entry = (over: Partial<LogEntry> = {}): LogEntry => ({
  ...sampleEntry({ id: '0b6f3c1e-6f7a-4a57-9d59-1a2b3c4d5e6f', message: 'request handled', fields: {} }),
  ...over,
});

describe('parseFacility', () => {
  it('accepts syslog.h names, bare names in any case, and numbers 0-23', () => {
    expect(parseFacility('LOG_DAEMON')).toBe(3);
    expect(parseFacility('daemon')).toBe(3);
    expect(parseFacility('Log_Local7')).toBe(23);
    expect(parseFacility('local0')).toBe(16);
    expect(parseFacility('authpriv')).toBe(10);
    expect(parseFacility(0)).toBe(0);
    expect(parseFacility(23)).toBe(23);
    expect(parseFacility('12')).toBe(12);
  });

  it('rejects everything else', () => {
    expect(parseFacility('LOG_NOPE')).toBeUndefined();
    expect(parseFacility('')).toBeUndefined();
    expect(parseFacility(24)).toBeUndefined();
    expect(parseFacility(-1)).toBeUndefined();
    expect(parseFacility(1.5)).toBeUndefined();
    expect(parseFacility('LOG_')).toBeUndefined();
    expect(parseFacility('constructor')).toBeUndefined();
  });

  it('has the syslog.h numbers', () => {
    expect(SYSLOG_FACILITIES).toMatchObject({ LOG_KERN: 0, LOG_USER: 1, LOG_FTP: 11, LOG_LOCAL0: 16, LOG_LOCAL7: 23 });
  });
});

describe('formatRfc5424Timestamp', () => {
  it('normalises to milliseconds, upper-case T and Z, keeping the offset', () => {
    expect(formatRfc5424Timestamp('2024-01-15T10:30:45.123Z')).toBe('2024-01-15T10:30:45.123Z');
    expect(formatRfc5424Timestamp('2024-01-15t10:30:45z')).toBe('2024-01-15T10:30:45.000Z');
    expect(formatRfc5424Timestamp('2024-01-15T10:30:45.1+02:00')).toBe('2024-01-15T10:30:45.100+02:00');
    expect(formatRfc5424Timestamp('2024-01-15T10:30:45.123456789-05:30')).toBe('2024-01-15T10:30:45.123-05:30');
  });

  it('turns a leap second into :59.999 and garbage into NILVALUE', () => {
    expect(formatRfc5424Timestamp('2016-12-31T23:59:60.5Z')).toBe('2016-12-31T23:59:59.999Z');
    expect(formatRfc5424Timestamp('not a date')).toBe('-');
  });
});

describe('formatRfc5424', () => {
  it('writes the header, no SD and the message', () => {
    expect(formatRfc5424(entry())).toBe('<14>1 2024-01-15T10:30:45.123Z server01 web-server 1234 - - request handled');
  });

  it('computes PRI from facility and level', () => {
    expect(formatRfc5424(entry({ level: 0 }), { facility: 0 })).toMatch(/^<0>1 /);
    expect(formatRfc5424(entry({ level: 3 }), { facility: 3 })).toMatch(/^<27>1 /);
    expect(formatRfc5424(entry({ level: 7 }), { facility: 23 })).toMatch(/^<191>1 /);
  });

  it('uses NILVALUE for missing hostname, pid and msgid, and the hostname option as fallback', () => {
    expect(formatRfc5424(entry({ hostname: null, pid: null }))).toBe('<14>1 2024-01-15T10:30:45.123Z - web-server - - - request handled');
    expect(formatRfc5424(entry({ hostname: null }), { hostname: 'fallback', msgId: 'REQ' })).toBe(
      '<14>1 2024-01-15T10:30:45.123Z fallback web-server 1234 REQ - request handled',
    );
    expect(formatRfc5424(entry(), { hostname: 'fallback' })).toContain(' server01 ');
  });

  it('keeps header fields printable US-ASCII and within their lengths', () => {
    const out = formatRfc5424(entry({ daemon: 'my daemon\u00e9'.padEnd(60, 'x'), hostname: 'h\u00f6st name' }), {
      msgId: 'M'.repeat(40),
    });
    const [, , host, app, , msgid] = out.split(' ');
    expect(host).toBe('h_st_name');
    expect(app).toBe('my_daemon_'.padEnd(48, 'x'));
    expect(msgid).toBe('M'.repeat(32));
    expect(formatRfc5424(entry({ hostname: 'h'.repeat(300) })).split(' ')[2]).toHaveLength(255);
  });

  it('writes the fields as one SD-ELEMENT with escaped values', () => {
    const out = formatRfc5424(entry({ fields: { user_id: '12345', path: '/a "b" \\c] d' } }));
    expect(out).toBe(
      '<14>1 2024-01-15T10:30:45.123Z server01 web-server 1234 - [logstream@32473 user_id="12345" path="/a \\"b\\" \\\\c\\] d"] request handled',
    );
  });

  it('maps invalid SD-NAME characters to _ and cuts names to 32 characters', () => {
    expect(toSdName('a b=c]d"e')).toBe('a_b_c_d_e');
    expect(toSdName('ключ')).toBe('____');
    expect(toSdName('k'.repeat(40))).toBe('k'.repeat(32));
    expect(toSdName('ok.name-1@x')).toBe('ok.name-1@x');
    expect(formatStructuredData({ 'a b': '1', a_b: '2' })).toBe('[logstream@32473 a_b="1" a_b="2"]');
    expect(formatStructuredData({}, 'x@1')).toBe('-');
    expect(formatStructuredData({ k: 'v' }, 'meta@1')).toBe('[meta@1 k="v"]');
  });

  it('escapes exactly ", \\ and ] in values', () => {
    expect(escapeParamValue('plain [x] "q" \\')).toBe('plain [x\\] \\"q\\" \\\\');
    expect(escapeParamValue('line\nnext')).toBe('line\nnext');
  });

  it('keeps UTF-8 and newlines in the message; BOM only on request; no MSG when empty', () => {
    const message = 'h\u00e9llo \u4e16\u754c\nsecond "line" [x] \\';
    expect(formatRfc5424(entry({ message }))).toMatch(/ - - h\u00e9llo \u4e16\u754c\nsecond "line" \[x\] \\$/);
    expect(formatRfc5424(entry({ message: 'x' }), { utf8Bom: true }).endsWith(' - - \ufeffx')).toBe(true);
    expect(formatRfc5424(entry({ message: '' }))).toBe('<14>1 2024-01-15T10:30:45.123Z server01 web-server 1234 - -');
  });

  it('lets appName and sdId options override the defaults', () => {
    expect(formatRfc5424(entry({ fields: { k: 'v' } }), { appName: 'relay', sdId: 'meta@1' })).toBe(
      '<14>1 2024-01-15T10:30:45.123Z server01 relay 1234 - [meta@1 k="v"] request handled',
    );
  });

  it('has no trailing newline', () => {
    expect(formatRfc5424(entry()).endsWith('\n')).toBe(false);
  });
});

describe('formatRfc3164', () => {
  it('writes <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG in local time', () => {
    const ts = '2024-01-05T10:30:45.123Z';
    const d = new Date(ts);
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const p = (n: number) => String(n).padStart(2, '0');
    const stamp = `${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    expect(formatRfc3164Timestamp(ts)).toBe(stamp);
    expect(formatRfc3164(entry({ timestamp: ts, level: 4 }), { facility: 3 })).toBe(
      `<28>${stamp} server01 web-server[1234]: request handled`,
    );
  });

  it('pads a one-digit day with a space', () => {
    expect(formatRfc3164Timestamp('2024-03-07T12:00:00Z')).toMatch(/^Mar {2}7 |^Mar {2}6 |^Mar {2}8 /);
  });

  it('cuts TAG to 32 characters, maps :, [, ] and spaces, leaves out [PID] when unknown', () => {
    const out = formatRfc3164(entry({ daemon: 'a:b[c] d'.padEnd(40, 'z'), pid: null, hostname: null }));
    expect(out).toMatch(/^<14>\w{3} [ \d]\d \d\d:\d\d:\d\d - a_b_c__d/);
    expect(out).toContain(` ${'a_b_c__d'.padEnd(32, 'z')}: request handled`);
  });

  it('leaves HOSTNAME out on request (the syslog(3) form for /dev/log)', () => {
    expect(formatRfc3164(entry(), { omitHostname: true })).toMatch(
      /^<14>\w{3} [ \d]\d \d\d:\d\d:\d\d web-server\[1234\]: request handled$/,
    );
  });

  it('is chosen by formatSyslog', () => {
    expect(formatSyslog(entry(), 'rfc3164')).toContain(' web-server[1234]: request handled');
    expect(formatSyslog(entry(), 'rfc5424')).toBe(formatRfc5424(entry()));
  });
});

const nastyEntry: fc.Arbitrary<LogEntry> = hostileEntry(['2024-01-15T10:30:45.123Z', '2016-12-31T23:59:60.5+02:00', 'garbage\u001b[2J']);

describe('formatSyslogLine (the syslog file format)', () => {
  it('never writes a control byte, DEL, C1, bidi or line separator: one entry, one line', () => {
    fc.assert(
      fc.property(nastyEntry, fc.constantFrom('rfc5424' as const, 'rfc3164' as const), (e, format) =>
        expectOneSafeLine(formatSyslogLine(e, format)),
      ),
      { numRuns: 500 },
    );
  });

  it('reads back exactly: #ooo is always an escape, a literal "#012" stays literal', () => {
    // A garbage timestamp is written as the current time in RFC 3164: the clock stands still, so
    // that the two formats of one entry cannot fall on either side of a second.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-04T05:06:07.890Z') });
    try {
      fc.assert(
        fc.property(nastyEntry, fc.constantFrom('rfc5424' as const, 'rfc3164' as const), (e, format) => {
          const line = formatSyslogLine(e, format);
          expect(decodeSyslogLine(line)).toBe(Buffer.from(formatSyslog(e, format)).toString('utf8'));
        }),
        { numRuns: 500 },
      );
    } finally {
      vi.useRealTimers();
    }
  });

  it('escapes a newline, ESC, CR, NUL and BEL as #ooo and a literal #012 as #043012', () => {
    const out = formatSyslogLine(entry({ message: 'a\nb #012 c\u001b[2J\r\u0000\u0007 #12 #0x #' }), 'rfc5424');
    expect(out).toBe('<14>1 2024-01-15T10:30:45.123Z server01 web-server 1234 - - a#012b #043012 c#033[2J#015#000#007 #12 #0x #');
  });

  it('escapes C1 controls, bidi controls and line separators as the octal of their UTF-8 bytes', () => {
    expect(formatSyslogLine(entry({ message: 'x\u0085y\u202ez\u2028\u2066é' }), 'rfc3164')).toMatch(
      /web-server\[1234\]: x#302#205y#342#200#256z#342#200#250#342#201#246é$/,
    );
  });

  it('escapes structured-data values too', () => {
    expect(formatSyslogLine(entry({ fields: { k: 'v\n\u001b]0;title\u0007' } }), 'rfc5424')).toContain(
      '[logstream@32473 k="v#012#033\\]0;title#007"]',
    );
  });
});

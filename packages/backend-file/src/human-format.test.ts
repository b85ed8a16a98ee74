import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteSink, encodeEntry, type LogEntry } from '@logstream/protocol';
import { expectOneSafeLine, hostileEntry, sampleEntry, storedLine } from '@logstream/test-support';
import { HumanWriter, formatHuman } from './human-format';

const entry = (over: Partial<LogEntry> = {}): LogEntry => ({ ...sampleEntry({ id: 'id-1' }), ...over });
const nastyEntry: fc.Arbitrary<LogEntry> = hostileEntry();
const LABELS = ['EMERG', 'ALERT', 'CRIT ', 'ERROR', 'WARN ', 'NOTICE', 'INFO ', 'DEBUG'];
// A daemon printed bare is printable ASCII without '"', ':', '[', '\' and ']'; anything else is quoted.
const WHO = String.raw`([\x21\x23-\x39\x3b-\x5a\x5e-\x7e]+|"(?:[^"\\]|\\.)*")`;
const TOKEN = String.raw`([^\s"=\\]+|"(?:[^"\\]|\\.)*")`;
const unquote = (token: string): string => (token.startsWith('"') ? (JSON.parse(token) as string) : token);

describe('formatHuman', () => {
  it('never writes a control byte, DEL, C1, bidi or line separator: one entry, one line', () => {
    fc.assert(
      fc.property(nastyEntry, (e) => expectOneSafeLine(formatHuman(e))),
      { numRuns: 500 },
    );
  });

  it('has a prefix no daemon name can forge: the daemon reads back, then [pid]: and the message', () => {
    fc.assert(
      fc.property(nastyEntry, (e) => {
        const line = formatHuman({ ...e, fields: {} });
        const m = new RegExp(`^(\\S+) (\\S+) +${WHO}(?:\\[(\\d+)\\])?: (.*)$`, 's').exec(line);
        expect(m).not.toBeNull();
        const [, ts, label, who, pid, rest] = m as unknown as string[];
        expect(ts).toBe(e.timestamp);
        expect(label).toBe((LABELS[e.level] as string).trim());
        expect(unquote(who as string)).toBe(e.daemon);
        expect(pid === undefined ? null : Number(pid)).toBe(e.pid);
        // The message is JSON string text without the quotes ('"' is left as is).
        expect(JSON.parse(`"${(rest as string).replace(/"/g, '\\"')}"`)).toBe(e.message);
      }),
      { numRuns: 500 },
    );
  });

  it('writes each field as key=value that reads back, whatever the key and value hold', () => {
    fc.assert(
      fc.property(nastyEntry, (e) => {
        const line = formatHuman({ ...e, daemon: 'd', message: 'm' });
        const head = `${e.timestamp} ${LABELS[e.level] as string} d${e.pid === null ? '' : `[${e.pid}]`}: m`;
        expect(line.startsWith(head)).toBe(true);
        const pair = new RegExp(` ${TOKEN}=${TOKEN}`, 'y');
        pair.lastIndex = head.length;
        const fields: [string, string][] = [];
        while (pair.lastIndex < line.length) {
          const m = pair.exec(line);
          expect(m).not.toBeNull();
          fields.push([unquote((m as RegExpExecArray)[1] as string), unquote((m as RegExpExecArray)[2] as string)]);
        }
        expect(fields).toEqual(Object.entries(e.fields));
      }),
      { numRuns: 500 },
    );
  });

  it('quotes a daemon that would forge a prefix', () => {
    expect(formatHuman(entry({ daemon: 'sshd[1]: Accepted password for root from 10.0.0.1', message: 'x' }))).toBe(
      '2024-01-15T10:30:45.123Z INFO  "sshd[1]: Accepted password for root from 10.0.0.1"[1234]: x user_id=12345',
    );
    expect(formatHuman(entry({ daemon: 'cron', pid: null, message: 'x', fields: {} }))).toBe('2024-01-15T10:30:45.123Z INFO  cron: x');
    expect(formatHuman(entry({ daemon: 'a"b', pid: null, message: 'x', fields: {} }))).toBe('2024-01-15T10:30:45.123Z INFO  "a\\"b": x');
  });

  it('quotes keys and values with spaces, "=", quotes or backslashes', () => {
    expect(formatHuman(entry({ message: 'm', fields: { 'user id': 'root', 'a=b': 'x=y', 'q"': 'c:\\dir', ok: 'ünï' } }))).toBe(
      '2024-01-15T10:30:45.123Z INFO  web-server[1234]: m "user id"=root "a=b"="x=y" "q\\""="c:\\\\dir" ok=ünï',
    );
  });

  it('escapes control bytes, C1, bidi controls and line separators JSON-style', () => {
    expect(formatHuman(entry({ message: 'a\u001b[2J\r\u0000\u0007\u0085\u202e\u2028\t\\n', fields: { k: '\u001b' } }))).toBe(
      '2024-01-15T10:30:45.123Z INFO  web-server[1234]: a\\u001b[2J\\r\\u0000\\u0007\\u0085\\u202e\\u2028\\t\\\\n k="\\u001b"',
    );
  });
});

describe('HumanWriter (byte path) against formatHuman (object path)', () => {
  it('writes the same bytes for any entry, its peer absent, null or known', () => {
    fc.assert(
      fc.property(fc.array(storedLine(encodeEntry), { minLength: 1, maxLength: 4 }), (items) => {
        const writer = new HumanWriter();
        const sink = new ByteSink(64);
        for (const { line } of items) {
          writer.writeLine(line, sink);
          sink.byte(0x0a);
        }
        const want = items.map(({ entry }) => `${formatHuman(entry)}\n`).join('');
        expect(sink.bytes().toString('hex')).toBe(Buffer.from(want).toString('hex'));
      }),
      { numRuns: 1500 },
    );
  });
});

describe('formatHuman with the sender as the kernel says (peer)', () => {
  const line = (e: LogEntry): string => {
    const sink = new ByteSink();
    new HumanWriter().writeLine(Buffer.from(encodeEntry(e)), sink);
    const text = sink.bytes().toString();
    expect(text).toBe(formatHuman(e));
    return text;
  };

  it('shows the trusted pid in brackets, then uid, comm and unit; the claimed pid stays in json only', () => {
    expect(
      line(entry({ fields: {}, peer: { pid: 4321, uid: 1000, gid: 1000, comm: 'node', exe: '/usr/bin/node', unit: 'web.service' } })),
    ).toBe('2024-01-15T10:30:45.123Z INFO  web-server[4321] uid=1000 comm=node unit=web.service: Request processed');
    expect(line(entry({ fields: {}, pid: null, peer: { pid: 9, uid: 0, gid: 0 } }))).toBe(
      '2024-01-15T10:30:45.123Z INFO  web-server[9] uid=0: Request processed',
    );
  });

  it('quotes a comm or unit that could forge the prefix', () => {
    expect(line(entry({ fields: {}, peer: { pid: 5, uid: 1, gid: 1, comm: 'x]: y', unit: '' } }))).toBe(
      '2024-01-15T10:30:45.123Z INFO  web-server[5] uid=1 comm="x]: y" unit="": Request processed',
    );
  });

  it('says so when the server could not read the credentials (peer null)', () => {
    expect(line(entry({ fields: {}, peer: null }))).toBe('2024-01-15T10:30:45.123Z INFO  web-server[1234] peer=unknown: Request processed');
  });
});

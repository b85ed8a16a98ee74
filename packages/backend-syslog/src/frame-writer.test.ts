import fc from 'fast-check';
import { ByteSink, encodeEntry, formatSyslog, type SyslogFormat, type SyslogFormatOptions } from '@logstream/protocol';
import { storedLine } from '@logstream/test-support';
import { describe, expect, it } from 'vitest';
import { FrameWriter } from './frame-writer';
import { frameMessage, type SyslogFraming } from './framing';

describe('FrameWriter (byte path) against frameMessage(formatSyslog(entry)) (object path)', () => {
  it('writes the same frames for any entry, format, framing and message limit', () => {
    fc.assert(
      fc.property(
        fc.array(storedLine(encodeEntry), { minLength: 1, maxLength: 4 }),
        fc.constantFrom<SyslogFormat>('rfc5424', 'rfc3164'),
        fc.constantFrom<SyslogFraming | 'none'>('none', 'lf', 'octet-counting'),
        fc.constantFrom(1, 60, 200, 480, 2048, 64 * 1024),
        fc.constantFrom<SyslogFormatOptions>({}, { facility: 16, msgId: 'M', utf8Bom: true }, { omitHostname: true, appName: 'x y' }),
        (items, format, framing, max, options) => {
          // RFC 3164 writes the current time for a timestamp Date cannot read (a leap second): the
          // two paths would read the clock apart.
          fc.pre(format !== 'rfc3164' || items.every(({ entry }) => !Number.isNaN(Date.parse(entry.timestamp))));
          const writer = new FrameWriter(format, options, framing, max);
          const sink = new ByteSink(16);
          const frames = items.map(({ line }) => writer.write(line, sink));
          items.forEach(({ entry }, i) => {
            const want = frameMessage(formatSyslog(entry, format, options), framing, max);
            expect(frames[i]?.frame.toString('hex')).toBe(want.frame.toString('hex'));
            expect(frames[i]?.truncated).toBe(want.truncated);
          });
        },
      ),
      { numRuns: 1500 },
    );
  });
});

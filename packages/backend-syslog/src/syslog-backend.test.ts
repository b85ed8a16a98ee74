import { describe, expect, it } from 'vitest';
import { SyslogBackend } from './syslog-backend';

describe('SyslogBackend options', () => {
  it('has the documented defaults', () => {
    const b = new SyslogBackend();
    expect([b.name, b.format, b.facility, b.socketPath, b.server]).toEqual(['syslog', 'rfc3164', 1, '/dev/log', undefined]);
    expect(new SyslogBackend({ server: 'udp://h' }).format).toBe('rfc5424');
    expect(new SyslogBackend({ format: 'rfc5424' }).format).toBe('rfc5424');
    expect(new SyslogBackend({ facility: 'LOG_LOCAL4', server: 'tcp://h:1' }).facility).toBe(20);
    expect(new SyslogBackend({ server: null, socketPath: '/x' }).socketPath).toBe('/x');
  });

  it('rejects bad values as config errors that name the option as this package spells it', () => {
    const bad: [object, RegExp][] = [
      [{ facility: 'LOG_NOPE' }, /facility "LOG_NOPE"/],
      [{ facility: 24 }, /facility 24/],
      [{ format: 'rfc9999' }, /format "rfc9999"/],
      [{ framing: 'nul' }, /framing "nul"/],
      [{ server: 'ftp://h' }, /"ftp:\/\/h"/],
      [{ maxBufferedEntries: 0 }, /^syslog: maxBufferedEntries 0: expected a positive integer$/],
      [{ connectTimeoutMs: 1.5 }, /^syslog: connectTimeoutMs 1.5: expected a positive integer$/],
      [{ maxMessageBytes: 100 }, /^syslog: maxMessageBytes 100: expected 480 to maxBufferedBytes \(8388608\)$/],
      [{ maxMessageBytes: 2048, maxBufferedBytes: 1024 }, /maxMessageBytes 2048: expected 480 to maxBufferedBytes \(1024\)/],
      [{ server: 'tcp://h:1', tls: { ca: '/x' } }, /^syslog: tls is set but server "tcp:\/\/h:1" is not tls:\/\/$/],
    ];
    for (const [options, message] of bad) {
      expect(() => new SyslogBackend(options as never), JSON.stringify(options)).toThrow(message);
      expect(() => new SyslogBackend(options as never)).toThrow(expect.objectContaining({ kind: 'config' }));
    }
  });

  it('rejects write() after close()', async () => {
    const b = new SyslogBackend({ server: 'udp://127.0.0.1:9' });
    await b.close();
    await b.close();
    const { EntryBatch } = await import('@logstream/protocol');
    await expect(b.write(EntryBatch.fromEntries([]))).rejects.toMatchObject({ kind: 'io', code: 'CLOSED' });
  });
});

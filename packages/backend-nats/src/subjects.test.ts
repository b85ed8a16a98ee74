import { describe, expect, it } from 'vitest';
import { coversPrefix, isStreamName, isSubjectPrefix, subjectToken } from './subjects';

describe('subjects', () => {
  it('makes a daemon name one subject token', () => {
    expect(subjectToken('web-server_1')).toBe('web-server_1');
    expect(subjectToken('my app.v2*>')).toBe('my_app_v2__');
    expect(subjectToken('d\u00e9mon\ttab')).toBe('d_mon_tab');
    expect(subjectToken('')).toBe('_');
    expect(subjectToken('x'.repeat(300))).toHaveLength(64);
  });

  it('checks prefixes and stream names', () => {
    expect(isSubjectPrefix('logs')).toBe(true);
    expect(isSubjectPrefix('logs.host1')).toBe(true);
    for (const bad of ['', 'logs.', '.logs', 'logs..x', 'logs.*', 'logs.>', 'lo gs']) expect(isSubjectPrefix(bad)).toBe(false);
    expect(isStreamName('LOGSTREAM')).toBe(true);
    for (const bad of ['', 'A.B', 'A B', 'A*', 'A>', 'A/B', 'A\\B']) expect(isStreamName(bad)).toBe(false);
  });

  it('tells whether a stream subject takes every <prefix>.<token>', () => {
    expect(coversPrefix('logs.>', 'logs')).toBe(true);
    expect(coversPrefix('>', 'logs')).toBe(true);
    expect(coversPrefix('logs.*', 'logs')).toBe(true);
    expect(coversPrefix('*.>', 'logs')).toBe(true);
    expect(coversPrefix('a.>', 'a.b')).toBe(true);
    expect(coversPrefix('a.*.*', 'a.b')).toBe(true);
    expect(coversPrefix('logs', 'logs')).toBe(false);
    expect(coversPrefix('logs.web', 'logs')).toBe(false);
    expect(coversPrefix('other.>', 'logs')).toBe(false);
    expect(coversPrefix('logs.*.*', 'logs')).toBe(false);
    expect(coversPrefix('a.*', 'a.b')).toBe(false);
  });
});

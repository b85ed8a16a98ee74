import { describe, expect, it } from 'vitest';
import { DEFAULT_CLI_LEVEL, parseCliArgs, parsePriority } from './cli-args';

const parse = (argv: string[], env: { LOGSTREAM_SOCKET?: string } = {}) => parseCliArgs(argv, env, 'alice');

describe('parsePriority', () => {
  it('takes level names, their aliases, numbers 0-7 and facility.level', () => {
    expect(parsePriority('warning')).toBe(4);
    expect(parsePriority('WARN')).toBe(4);
    expect(parsePriority('err')).toBe(3);
    expect(parsePriority('emerg')).toBe(0);
    expect(parsePriority('0')).toBe(0);
    expect(parsePriority('7')).toBe(7);
    expect(parsePriority('user.notice')).toBe(5);
    expect(parsePriority('local0.err')).toBe(3);
    expect(parsePriority('daemon.6')).toBe(6);
    expect(parsePriority('LOG_LOCAL7.debug')).toBe(7);
    expect(parsePriority('1.5')).toBe(5); // facility 1 (user), level 5
  });

  it('refuses anything else', () => {
    for (const bad of ['loud', '8', '-1', '30.5', '', 'user.', 'nosuch.err', 'user.loud', '09']) {
      expect(parsePriority(bad), bad).toBeUndefined();
    }
  });
});

describe('parseCliArgs', () => {
  it('reads a message with fields, tag, priority and socket', () => {
    expect(parse(['-t', 'my-daemon', '-p', 'warning', 'disk almost full', 'mount=/var', 'key=a=b'])).toEqual({
      ok: true,
      action: 'run',
      options: {
        socketPath: '/tmp/logstream.sock',
        tag: 'my-daemon',
        level: 4,
        message: 'disk almost full',
        fields: { mount: '/var', key: 'a=b' },
      },
    });
    expect(parse(['--tag=x', '--priority', 'user.err', '--socket', '/run/l.sock', 'hi'])).toMatchObject({
      options: { tag: 'x', level: 3, socketPath: '/run/l.sock', message: 'hi', fields: {} },
    });
  });

  it('defaults to the given tag, notice, and $LOGSTREAM_SOCKET; -s wins over it', () => {
    expect(parse(['hi'], { LOGSTREAM_SOCKET: '/run/x.sock' })).toMatchObject({
      options: { tag: 'alice', level: DEFAULT_CLI_LEVEL, socketPath: '/run/x.sock' },
    });
    expect(DEFAULT_CLI_LEVEL).toBe(5);
    expect(parse(['-s', '/a.sock', 'hi'], { LOGSTREAM_SOCKET: '/run/x.sock' })).toMatchObject({ options: { socketPath: '/a.sock' } });
    expect(parse(['hi'], { LOGSTREAM_SOCKET: '' })).toMatchObject({ options: { socketPath: '/tmp/logstream.sock' } });
  });

  it('joins words into the message like logger, up to the first key=value', () => {
    expect(parse(['disk', 'almost', 'full', 'mount=/var'])).toMatchObject({
      options: { message: 'disk almost full', fields: { mount: '/var' } },
    });
    // The first word is the message even when it has an "=".
    expect(parse(['a=b', 'c=d'])).toMatchObject({ options: { message: 'a=b', fields: { c: 'd' } } });
    expect(parse(['x', '=y'])).toMatchObject({ options: { message: 'x =y', fields: {} } });
    expect(parse(['--', '-starts with a dash'])).toMatchObject({ options: { message: '-starts with a dash' } });
    expect(parse(['msg', 'k=v', 'stray'])).toEqual({ ok: false, error: 'expected key=value after the message, got "stray"' });
  });

  it('means standard input when there is no message', () => {
    expect(parse(['-t', 'x'])).toMatchObject({ ok: true, options: { message: undefined, fields: {} } });
  });

  it('reports usage errors in one line', () => {
    const bad = parse(['-p', 'loud', 'x']);
    expect(bad).toEqual({
      ok: false,
      error:
        '-p/--priority: "loud" is not a level (emergency, alert, critical, error, warning, notice, info, debug, 0-7, or facility.level)',
    });
    expect(parse(['-t', '{json', 'x'])).toMatchObject({ ok: false, error: expect.stringContaining('-t/--tag') });
    expect(parse(['-s', '', 'x'])).toMatchObject({ ok: false, error: '-s/--socket: empty path' });
    expect(parse(['-x'])).toMatchObject({ ok: false, error: expect.stringContaining("'-x'") });
    expect(parse(['-p'])).toMatchObject({ ok: false });
    for (const r of [parse(['-p', 'loud', 'x']), parse(['-x'])]) expect(r.ok === false && r.error.includes('\n')).toBe(false);
  });

  it('asks for help or the version', () => {
    expect(parse(['--help'])).toEqual({ ok: true, action: 'help' });
    expect(parse(['-h', '-p', 'loud'])).toEqual({ ok: true, action: 'help' });
    expect(parse(['-V'])).toEqual({ ok: true, action: 'version' });
  });
});

import { describe, expect, it } from 'vitest';
import { DEFAULT_OUTPUT_DIRECTORY, parseQueryArgs } from './cli-args';

const NOW = Date.parse('2026-11-25T14:30:00.000Z');

describe('parseQueryArgs', () => {
  it('defaults: the server directory, or LOGSTREAM_DIR', () => {
    expect(parseQueryArgs([]).directory).toBe(DEFAULT_OUTPUT_DIRECTORY);
    expect(parseQueryArgs([], { LOGSTREAM_DIR: '/srv/logs' }).directory).toBe('/srv/logs');
    expect(parseQueryArgs(['-D', '/x'], { LOGSTREAM_DIR: '/srv/logs' }).directory).toBe('/x');
  });

  it('reads getopt forms: attached values, clusters, long options with =, and -S -1h', () => {
    const a = parseQueryArgs(
      ['-tweb', '--identifier=db', '-rn5', '-S', '-1h', '--until=now', '-o', 'cat', 'k=1', 'k=2', 'fields.x=a=b'],
      {},
      NOW,
    );
    expect(a.filter.daemons).toEqual(['web', 'db']);
    expect(a.reverse).toBe(true);
    expect(a.last).toBe(5);
    expect(a.filter.sinceMs).toBe(NOW - 3_600_000);
    expect(a.filter.untilMs).toBe(NOW);
    expect(a.output).toBe('cat');
    expect(a.filter.fields).toEqual({ k: ['1', '2'], 'fields.x': ['a=b'] });
  });

  it('-n alone means 10; -n N takes a number', () => {
    expect(parseQueryArgs(['-n']).last).toBe(10);
    expect(parseQueryArgs(['-n', '-r']).last).toBe(10);
    expect(parseQueryArgs(['-n', '3']).last).toBe(3);
    expect(parseQueryArgs(['--lines']).last).toBe(10);
  });

  it('-g is case-insensitive unless the pattern has upper case (smart case)', () => {
    expect(parseQueryArgs(['-g', 'timeout']).filter.grep?.flags).toContain('i');
    expect(parseQueryArgs(['-g', 'Timeout']).filter.grep?.flags).not.toContain('i');
  });

  it('after --, nothing is an option', () => {
    expect(parseQueryArgs(['--', 'k=-1']).filter.fields).toEqual({ k: ['-1'] });
    expect(() => parseQueryArgs(['--', '-r'])).toThrow('unexpected argument "-r" (expected FIELD=VALUE)');
  });

  it.each([
    [['-x'], 'unknown option -x'],
    [['--directory'], '--directory: missing value'],
    [['--reverse=yes'], '--reverse takes no value'],
    [['-S', 'tomorrow', '-U', 'today'], '-S is after -U: nothing can match'],
    [['-D', ''], '-D: expected a directory'],
    [['--after-cursor='], '--after-cursor: expected a cursor'],
  ])('%j → %s', (argv, message) => {
    expect(() => parseQueryArgs(argv)).toThrow(message);
  });
});

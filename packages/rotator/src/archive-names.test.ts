import { describe, expect, it } from 'vitest';
import { ArchiveNamer, formatStamp } from './archive-names';

describe('ArchiveNamer', () => {
  const namer = new ArchiveNamer('current.log');
  const t = Date.UTC(2026, 10, 24, 19, 30, 12, 123);

  it('formats the rotation time (UTC, no colons) and a 6-digit sequence', () => {
    expect(formatStamp(t)).toBe('20261124T193012.123Z');
    expect(namer.format(t, 1)).toBe('current-20261124T193012.123Z-000001.log');
    expect(namer.format(t, 42, 'gzip')).toBe('current-20261124T193012.123Z-000042.log.gz');
    expect(namer.format(t, 42, 'lz4')).toBe('current-20261124T193012.123Z-000042.log.lz4');
    expect(namer.temporaryName('x.log.gz')).toBe('x.log.gz.tmp');
    expect(namer.nextLiveName).toBe('.current.log.next');
  });

  it('parses what it formats, temporaries included', () => {
    expect(namer.parse(namer.format(t, 7, 'lz4'))).toEqual({
      name: 'current-20261124T193012.123Z-000007.log.lz4',
      timeMs: t,
      seq: 7,
      compression: 'lz4',
      temporary: false,
    });
    expect(namer.parse('current-20261124T193012.123Z-000007.log.gz.tmp')).toMatchObject({ seq: 7, compression: 'gzip', temporary: true });
    expect(namer.parse('current-20261124T193012.123Z-1234567.log')).toMatchObject({ seq: 1234567 });
  });

  it('ignores files that are not ours', () => {
    for (const name of [
      'current.log',
      'current.log.1',
      '.current.log.next',
      'current-20261124T193012.123Z-000001.log.tmp',
      'current-20261124T193012.123Z-000001.log.bz2',
      'current-20261124T193012Z-000001.log',
      'current-20261399T193012.123Z-000001.log',
      'other-20261124T193012.123Z-000001.log',
      'current-20261124T193012.123Z-00001.log',
    ]) {
      expect(namer.parse(name), name).toBeUndefined();
    }
  });

  it('sorts names by time, then by sequence, as plain strings', () => {
    const names = [
      namer.format(t + 1, 3),
      namer.format(t, 2),
      namer.format(t, 1),
      namer.format(t + 86_400_000, 4),
      namer.format(t + 3_600_000 * 1000, 5),
    ];
    const sorted = [...names].sort();
    expect(sorted.map((n) => namer.parse(n)?.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('handles names without an extension and with regex characters', () => {
    const plain = new ArchiveNamer('app');
    expect(plain.format(t, 1)).toBe('app-20261124T193012.123Z-000001');
    expect(plain.parse('app-20261124T193012.123Z-000001.gz')).toMatchObject({ compression: 'gzip' });
    const odd = new ArchiveNamer('a+b(c).log');
    expect(odd.parse(odd.format(t, 3))).toMatchObject({ seq: 3 });
    expect(odd.parse('aab(c)-20261124T193012.123Z-000003.log')).toBeUndefined();
  });
});

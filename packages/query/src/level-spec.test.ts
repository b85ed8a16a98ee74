import { describe, expect, it } from 'vitest';
import { parseLevelSpec } from './level-spec';

describe('parseLevelSpec', () => {
  it('one level means it and every more severe one', () => {
    expect(parseLevelSpec('3')).toEqual({ minLevel: 0, maxLevel: 3 });
    expect(parseLevelSpec('err')).toEqual({ minLevel: 0, maxLevel: 3 });
    expect(parseLevelSpec('WARNING')).toEqual({ minLevel: 0, maxLevel: 4 });
    expect(parseLevelSpec('0')).toEqual({ minLevel: 0, maxLevel: 0 });
  });

  it('FROM..TO is a range, both ends included, in either order', () => {
    expect(parseLevelSpec('0..3')).toEqual({ minLevel: 0, maxLevel: 3 });
    expect(parseLevelSpec('emerg..err')).toEqual({ minLevel: 0, maxLevel: 3 });
    expect(parseLevelSpec('info..warning')).toEqual({ minLevel: 4, maxLevel: 6 });
  });

  it('refuses what is not a level', () => {
    for (const bad of ['8', '-1', '3.0', 'loud', '1..9', '1..2..3', '..3', '']) expect(parseLevelSpec(bad), bad).toBeUndefined();
  });
});

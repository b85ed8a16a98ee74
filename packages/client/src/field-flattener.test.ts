import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileRedact, flattenFields, isFlat, MAX_FIELD_DEPTH, MAX_FIELDS } from './field-flattener';

describe('flattenFields', () => {
  it('gives dotted keys, decimal text, ISO dates and markers', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    expect(
      flattenFields({
        a: { b: { c: 'x' } },
        n: -1.5,
        big: 10n,
        t: true,
        d: new Date(1000),
        bad: new Date(Number.NaN),
        u: undefined,
        z: null,
        e: {},
        arr: [],
        m: new Map([['k', 1]]),
        s: new Set(['v']),
        url: new URL('http://h/p'),
        buf: Buffer.from('abc'),
        re: /x/g,
        sym: Symbol('s'),
        cyclic,
        f: () => 1,
      }),
    ).toEqual({
      'a.b.c': 'x',
      n: '-1.5',
      big: '10',
      t: 'true',
      d: '1970-01-01T00:00:01.000Z',
      bad: 'Invalid Date',
      z: 'null',
      e: '{}',
      arr: '[]',
      'm.k': '1',
      's.0': 'v',
      url: 'http://h/p',
      buf: '[Buffer 3 bytes]',
      re: '/x/g',
      sym: 'Symbol(s)',
      'cyclic.me': '[Circular]',
      f: '[Function: f]',
    });
  });

  it('flattens an Error with its type, message, stack, own props, cause chain and AggregateError errors', () => {
    const inner = new RangeError('inner');
    const e = Object.assign(new Error('outer', { cause: inner }), { code: 'E1', status: 503 });
    const f = flattenFields({ err: e, agg: new AggregateError([new Error('a')], 'many') });
    expect(f).toMatchObject({
      'err.type': 'Error',
      'err.message': 'outer',
      'err.code': 'E1',
      'err.status': '503',
      'err.cause.type': 'RangeError',
      'err.cause.message': 'inner',
      'agg.type': 'AggregateError',
      'agg.errors.0.message': 'a',
    });
    expect(f['err.stack']).toContain('Error: outer');
    expect(flattenFields(new Error('top'))).toMatchObject({ 'err.message': 'top' });
  });

  it('never throws: throwing getters, throwing proxies, toJSON that throws', () => {
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    const f = flattenFields({
      get g(): string {
        throw new Error('nope');
      },
      proxy,
      j: {
        toJSON() {
          throw new Error('no json');
        },
      },
    });
    expect(f).toEqual({ g: '[Throws: nope]', proxy: '[Throws: no keys]', j: '[Throws: no json]' });
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true }), (v) => {
        const out = flattenFields({ v });
        for (const value of Object.values(out)) expect(typeof value).toBe('string');
      }),
    );
  });

  it('bounds depth and field count', () => {
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < MAX_FIELD_DEPTH + 5; i++) deep = { d: deep };
    const f = flattenFields(deep);
    expect(Object.values(f)).toEqual(['[Object]']);
    const wide = Object.fromEntries(Array.from({ length: MAX_FIELDS + 10 }, (_, i) => [`k${i}`, i]));
    const g = flattenFields(wide);
    expect(Object.keys(g)).toHaveLength(MAX_FIELDS + 1);
    expect(g._truncated).toBe(`10 fields omitted (at most ${MAX_FIELDS})`);
  });

  it('keeps a "__proto__" key as a field and lets later fields win over bindings', () => {
    const f = flattenFields(JSON.parse('{"__proto__":"x","a":"2"}'), { a: '1', b: '1' });
    expect(Object.keys(f).sort()).toEqual(['__proto__', 'a', 'b']);
    expect(f.a).toBe('2');
  });
});

describe('compileRedact', () => {
  it('parses pino paths: dots, brackets, quotes, indexes and wildcards', () => {
    const r = compileRedact(['a.b', 'c["x-y"].d', "e['q.r']", 'f[0]', 'g[*].h', '*.secret']);
    const f = flattenFields(
      { a: { b: 1, c: 2 }, c: { 'x-y': { d: 3 } }, f: ['p', 'q'], g: [{ h: 1, i: 2 }], k: { secret: 's' }, secret: 'top' },
      undefined,
      r,
    );
    expect(f).toEqual({
      'a.b': '[Redacted]',
      'a.c': '2',
      'c.x-y.d': '[Redacted]',
      'f.0': '[Redacted]',
      'f.1': 'q',
      'g.0.h': '[Redacted]',
      'g.0.i': '2',
      'k.secret': '[Redacted]',
      secret: 'top',
    });
  });

  it('takes a censor function and remove', () => {
    const censor = compileRedact({ paths: ['pw'], censor: (v, path) => `${path}:${String(v).length}` });
    expect(flattenFields({ pw: 'hunter2' }, undefined, censor)).toEqual({ pw: 'pw:7' });
    expect(flattenFields({ pw: 'x', ok: 'y' }, undefined, compileRedact({ paths: ['pw'], remove: true }))).toEqual({ ok: 'y' });
  });

  it('refuses a path it cannot parse, naming it', () => {
    expect(() => compileRedact(['a.'])).toThrow('redact: bad path "a.": ends with .');
    expect(() => compileRedact(['a[x]'])).toThrow('redact: bad path "a[x]": [x] is not an index, * or a quoted key');
    expect(() => compileRedact(['a["b]'])).toThrow('redact: bad path "a[\\"b]": unclosed "');
  });
});

describe('isFlat', () => {
  it('is true only for strings, numbers and booleans, and false for a throwing getter', () => {
    expect(isFlat({ a: 'x', b: 1, c: false })).toBe(true);
    expect(isFlat({ a: {} })).toBe(false);
    expect(isFlat({ a: undefined })).toBe(false);
    expect(
      isFlat({
        get a(): string {
          throw new Error('x');
        },
      }),
    ).toBe(false);
  });
});

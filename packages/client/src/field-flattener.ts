import { inspect } from 'node:util';
import { LogStreamError } from '@logstream/protocol';

/** Fields as they go on the wire: a flat map of strings (the protocol's `LogFields`). */
export type FlatFields = Record<string, string>;

/** Nesting below which objects are not opened: `[Object]` / `[Array]` instead. */
export const MAX_FIELD_DEPTH = 10;
/** Fields per entry; past this the rest is counted in one `_truncated` field. */
export const MAX_FIELDS = 512;

/** Markers for values that have no text of their own. */
export const CIRCULAR = '[Circular]';

/** Redaction of field paths, in pino's `redact` syntax. */
export type RedactOptions =
  | readonly string[]
  | {
      /** Paths such as `req.headers.authorization`, `a["x-y"].b`, `users[*].password`, `*.secret`. */
      paths: readonly string[];
      /** What replaces a redacted value: a text, or a function of the value and its dotted path. Default `[Redacted]`. */
      censor?: string | ((value: unknown, path: string) => unknown);
      /** Remove redacted fields instead of censoring them. Default false. */
      remove?: boolean;
    };

/** Compiled redaction: tested against each dotted key as the flattening reaches it. */
export interface Redactor {
  readonly pattern: RegExp;
  readonly censor: string | ((value: unknown, path: string) => unknown);
  readonly remove: boolean;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One pino redact path as the segments of a dotted key (`*` for any one segment). */
function parsePath(path: string): string[] {
  const segments: string[] = [];
  let i = 0;
  const bad = (why: string) => new LogStreamError('config', `redact: bad path ${JSON.stringify(path)}: ${why}`);
  while (i < path.length) {
    const c = path[i];
    if (c === '[') {
      const q = path[i + 1];
      if (q === '"' || q === "'") {
        const end = path.indexOf(`${q}]`, i + 2);
        if (end === -1) throw bad(`unclosed ${q}`);
        segments.push(path.slice(i + 2, end));
        i = end + 2;
      } else {
        const end = path.indexOf(']', i);
        if (end === -1) throw bad('unclosed [');
        const inner = path.slice(i + 1, end);
        if (inner !== '*' && !/^\d+$/.test(inner)) throw bad(`[${inner}] is not an index, * or a quoted key`);
        segments.push(inner);
        i = end + 1;
      }
      if (path[i] === '.') i++;
    } else {
      let end = i;
      while (end < path.length && path[end] !== '.' && path[end] !== '[') end++;
      if (end === i) throw bad('empty segment');
      segments.push(path.slice(i, end));
      i = end;
      if (path[i] === '.') {
        i++;
        if (i === path.length) throw bad('ends with .');
      }
    }
  }
  if (segments.length === 0) throw bad('empty');
  return segments;
}

/**
 * Compiles pino-style redact paths.
 * @throws LogStreamError (kind `config`) for a path that cannot be parsed
 */
export function compileRedact(options: RedactOptions | undefined): Redactor | undefined {
  if (options === undefined) return undefined;
  const paths = Array.isArray(options) ? (options as readonly string[]) : (options as { paths: readonly string[] }).paths;
  if (!Array.isArray(paths)) throw new LogStreamError('config', 'redact: expected an array of paths or { paths, censor, remove }');
  if (paths.length === 0) return undefined;
  const alternatives = paths.map((p) => {
    if (typeof p !== 'string') throw new LogStreamError('config', `redact: paths must be strings, got ${typeof p}`);
    return parsePath(p)
      .map((s) => (s === '*' ? '[^.]*' : escapeRegExp(s)))
      .join('\\.');
  });
  const o = Array.isArray(options) ? {} : (options as { censor?: Redactor['censor']; remove?: boolean });
  return { pattern: new RegExp(`^(?:${alternatives.join('|')})$`), censor: o.censor ?? '[Redacted]', remove: o.remove === true };
}

function isError(value: object): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

function describeThrow(error: unknown): string {
  try {
    return `[Throws: ${error instanceof Error ? error.message : String(error)}]`;
  } catch {
    return '[Throws]';
  }
}

/** A primitive as field text; undefined for an object (opened by the flattening instead). */
function primitiveText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'symbol':
      return value.toString();
    case 'function':
      return `[Function: ${value.name || 'anonymous'}]`;
    case 'undefined':
      return undefined;
  }
  return value === null ? 'null' : undefined;
}

/** Message text of any value, never throwing. */
export function messageText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  try {
    if (typeof value === 'object' && value !== null && isError(value)) return String(value.message);
    // An object where a message belongs: as util.inspect shows it, never `[object Object]`.
    return primitiveText(value) ?? inspect(value, { depth: 2, breakLength: Infinity });
  } catch (error) {
    return describeThrow(error);
  }
}

class Flattening {
  readonly out: FlatFields;
  readonly redact: Redactor | undefined;
  readonly #seen: object[] = [];
  #count: number;
  #omitted = 0;

  constructor(base: FlatFields | undefined, redact: Redactor | undefined) {
    // No prototype: a field named "__proto__" is a field like any other.
    this.out = Object.assign(Object.create(null) as FlatFields, base);
    this.#count = Object.keys(this.out).length;
    this.redact = redact;
  }

  finish(): FlatFields {
    if (this.#omitted > 0) this.out._truncated = `${this.#omitted} fields omitted (at most ${MAX_FIELDS})`;
    return this.out;
  }

  put(key: string, text: string): void {
    if (!(key in this.out)) {
      if (this.#count >= MAX_FIELDS) {
        this.#omitted++;
        return;
      }
      this.#count++;
    }
    this.out[key] = text;
  }

  /** The members of `value` at top level (key ''), or under `key`. */
  visit(key: string, value: unknown, depth: number): void {
    const redact = this.redact;
    if (redact !== undefined && key !== '' && redact.pattern.test(key)) {
      if (redact.remove) return;
      const censor = redact.censor;
      this.put(key, typeof censor === 'string' ? censor : this.#censorText(censor, value, key));
      return;
    }
    const text = primitiveText(value);
    if (text !== undefined) {
      if (key === '') this.put('value', text);
      else this.put(key, text);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    if (this.#seen.includes(value)) {
      this.put(key || 'value', CIRCULAR);
      return;
    }
    if (depth >= MAX_FIELD_DEPTH) {
      this.put(key, Array.isArray(value) ? '[Array]' : '[Object]');
      return;
    }
    this.#seen.push(value);
    try {
      this.#visitObject(key, value, depth);
    } catch (error) {
      // A Proxy or an exotic object that throws when listed: one marker for all of it.
      this.put(key || 'value', describeThrow(error));
    } finally {
      this.#seen.pop();
    }
  }

  #visitObject(key: string, value: object, depth: number): void {
    if (value instanceof Date) {
      this.put(key || 'value', Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString());
      return;
    }
    if (isError(value)) {
      this.#visitError(key === '' ? 'err' : key, value, depth);
      return;
    }
    if (ArrayBuffer.isView(value)) {
      this.put(key || 'value', `[${value.constructor.name} ${value.byteLength} bytes]`);
      return;
    }
    if (value instanceof RegExp) {
      this.put(key || 'value', String(value));
      return;
    }
    if (value instanceof Map) {
      for (const [k, v] of value) this.visit(join(key, messageText(k)), v, depth + 1);
      if (value.size === 0 && key !== '') this.put(key, '{}');
      return;
    }
    if (value instanceof Set) {
      let i = 0;
      for (const v of value) this.visit(join(key, String(i++)), v, depth + 1);
      if (i === 0 && key !== '') this.put(key, '[]');
      return;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      // URL, Decimal, a Buffer's JSON…: what JSON.stringify would store.
      this.visit(key, (toJSON as () => unknown).call(value), depth + 1);
      return;
    }
    let any = false;
    for (const k of Object.keys(value)) {
      any = true;
      let v: unknown;
      try {
        v = (value as Record<string, unknown>)[k];
      } catch (error) {
        this.put(join(key, k), describeThrow(error));
        continue;
      }
      this.visit(join(key, k), v, depth + 1);
    }
    if (!any && key !== '') this.put(key, Array.isArray(value) ? '[]' : '{}');
  }

  #visitError(key: string, error: Error, depth: number): void {
    const ctor = (error as { constructor?: { name?: unknown } }).constructor;
    this.put(`${key}.type`, typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : String(error.name));
    this.put(`${key}.message`, messageText(error.message));
    if (error.stack !== undefined) this.put(`${key}.stack`, String(error.stack));
    for (const k of Object.keys(error)) {
      if (k === 'message' || k === 'stack' || k === 'cause' || k === 'type') continue;
      let v: unknown;
      try {
        v = (error as unknown as Record<string, unknown>)[k];
      } catch (e) {
        this.put(join(key, k), describeThrow(e));
        continue;
      }
      this.visit(join(key, k), v, depth + 1);
    }
    if (error.cause !== undefined) this.visit(`${key}.cause`, error.cause, depth + 1);
    const errors = (error as { errors?: unknown }).errors;
    if (Array.isArray(errors) && !Object.keys(error).includes('errors')) this.visit(`${key}.errors`, errors, depth + 1);
  }

  #censorText(censor: (value: unknown, path: string) => unknown, value: unknown, key: string): string {
    try {
      const replaced = censor(value, key);
      return primitiveText(replaced) ?? messageText(replaced);
    } catch (error) {
      return describeThrow(error);
    }
  }
}

const join = (prefix: string, key: string): string => (prefix === '' ? key : `${prefix}.${key}`);

/**
 * Flattens `fields` into a map of strings, on top of `base` (e.g. a child's bindings; `fields`
 * wins on the same key). Nested objects give dotted keys (`req.method`); an Error gives
 * `<key>.type`, `.message`, `.stack`, its own enumerable properties (`.code`) and its `.cause`
 * chain (an Error given as the fields object itself goes under `err`); numbers, booleans and
 * bigints their decimal text; a Date its ISO text; null `null`; undefined is left out; a cycle
 * `[Circular]`, a function `[Function: name]`, a getter that throws `[Throws: message]`; an
 * object with `toJSON` what that returns; an empty object or array `{}` / `[]`; past
 * {@link MAX_FIELD_DEPTH} levels `[Object]` / `[Array]`. A primitive given as the fields goes
 * under `value`. Redacted paths are censored (or removed) whole. Never throws.
 */
export function flattenFields(fields: unknown, base?: FlatFields, redact?: Redactor): FlatFields {
  const f = new Flattening(base, redact);
  if (fields !== undefined) f.visit('', fields, 0);
  return f.finish();
}

/** True when every own value of `fields` is a string, finite number or boolean: nothing to flatten. */
export function isFlat(fields: object): boolean {
  try {
    for (const key in fields) {
      const t = typeof (fields as Record<string, unknown>)[key];
      if (t !== 'string' && t !== 'number' && t !== 'boolean') return false;
    }
    return true;
  } catch {
    return false;
  }
}

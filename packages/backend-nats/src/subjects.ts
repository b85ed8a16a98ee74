/** Characters a subject token may hold here; everything else becomes `_`. */
const UNSAFE_TOKEN = /[^A-Za-z0-9_-]/g;
/** Longest token made from a daemon name, in characters. */
const MAX_TOKEN_LENGTH = 64;

/**
 * A daemon name as one NATS subject token: letters, digits, `_` and `-` kept, everything else
 * (spaces, `.`, `*`, `>`, non-ASCII) replaced by `_`, at most 64 characters, never empty.
 */
export function subjectToken(daemon: string): string {
  const token = daemon.replace(UNSAFE_TOKEN, '_').slice(0, MAX_TOKEN_LENGTH);
  return token === '' ? '_' : token;
}

/** True when `prefix` is a literal subject (dot-separated non-empty tokens, no wildcard or space). */
export function isSubjectPrefix(prefix: string): boolean {
  return prefix.split('.').every((token) => token !== '' && !/[\s*>]/.test(token));
}

/** True when `name` is a valid JetStream stream name (no space, `.`, `*`, `>`, `/` or `\`). */
export function isStreamName(name: string): boolean {
  return name !== '' && name.length <= 255 && !/[\s.*>/\\]/.test(name);
}

/** True when the stream subject `pattern` takes every subject `<prefix>.<token>`. */
export function coversPrefix(pattern: string, prefix: string): boolean {
  const p = pattern.split('.');
  const want = prefix.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i] as string;
    if (token === '>') return true;
    if (i === want.length) return token === '*' && p.length === want.length + 1;
    if (i > want.length || (token !== '*' && token !== want[i])) return false;
  }
  return false;
}

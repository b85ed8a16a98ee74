/**
 * The error kinds of the spec. `io`: a file or socket operation failed; `serde`: a line is not
 * valid JSON or not a valid entry; `config`: a bad configuration; `server`: the server refused
 * or failed something; `client`: a client-side misuse or limit; `connection`: the connection to
 * the server is missing, lost or timed out.
 */
export type LogStreamErrorKind = 'io' | 'serde' | 'config' | 'server' | 'client' | 'connection';

/** Every kind, for exhaustive checks and metric labels. */
export const ERROR_KINDS: readonly LogStreamErrorKind[] = ['io', 'serde', 'config', 'server', 'client', 'connection'];

/**
 * Stable, machine-readable codes that refine a kind. They appear in error frames and in
 * `LogStreamError.code`; their wording may be relied on.
 */
export type LogStreamErrorCode =
  | 'INVALID_JSON'
  | 'INVALID_ENTRY'
  | 'LINE_TOO_LONG'
  | 'INVALID_HANDSHAKE'
  | 'TOO_MANY_CONNECTIONS'
  | 'SHUTTING_DOWN'
  | 'NOT_CONNECTED'
  | 'UNTRUSTED_SERVER'
  | 'TIMEOUT'
  | 'CLOSED'
  | 'BUFFER_FULL'
  | 'RATE_LIMITED'
  | 'PROTOCOL'
  | 'BACKEND'
  | 'CONFIG'
  | 'IO';

const kMarker = Symbol.for('logstream.error');

/** Options of {@link LogStreamError}: the standard `cause`, and a stable code. */
export interface LogStreamErrorOptions extends ErrorOptions {
  code?: LogStreamErrorCode;
}

/**
 * The one error class of LogStream. `kind` is one of the spec's kinds; `code` refines it.
 * Use {@link LogStreamError.is} rather than `instanceof`: it also recognises errors made by
 * another copy of this package.
 */
export class LogStreamError extends Error {
  override readonly name = 'LogStreamError';
  readonly [kMarker] = true;
  readonly kind: LogStreamErrorKind;
  readonly code: LogStreamErrorCode | undefined;

  constructor(kind: LogStreamErrorKind, message: string, options?: LogStreamErrorOptions) {
    super(message, options);
    this.kind = kind;
    this.code = options?.code;
  }

  /** True for a LogStreamError from any copy of this package. */
  static is(error: unknown): error is LogStreamError {
    return typeof error === 'object' && error !== null && kMarker in error;
  }
}

/**
 * The one "closed" error of every package: kind `io`, code `CLOSED`, `<subject> is closed`. A
 * client, server or backend rejects with it what is asked of it after `close()` (or was still
 * waiting when `close()` gave up on it); callers test `error.code === 'CLOSED'`.
 */
export function closedError(subject: string, options?: Omit<LogStreamErrorOptions, 'code'>): LogStreamError {
  return new LogStreamError('io', `${subject} is closed`, { ...options, code: 'CLOSED' });
}

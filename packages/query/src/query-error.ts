const kMarker = Symbol.for('logstream.query.error');

/** What went wrong, as a stable code. */
export type QueryErrorCode = 'BAD_ARGUMENT' | 'NOT_A_LOGSTREAM_DIRECTORY' | 'CURSOR_NOT_FOUND' | 'IO';

/** An error of `@logstream/query`: bad arguments, a directory that is not ours, a cursor not found. */
export class QueryError extends Error {
  override readonly name = 'QueryError';
  readonly [kMarker] = true;
  readonly code: QueryErrorCode;

  constructor(code: QueryErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  /** True for a QueryError from any copy of this package. */
  static is(error: unknown): error is QueryError {
    return typeof error === 'object' && error !== null && kMarker in error;
  }
}

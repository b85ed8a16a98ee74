// Owns the error of a background or start-up step: its operation, path and errno.
/**
 * The operation a {@link RotatorError} reports as failed. `open` is thrown by `open()` (an unsafe
 * output directory, a live file that is a symbolic link), never emitted.
 */
export type RotatorOperation = 'open' | 'rotate' | 'compress' | 'delete' | 'scan';

const kMarker = Symbol.for('logstream.rotator-error');

/**
 * A failure of background work (rotation, compression, retention), emitted as `'error'` by
 * `RotatingFileWriter`, or a refusal thrown by its `open()`. The writer goes on after it: writes keep landing in the live file and the
 * failed step is retried later. `code` is the errno code of the cause (`ENOSPC`, `EISDIR`, …).
 */
export class RotatorError extends Error {
  override readonly name = 'RotatorError';
  readonly [kMarker] = true;
  /** What failed. */
  readonly operation: RotatorOperation;
  /** The file the failed operation was about. */
  readonly path: string;
  /** errno code of the cause, when it has one. */
  readonly code: string | undefined;

  constructor(operation: RotatorOperation, path: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${operation} failed for ${path}: ${reason}`, { cause });
    this.operation = operation;
    this.path = path;
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }

  /** True for a `RotatorError`, also one made by another copy of this package. */
  static is(error: unknown): error is RotatorError {
    return typeof error === 'object' && error !== null && kMarker in error;
  }
}

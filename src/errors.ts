/**
 * The one error type that crosses layers. Its `code` is part of the wire protocol (v1): clients
 * branch on the code, people read the message. Codes never change meaning once published.
 */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'not_found',
  'conflict',
  'too_large',
  'unknown_method',
  'unavailable',
  /** The database or its disk is full: the write was not stored; retry once space is back. */
  'storage_full',
  /** The database failed (I/O error, out of memory, damaged, read-only, file deleted): not stored. */
  'storage_error',
  'internal',
] as const;

/** Codes that say the hub could not store a change: nothing of the request happened; retry later. */
export const STORAGE_ERROR_CODES: readonly ErrorCode[] = ['storage_full', 'storage_error'];

export type ErrorCode = (typeof ERROR_CODES)[number];

export class MitteloError extends Error {
  readonly code: ErrorCode;
  /** Machine-readable context (for example the task's current status on a `conflict`). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'MitteloError';
    this.code = code;
    this.details = details;
  }
}

export function isMitteloError(value: unknown): value is MitteloError {
  return value instanceof MitteloError;
}

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
  'internal',
] as const;

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

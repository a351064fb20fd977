/**
 * The one error type that crosses layers. Its `code` is part of the wire protocol (v1): clients
 * branch on the code, people read the message. Codes never change meaning once published.
 */

/** The codes a hub sends (in `error.code` on TCP, `code` on REST). */
export const HUB_ERROR_CODES = [
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

/**
 * Client-side codes: raised by HubClient about the connection itself, never sent by a hub (a hub
 * that cannot be reached cannot answer). They are MitteloError codes like the others, so callers
 * branch on `code` alike.
 */
export const CLIENT_ERROR_CODES = [
  /** No connection could be made to any of the hub's addresses (nothing listens, no route, timeout). */
  'hub_unreachable',
  /**
   * The connection dropped while the call was in flight. The hub may have applied it (the answer
   * was lost, not necessarily the request): repeat it only if repeating is harmless.
   */
  'connection_closed',
  /** No answer within the request timeout. As with `connection_closed`, it may have been applied. */
  'request_timeout',
  /**
   * The TLS connection failed in a way retrying does not fix: the hub's certificate is not trusted
   * or not for this name, or one side speaks TLS and the other does not.
   */
  'tls_error',
] as const;

/** Every code a MitteloError may carry: the hub's (wire protocol) and the client's own. */
export const ERROR_CODES = [...HUB_ERROR_CODES, ...CLIENT_ERROR_CODES] as const;

/** Codes that say the hub could not store a change: nothing of the request happened; retry later. */
export const STORAGE_ERROR_CODES: readonly ErrorCode[] = ['storage_full', 'storage_error'];

export type ErrorCode = (typeof ERROR_CODES)[number];
/** A code a hub may send. */
export type HubErrorCode = (typeof HUB_ERROR_CODES)[number];
/** A code only a client raises (see CLIENT_ERROR_CODES). */
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

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

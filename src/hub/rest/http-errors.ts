/**
 * How a failure looks over HTTP: a JSON body `{"error": "<message for people>", "code": "<stable
 * code>"}` (plus `details` when the hub has them) with the HTTP status that matches the code. The
 * codes are the protocol's (src/errors.ts), so a program can handle TCP and REST errors alike.
 */
import type { ErrorCode, MitteloError } from '../../errors.ts';

export type HttpErrorStatus = 400 | 401 | 404 | 409 | 413 | 500 | 503 | 507;

const STATUS_BY_CODE: Record<ErrorCode, HttpErrorStatus> = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  // No REST route names a method, so this cannot happen through a route; it is still the caller's fault.
  unknown_method: 400,
  unavailable: 503,
  // 507 Insufficient Storage: the request was fine and may be sent again once there is space.
  storage_full: 507,
  storage_error: 503,
  internal: 500,
  // Client-side codes (src/errors.ts CLIENT_ERROR_CODES): a hub never raises them.
  hub_unreachable: 500,
  connection_closed: 500,
  request_timeout: 500,
  tls_error: 500,
};

export interface ErrorBody {
  error: string;
  code: ErrorCode;
  details?: Record<string, unknown>;
}

export function httpStatusFor(code: ErrorCode): HttpErrorStatus {
  return STATUS_BY_CODE[code];
}

export function errorBody(error: MitteloError): ErrorBody {
  const body: ErrorBody = { error: error.message, code: error.code };
  if (error.details) body.details = error.details;
  return body;
}

/**
 * What a failing PostgreSQL server looks like to callers: every error of the database itself
 * becomes one MitteloError with a stable code and one line naming the server (host:port/db, never
 * the password) and what to do.
 *
 * - `storage_full`: the server's disk is full (SQLSTATE 53100). Nothing of the request was stored.
 * - `storage_error`: out of memory or other resources (53xxx), an I/O error (58xxx), damaged data
 *   (XX001/XX002), a read-only server (25006: a standby, or default_transaction_read_only), a
 *   statement canceled by the server. Nothing of the request was stored.
 * - `unavailable`: no connection to the server (refused, lost, shut down, restarting). If the
 *   connection was lost while a write was in flight the outcome is unknown: the server may have
 *   committed it just before the connection dropped, or not. The answer then says exactly that and
 *   is never a success; repeating an ack, extend, release or cancel is safe (if the first one was
 *   stored, the repeat is refused as a `conflict`), repeating an enqueue may add the tasks twice.
 *
 * Errors that are about the request (a constraint, a value PostgreSQL cannot store) are
 * `bad_request`, and only undo that request.
 */
import { MitteloError, STORAGE_ERROR_CODES } from '../../errors.ts';
import { errorCode, errorText, isConnectionFailure } from './connect.ts';

/** Whether the failure is of the database (refuse the whole batch), not of one request. */
export function isDatabaseFault(error: unknown): boolean {
  if (error instanceof MitteloError) {
    return error.code === 'unavailable' || STORAGE_ERROR_CODES.includes(error.code);
  }
  if (isConnectionFailure(error)) return true;
  const code = errorCode(error);
  return code !== undefined && /^(53|58|XX|25006|57014|55P03|40P01|40001)/.test(code);
}

/** Deadlock or serialization failure: the statement was rolled back and may simply run again. */
export function isTransient(error: unknown): boolean {
  const code = errorCode(error);
  return code === '40P01' || code === '40001';
}

export type FaultPhase =
  /** A read: nothing was written. */
  | 'read'
  /** A write whose statements were sent: if the connection dropped, it may have been committed. */
  | 'write'
  /** A write that never reached the server (no connection could be had). */
  | 'unsent';

const NOT_STORED = 'nothing of this request was stored';

/** The refusal of a request the database failed (see the header for the codes). */
export function describeDatabaseFault(error: unknown, where: string, phase: FaultPhase): MitteloError {
  if (error instanceof MitteloError) return error;
  const code = errorCode(error) ?? 'unknown';
  const said = errorText(error);
  const details = { db: where, pg_code: code };
  const server = `the PostgreSQL database ${where}`;
  if (isConnectionFailure(error)) {
    if (phase === 'write') {
      return new MitteloError(
        'unavailable',
        `the connection to ${server} was lost before it confirmed this write (${said}); it may or may not have been stored: look at the task before sending it again (a repeated ack, release or cancel is refused as a conflict if the first was stored)`,
        { ...details, outcome: 'unknown' },
      );
    }
    return new MitteloError(
      'unavailable',
      `${server} is not answering (${said}); ${phase === 'unsent' ? `${NOT_STORED}; ` : ''}check that the server runs, then send it again`,
      details,
    );
  }
  if (code === '53100') {
    return new MitteloError(
      'storage_full',
      `${server} is out of disk space (${said}); ${NOT_STORED}, send it again once the server has room`,
      details,
    );
  }
  if (code === '25006') {
    return new MitteloError(
      'storage_error',
      `${server} is read-only (${said}); ${NOT_STORED}. Point --db at the primary server, or turn off default_transaction_read_only`,
      details,
    );
  }
  if (code === '53200' || code.startsWith('53')) {
    return new MitteloError(
      'storage_error',
      `${server} ran out of memory or another resource (${code}: ${said}); ${NOT_STORED}. Look at the server's log, then send it again`,
      details,
    );
  }
  if (code === 'XX001' || code === 'XX002') {
    return new MitteloError(
      'storage_error',
      `${server} has damaged data (${said}); ${NOT_STORED}. Check the server's log; restore from a backup or REINDEX`,
      details,
    );
  }
  return new MitteloError(
    'storage_error',
    `${server} failed (${code}: ${said}); ${NOT_STORED}. Look at the server's log, then send it again`,
    details,
  );
}

/**
 * A request the database refused for its own content: PostgreSQL text cannot hold U+0000, a
 * required field is missing. Only this request is refused.
 */
export function describeRequestError(error: unknown, where: string): MitteloError {
  if (error instanceof MitteloError) return error;
  const code = errorCode(error) ?? 'unknown';
  const said = errorText(error);
  if (code === '22021' || code === '22P05') {
    return new MitteloError(
      'bad_request',
      `PostgreSQL cannot store this text: it holds the NUL character (\\u0000), which ${where} cannot keep in a text value (${said})`,
      { db: where, pg_code: code },
    );
  }
  return new MitteloError('bad_request', `${where} refused this request (${code}: ${said})`, {
    db: where,
    pg_code: code,
  });
}

/**
 * What a failing database looks like to callers and in the log.
 *
 * A statement or COMMIT that fails with SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM and the like may
 * have undone the whole transaction, so group commit refuses every request of that batch (see
 * group-commit.ts). Each of them gets the one error made here: a stable code (`storage_full` or
 * `storage_error`), what happened, which file, and what to do. The log gets one line when such an
 * episode starts and one when writes succeed again, not a stack trace per request.
 */
import { dirname } from 'node:path';
import { MitteloError, STORAGE_ERROR_CODES } from '../../errors.ts';

/** The SQLite result code of an error (`SQLITE_IOERR_WRITE`, ...), if it is one. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Errors of the database itself, after which SQLite may have rolled back the whole transaction
 * (sqlite.org/lang_transaction.html, "Response To Errors Within A Transaction") or cannot be
 * trusted to have written anything. Constraint errors and the store's own refusals are not: they
 * undo one statement or savepoint.
 */
const FAULT_CODES =
  /^SQLITE_(FULL|IOERR|NOMEM|BUSY|LOCKED|INTERRUPT|CORRUPT|NOTADB|READONLY|CANTOPEN|PROTOCOL)/;

export function isStorageFault(error: unknown): boolean {
  if (error instanceof MitteloError) return STORAGE_ERROR_CODES.includes(error.code);
  const code = sqliteCode(error);
  return code !== undefined && FAULT_CODES.test(code);
}

/** The refusal every request of a failed batch gets. */
export function describeStorageFault(cause: unknown, path: string): MitteloError {
  if (cause instanceof MitteloError) return cause;
  const code = sqliteCode(cause) ?? 'unknown';
  const said = (cause as Error)?.message ?? String(cause);
  const notStored = 'nothing of this request was stored';
  const details = { sqlite_code: code, db: path };
  if (code === 'SQLITE_FULL') {
    return new MitteloError(
      'storage_full',
      `database or disk is full: free space under ${dirname(path)} (${said}); ${notStored}, send it again once there is room`,
      details,
    );
  }
  if (code === 'SQLITE_NOMEM') {
    return new MitteloError(
      'storage_error',
      `the hub ran out of memory writing ${path}; ${notStored}. Free memory on the hub's machine, then send it again`,
      details,
    );
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new MitteloError(
      'storage_error',
      `the database ${path} can no longer be written (${said}); ${notStored}. Check the file's permissions and that its filesystem is mounted read-write`,
      details,
    );
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return new MitteloError(
      'storage_error',
      `the database ${path} is damaged (${said}); ${notStored}. Stop the hub, then restore the file from a copy or recover it with \`sqlite3 ${path} .recover | sqlite3 recovered.db\``,
      details,
    );
  }
  return new MitteloError(
    'storage_error',
    `writing the database ${path} failed (${code}: ${said}); ${notStored}. Check the disk under ${dirname(path)} (dmesg), then send it again`,
    details,
  );
}

/**
 * One log line per run of failures: the first failure opens an episode, and the first commit
 * after QUIET_MS without a failure closes it, with the count of requests refused in between. (A
 * nearly full disk flaps: small writes fit while large ones do not, so "the next commit worked"
 * alone would log an episode every few batches.)
 */
const QUIET_MS = 5000;

export class FaultEpisodes {
  private readonly log: (line: string) => void;
  private open: { since: number; lastFault: number; refused: number; message: string } | null = null;

  constructor(log: (line: string) => void) {
    this.log = log;
  }

  /** `refused` requests were just answered with `error`. */
  failed(error: MitteloError, refused: number): void {
    const now = Date.now();
    if (this.open) {
      this.open.refused += refused;
      this.open.lastFault = now;
      return;
    }
    this.open = { since: now, lastFault: now, refused, message: error.message };
    this.log(
      `mittelo hub: storage fault (${error.code}): ${error.message}. Writes are refused while it lasts; this is logged once, with a count when writes work again.`,
    );
  }

  /** A batch committed. */
  committed(): void {
    const episode = this.open;
    if (!episode || Date.now() - episode.lastFault < QUIET_MS) return;
    this.open = null;
    const seconds = ((episode.lastFault - episode.since) / 1000).toFixed(1);
    this.log(
      `mittelo hub: storage works again: ${episode.refused} request(s) were refused over ${seconds} s (${episode.message.split(';')[0]})`,
    );
  }
}

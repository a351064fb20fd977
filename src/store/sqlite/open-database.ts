/**
 * Opening the database file: the pragmas that make it the hub's (WAL, exclusive lock, sync level),
 * migrations, and the first count of tasks per status. Failures become one clear MitteloError.
 */
import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MitteloError } from '../../errors.ts';
import type { TaskStatus } from '../../protocol/model.ts';
import { migrate } from './migrations.ts';
import { sqliteCode } from './storage-faults.ts';

/** The partial index holding exactly the rows of a status (see migrations.ts). */
export const STATUS_INDEX: Partial<Record<TaskStatus, string>> = {
  queued: 'tasks_ready',
  leased: 'tasks_leased',
  failed: 'tasks_failed',
  canceled: 'tasks_canceled',
};

/**
 * Tasks per status, for the in-memory counters. Each status but `done` has its own partial
 * index, so those counts are cheap; done is the rest. (A GROUP BY over the table would sort a
 * million rows in memory and leave the hub's RSS tens of MB higher for good.)
 */
export function countByStatus(db: Database.Database): { status: TaskStatus; n: number }[] {
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const rows: { status: TaskStatus; n: number }[] = [];
  for (const [status, index] of Object.entries(STATUS_INDEX) as [TaskStatus, string][]) {
    rows.push({
      status,
      n: count(`SELECT COUNT(*) AS n FROM tasks INDEXED BY ${index} WHERE status = '${status}'`),
    });
  }
  const others = rows.reduce((sum, row) => sum + row.n, 0);
  rows.push({ status: 'done', n: count('SELECT COUNT(*) AS n FROM tasks') - others });
  return rows;
}

/** Open (creating or upgrading) the database file for exclusive use by one hub. */
export function openDatabase(path: string, fsync: boolean, maxPageCount?: number): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 200 });
  } catch (error) {
    throw describeOpenError(error, path);
  }
  try {
    // Exclusive: one hub per file. Must be set before WAL so no shared-memory file is needed.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${fsync ? 'FULL' : 'NORMAL'}`);
    db.pragma('temp_store = MEMORY');
    db.pragma('cache_size = -16384');
    if (maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.trunc(maxPageCount)}`);
    migrate(db, path);
    // Take the exclusive lock now, so a second hub fails here rather than on its first request.
    db.exec('BEGIN IMMEDIATE; COMMIT');
  } catch (error) {
    db.close();
    throw describeOpenError(error, path);
  }
  return db;
}

/**
 * Why a database cannot be opened, in one line: what is wrong, which file, how to fix it. (The
 * CLI prints the message as it is and picks the exit code from the error's code.)
 */
export function describeOpenError(error: unknown, path: string): MitteloError {
  if (error instanceof MitteloError) return error;
  const code = sqliteCode(error) ?? (error as { code?: string } | null)?.code ?? 'unknown';
  const said = (error as Error)?.message ?? String(error);
  const details = { db: path, sqlite_code: code };
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new MitteloError(
      'unavailable',
      `the database ${path} is in use by another hub; stop that hub or pass another --db`,
      details,
    );
  }
  if (code === 'SQLITE_NOTADB') {
    return new MitteloError(
      'bad_request',
      `${path} is not a Mittelö database (${said}): pass the right --db; if it was one, its first page is damaged: restore it from a copy`,
      details,
    );
  }
  if (code === 'SQLITE_CORRUPT') {
    return new MitteloError(
      'storage_error',
      `the database ${path} is damaged (${said}): restore it from a copy, or recover what is left with \`sqlite3 ${path} .recover | sqlite3 recovered.db\` and start the hub with --db recovered.db`,
      details,
    );
  }
  // SQLite reports a read-only file or filesystem in several ways (SQLITE_READONLY, or
  // SQLITE_IOERR_LOCK and SQLITE_CANTOPEN for its -wal file): ask the filesystem itself.
  const readOnly = code.startsWith('SQLITE_READONLY') ? said : notWritable(path);
  if (readOnly) {
    return new MitteloError(
      'storage_error',
      `the database ${path} cannot be written (${readOnly}): give the hub's user write permission on the file and its folder (and its -wal file), or check that the filesystem is not mounted read-only`,
      details,
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'EACCES' || code === 'EROFS') {
    return new MitteloError(
      'storage_error',
      `cannot open the database ${path} (${said}): check that its folder exists and is writable by the hub's user, or pass another --db`,
      details,
    );
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
    return new MitteloError(
      'storage_full',
      `the disk under ${dirname(path)} is full, so the database ${path} cannot be opened (${said}): free some space and start the hub again`,
      details,
    );
  }
  if (sqliteCode(error)) {
    return new MitteloError(
      'storage_error',
      `cannot open the database ${path} (${code}: ${said}): check the disk (dmesg); if the file is damaged, restore it from a copy or run \`sqlite3 ${path} .recover\``,
      details,
    );
  }
  return new MitteloError('internal', `cannot open the database ${path}: ${said}`, details);
}

/** Why the hub could not write the file or its folder (EROFS, EACCES), or null if it can. */
function notWritable(path: string): string | null {
  for (const target of [path, dirname(path)]) {
    try {
      accessSync(target, constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EROFS') return `${target} is on a read-only filesystem`;
      if (code === 'EACCES' || code === 'EPERM') return `no write permission on ${target}`;
    }
  }
  return null;
}

/**
 * Opening the database file: the pragmas that make it the hub's (WAL, exclusive lock, sync level),
 * migrations, and the first count of tasks per status. Failures become one clear MitteloError.
 */
import Database from 'better-sqlite3';
import { MitteloError } from '../../errors.ts';
import type { TaskStatus } from '../types.ts';
import { migrate } from './migrations.ts';

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
export function openDatabase(path: string, fsync: boolean): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 200 });
  } catch (error) {
    throw new MitteloError(
      'internal',
      `cannot open the database ${path}: ${(error as Error).message}. Check that the folder is writable, or pass another --db.`,
    );
  }
  try {
    // Exclusive: one hub per file. Must be set before WAL so no shared-memory file is needed.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${fsync ? 'FULL' : 'NORMAL'}`);
    db.pragma('temp_store = MEMORY');
    db.pragma('cache_size = -16384');
    migrate(db, path);
    // Take the exclusive lock now, so a second hub fails here rather than on its first request.
    db.exec('BEGIN IMMEDIATE; COMMIT');
  } catch (error) {
    db.close();
    if (error instanceof MitteloError) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new MitteloError(
        'unavailable',
        `the database ${path} is in use by another hub; stop that hub or pass another --db`,
      );
    }
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new MitteloError(
        'bad_request',
        `${path} is not a Mittelö database (${(error as Error).message})`,
      );
    }
    throw error;
  }
  return db;
}

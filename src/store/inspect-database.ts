/**
 * A look into a SQLite database file without a hub and without changing it (`mittelo runs`): its
 * tasks per status, or that a hub has it open now. A hub holds its file with an exclusive lock for
 * as long as it runs (sqlite/open-database.ts), so "locked" means "in use", with no stale lock
 * file to go wrong after a crash.
 */
import { existsSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Stats } from '../protocol/model.ts';
import { TASK_STATUSES } from '../protocol/model.ts';
import { countByStatus } from './sqlite/open-database.ts';
import { sqliteCode } from './sqlite/storage-faults.ts';

export type DatabaseLook =
  | { state: 'counted'; stats: Stats }
  /** A hub (a running `mittelo run`, or `mittelo hub`) has the file open. */
  | { state: 'in_use' }
  /** Not there, not a Mittelö database, or damaged: why, in a few words. */
  | { state: 'unreadable'; why: string };

export function inspectSqliteFile(path: string): DatabaseLook {
  if (!existsSync(path)) return { state: 'unreadable', why: 'no such file' };
  // Reading a WAL database creates its -shm file if missing: remove it again if we made it.
  const shm = `${path}-shm`;
  const hadShm = existsSync(shm);
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 0 });
    const stats = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Stats;
    for (const { status, n } of countByStatus(db)) stats[status] = n;
    return { state: 'counted', stats };
  } catch (error) {
    const code = sqliteCode(error) ?? '';
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return { state: 'in_use' };
    return { state: 'unreadable', why: (error as Error).message };
  } finally {
    db?.close();
    if (!hadShm) rmSync(shm, { force: true });
  }
}

/**
 * Queued tasks per backend, for the "work waiting with no agent to take it" lines of `status`, the
 * dashboards and `run`. One covering scan of the partial index on queued rows (`tasks_ready`, whose
 * first column is the backend): finished rows are never read, and no table row is either.
 */
import type Database from 'better-sqlite3';
import type { QueuedCount } from '../../protocol/model.ts';

// INDEXED BY: the partial index holds exactly the queued rows, in backend order, so GROUP BY needs
// no sort. `status = 'queued'` is written out, as SQLite uses a partial index only then.
const SQL = `SELECT backend, COUNT(*) AS queued FROM tasks INDEXED BY tasks_ready
  WHERE status = 'queued' GROUP BY backend ORDER BY backend`;

const statements = new WeakMap<Database.Database, Database.Statement>();

export function countQueuedByBackend(db: Database.Database): QueuedCount[] {
  let statement = statements.get(db);
  if (!statement) {
    statement = db.prepare(SQL);
    statements.set(db, statement);
  }
  return statement.all() as QueuedCount[];
}

/** The statement's text, for tests that check its query plan. */
export const QUEUED_BY_BACKEND_SQL = SQL;

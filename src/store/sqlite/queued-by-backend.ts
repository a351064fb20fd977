/**
 * Queued tasks per backend, for the "work waiting with no agent to take it" lines of `status`, the
 * dashboards and `run`, with how many of them are not due yet ("scheduled"). One covering scan of
 * the partial index on queued rows (`tasks_ready`, whose first column is the backend): finished
 * rows are never read, and no table row is either. The scheduled ones are counted from the index
 * of delayed rows, so they cost in proportion to the tasks waiting on the clock only.
 */
import type Database from 'better-sqlite3';
import type { QueuedCount } from '../../protocol/model.ts';

// INDEXED BY: the partial index holds exactly the queued rows, in backend order, so GROUP BY needs
// no sort. `status = 'queued'` is written out, as SQLite uses a partial index only then.
const SQL = `SELECT backend, COUNT(*) AS queued FROM tasks INDEXED BY tasks_ready
  WHERE status = 'queued' GROUP BY backend ORDER BY backend`;

const SCHEDULED_SQL = `SELECT backend, COUNT(*) AS n FROM tasks INDEXED BY tasks_delayed
  WHERE status = 'queued' AND available_at > 0 AND available_at > ? GROUP BY backend`;

const statements = new WeakMap<
  Database.Database,
  { queued: Database.Statement; scheduled: Database.Statement }
>();

export function countQueuedByBackend(db: Database.Database, now: number): QueuedCount[] {
  let prepared = statements.get(db);
  if (!prepared) {
    prepared = { queued: db.prepare(SQL), scheduled: db.prepare(SCHEDULED_SQL) };
    statements.set(db, prepared);
  }
  const scheduled = new Map(
    (prepared.scheduled.all(now) as { backend: string | null; n: number }[]).map((row) => [
      row.backend,
      row.n,
    ]),
  );
  return (prepared.queued.all() as { backend: string | null; queued: number }[]).map((row) => ({
    ...row,
    scheduled: scheduled.get(row.backend) ?? 0,
  }));
}

/** The statement's text, for tests that check its query plan. */
export const QUEUED_BY_BACKEND_SQL = SQL;

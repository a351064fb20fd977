/**
 * prune, one window (see ../prune-batches.ts): one statement, autocommit. It finds where the next
 * window of rows by id ends, locks the finished rows in it that qualify (SKIP LOCKED: a row another
 * hub's prune holds, or one a retry_failed is moving back to the queue, is left to that one), and
 * deletes them; the statement trigger moves the status counters (migrations.ts).
 *
 * Several hubs pruning at once stay correct: a row is deleted by one statement only (the others
 * skip it while it is locked and no longer see it once it is gone), so each counts it once. A
 * row that changed after the statement's snapshot is checked again when locked (READ COMMITTED),
 * so one that went back to the queue meanwhile is not deleted.
 *
 * The task with the largest id is never deleted (a rule both stores keep: see
 * prune's rules in queue-policy.ts).
 *
 * The cutoff is taken by the database's clock (or the injected one) on the first window and
 * passed back for the others, so one prune compares every row with the same time.
 */
import type pg from 'pg';
import type { TaskStatus } from '../../protocol/model.ts';
import type { PruneStep } from '../prune-batches.ts';
import { type Db, NOW } from './db.ts';

export function pruneQuery(db: Db): pg.QueryConfig {
  const s = db.s;
  return {
    name: 'prune-window',
    text: `WITH scanned AS MATERIALIZED (
        SELECT task_id FROM ${s}.tasks WHERE task_id > $1 ORDER BY task_id LIMIT $2
      ), bounds AS (
        SELECT max(task_id) AS last_id, COALESCE($6::float8, ${NOW(5)} - $4::float8) AS cutoff FROM scanned
      ), doomed AS (
        SELECT t.task_id FROM ${s}.tasks AS t, bounds
        WHERE t.task_id > $1 AND t.task_id <= bounds.last_id
          AND t.task_id < (SELECT max(task_id) FROM ${s}.tasks)
          AND t.status = ANY($3::text[]) AND t.updated_at <= bounds.cutoff
        FOR UPDATE OF t SKIP LOCKED
      ), gone AS (
        DELETE FROM ${s}.tasks AS t USING doomed WHERE t.task_id = doomed.task_id RETURNING t.task_id
      )
      SELECT bounds.last_id, bounds.cutoff, (SELECT count(*) FROM gone)::int AS removed FROM bounds`,
  };
}

export interface PruneWindow {
  afterId: number;
  windowRows: number;
  statuses: readonly TaskStatus[];
  olderThanS: number;
  /** The cutoff the first window took (null: this is the first window). */
  cutoff: number | null;
}

/** One window on `client`; returns what it did and the cutoff to pass to the next window. */
export async function pruneWindow(
  client: pg.PoolClient,
  db: Db,
  query: pg.QueryConfig,
  window: PruneWindow,
): Promise<PruneStep & { cutoff: number }> {
  const result = await client.query<{ last_id: number | null; cutoff: number; removed: number }>({
    ...query,
    values: [
      window.afterId,
      window.windowRows,
      window.statuses,
      window.olderThanS,
      db.clock(),
      window.cutoff,
    ],
  });
  const row = result.rows[0]!;
  return { removed: row.removed, lastId: row.last_id, cutoff: row.cutoff };
}

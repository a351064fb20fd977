/**
 * One window of a prune on SQLite (see ../prune-batches.ts): find where the next
 * PRUNE_WINDOW_ROWS rows by id end, then delete the finished rows among them that qualify, in one
 * statement, reporting each deleted row's status to the in-memory counters.
 */
import type Database from 'better-sqlite3';
import type { TaskStatus } from '../../protocol/model.ts';
import type { PruneStep } from '../prune-batches.ts';
import type { StatusCounts } from './status-counts.ts';

export class SqlitePruneWindow {
  private readonly windowEnd: Database.Statement;
  private readonly remove: Database.Statement;

  constructor(db: Database.Database) {
    // Through the primary key: reads the window's rows and nothing past it.
    this.windowEnd = db.prepare(
      'SELECT max(task_id) AS last FROM (SELECT task_id FROM tasks WHERE task_id > ? ORDER BY task_id LIMIT ?)',
    );
    // A range of the primary key, so no status index is needed to find the rows; the partial
    // indexes of failed and canceled rows lose their entries with them. The task with the
    // largest id stays: SQLite gives a new row the largest id + 1, so deleting it would hand its
    // id out again (see prune's rules in queue-policy.ts).
    this.remove = db.prepare(
      `DELETE FROM tasks WHERE task_id > @after AND task_id <= @last
         AND task_id < (SELECT max(task_id) FROM tasks)
         AND status IN (SELECT value FROM json_each(@statuses)) AND updated_at <= @cutoff
       RETURNING status`,
    );
  }

  /** Synchronous: run it as one write of the open batch (its DELETE is one statement). */
  step(
    afterId: number,
    windowRows: number,
    cutoff: number,
    statuses: readonly TaskStatus[],
    counts: StatusCounts,
  ): PruneStep {
    const { last } = this.windowEnd.get(afterId, windowRows) as { last: number | null };
    if (last === null) return { removed: 0, lastId: null };
    const gone = new Map<TaskStatus, number>();
    const rows = this.remove.all({
      after: afterId,
      last,
      statuses: JSON.stringify(statuses),
      cutoff,
    }) as { status: TaskStatus }[];
    for (const { status } of rows) gone.set(status, (gone.get(status) ?? 0) + 1);
    for (const [status, n] of gone) counts.removed(status, n);
    return { removed: rows.length, lastId: last };
  }
}

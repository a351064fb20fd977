/**
 * The reads: get, list, dump, stats, queuedByBackend, nextWakeAt. Each reads only what it answers
 * with: list pages through the table newest first and stops at its limit or byte budget (so a
 * listing of every task never loads the whole table), stats sums the per-status counters the
 * triggers keep (migrations.ts), queuedByBackend and nextWakeAt read their partial indexes.
 */
import { MitteloError } from '../../errors.ts';
import { type QueuedCount, type Stats, TASK_STATUSES, type Task } from '../../protocol/model.ts';
import { taskAnswerBytes } from '../answer-budget.ts';
import { RATE_WINDOW_S } from '../queue-policy.ts';
import type { ListQuery } from '../types.ts';
import { type Db, NOW } from './db.ts';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.ts';

export function readQueries(db: Db) {
  const s = db.s;
  return {
    get: {
      name: 'get',
      text: `SELECT ${TASK_COLUMNS} FROM ${s}.tasks WHERE task_id = ANY($1::bigint[])`,
    },
    dump: {
      name: 'dump',
      text: `SELECT ${TASK_COLUMNS} FROM ${s}.tasks WHERE task_id > $1 ORDER BY task_id LIMIT $2`,
    },
    stats: {
      name: 'stats',
      text: `SELECT status, sum(n)::bigint AS n FROM ${s}.status_counts GROUP BY status`,
    },
    /** Fold the counters' rows into one per status (rows other transactions still write stay). */
    compactCounts: {
      name: 'compact-counts',
      text: `WITH moved AS (DELETE FROM ${s}.status_counts RETURNING status, n)
        INSERT INTO ${s}.status_counts (status, n)
        SELECT status, sum(n) FROM moved GROUP BY status HAVING sum(n) <> 0`,
    },
    // Two parts, each matching one partial index (unrouted, routed); C collation: byte order, as
    // SQLite sorts, whatever the database's locale.
    queuedByBackend: {
      name: 'queued-by-backend',
      text: `SELECT backend, queued FROM (
          SELECT NULL::text AS backend, count(*)::int AS queued FROM ${s}.tasks
            WHERE status = 'queued' AND backend IS NULL HAVING count(*) > 0
          UNION ALL
          SELECT backend, count(*)::int FROM ${s}.tasks
            WHERE status = 'queued' AND backend IS NOT NULL GROUP BY backend
        ) AS counted
        ORDER BY backend COLLATE "C" NULLS FIRST`,
    },
    // Of those, the ones not due yet: read from the index of delayed rows.
    scheduledByBackend: {
      name: 'scheduled-by-backend',
      text: `SELECT backend, count(*)::int AS n FROM ${s}.tasks
        WHERE status = 'queued' AND available_at > 0 AND available_at > ${NOW(1)} GROUP BY backend`,
    },
    // Only ends still ahead count: one already past is available now (SQLite does the same).
    nextWakeAt: {
      name: 'next-wake-at',
      text: `SELECT LEAST(
          (SELECT min(leased_until) FROM ${s}.tasks WHERE status = 'leased' AND leased_until >= ${NOW(1)}),
          (SELECT min(available_at) FROM ${s}.tasks
            WHERE status = 'queued' AND available_at > 0 AND available_at > ${NOW(1)}),
          (SELECT min(until) FROM ${s}.pauses WHERE until > ${NOW(1)}),
          -- A full rate window frees a start when its oldest start leaves it.
          (SELECT min(w.oldest + ${RATE_WINDOW_S}) FROM (
            SELECT min(l.at) AS oldest, count(*) AS n, c.rate_per_min AS rate FROM ${s}.lease_starts AS l
            JOIN ${s}.caps AS c USING (scope)
            WHERE l.at > ${NOW(1)} - ${RATE_WINDOW_S} AND c.rate_per_min IS NOT NULL GROUP BY l.scope, c.rate_per_min
          ) AS w WHERE w.n >= floor(w.rate))) AS t`,
    },
  };
}

export async function getTasks(db: Db, queries: ReturnType<typeof readQueries>, ids: number[]) {
  if (ids.length === 0) return [];
  const rows = await db.read<TaskRow>({ ...queries.get, values: [ids] });
  const byId = new Map(rows.map((row) => [row.task_id, row]));
  const found: Task[] = [];
  for (const id of ids) {
    const row = byId.get(id);
    if (row) found.push(rowToTask(row));
  }
  return found;
}

export async function stats(db: Db, queries: ReturnType<typeof readQueries>): Promise<Stats> {
  const counted = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Stats;
  for (const row of await db.read<{ status: keyof Stats; n: number }>(queries.stats)) {
    if (row.status in counted) counted[row.status] = row.n;
  }
  return counted;
}

export async function queuedByBackend(
  db: Db,
  queries: ReturnType<typeof readQueries>,
): Promise<QueuedCount[]> {
  const [queued, scheduled] = await Promise.all([
    db.read<{ backend: string | null; queued: number }>(queries.queuedByBackend),
    db.read<{ backend: string | null; n: number }>({ ...queries.scheduledByBackend, values: [db.clock()] }),
  ]);
  const due = new Map(scheduled.map((row) => [row.backend, row.n]));
  return queued.map((row) => ({ ...row, scheduled: due.get(row.backend) ?? 0 }));
}

export async function nextWakeAt(db: Db, queries: ReturnType<typeof readQueries>) {
  const [row] = await db.read<{ t: number | null }>({ ...queries.nextWakeAt, values: [db.clock()] });
  return row?.t ?? null;
}

/** Rows a page of list asks for at most, and at first (pages grow while rows are small). */
const MAX_PAGE = 1000;
const FIRST_PAGE = 100;

/** Above every id (bigint's largest value). */
const NO_BOUND = '9223372036854775807';

/** Statement texts of list, one per combination of filters (named, so each is prepared once). */
const listTexts = new Map<string, { name: string; text: string }>();

export async function listTasks(db: Db, query: ListQuery): Promise<Task[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  if (query.status) {
    // Written into the SQL (it is one of TASK_STATUSES, checked here) so that the planner can use
    // the partial index of that status; with a parameter it could not.
    if (!TASK_STATUSES.includes(query.status)) {
      throw new MitteloError('bad_request', `unknown status ${query.status}`);
    }
    where.push(`status = '${query.status}'`);
  }
  if (query.backend) {
    values.push(query.backend);
    where.push(`backend = $${values.length}`);
  }
  if (query.search) {
    // strpos, not LIKE: % and _ in the search are plain characters.
    values.push(query.search);
    where.push(`strpos(lower(prompt), lower($${values.length})) > 0`);
  }
  // The page's upper bound (before_id, then the last id of the page before); always a bound, so
  // the plan is an index range scan whatever the value.
  values.push(null);
  const beforeParam = values.length;
  where.push(`task_id < $${beforeParam}::bigint`);
  values.push(0); // rows of this page
  const limitParam = values.length;
  const text = `SELECT ${TASK_COLUMNS} FROM ${db.s}.tasks WHERE ${where.join(' AND ')}
    ORDER BY task_id DESC LIMIT $${limitParam}`;
  const key = `${db.s}|${text}`;
  let statement = listTexts.get(key);
  if (!statement) {
    statement = { name: `list-${listTexts.size}`, text };
    listTexts.set(key, statement);
  }

  const limit = query.limit > 0 ? query.limit : Number.POSITIVE_INFINITY;
  const budget = query.max_bytes ?? Number.POSITIVE_INFINITY;
  const tasks: Task[] = [];
  let bytes = 0;
  let before: number | string = query.before_id ?? NO_BOUND;
  let page = Math.min(limit, FIRST_PAGE);
  for (;;) {
    values[beforeParam - 1] = before;
    values[limitParam - 1] = page;
    const rows = await db.read<TaskRow>({ ...statement, values });
    for (const row of rows) {
      tasks.push(rowToTask(row));
      bytes += taskAnswerBytes(row);
      if (bytes >= budget || tasks.length >= limit) return tasks;
    }
    if (rows.length < page) return tasks;
    before = rows[rows.length - 1]!.task_id;
    // The next page: what is left of the limit, about what is left of the budget at this page's
    // bytes per row, and never more than MAX_PAGE rows in memory at once.
    const perRow = Math.max(1, bytes / tasks.length);
    const byBudget = Number.isFinite(budget) ? Math.ceil((budget - bytes) / perRow) + 1 : MAX_PAGE;
    page = Math.max(1, Math.min(limit - tasks.length, MAX_PAGE, page * 4, byBudget));
  }
}

export async function dumpTasks(
  db: Db,
  queries: ReturnType<typeof readQueries>,
  afterId: number,
  limit: number,
): Promise<Task[]> {
  const rows = await db.read<TaskRow>({ ...queries.dump, values: [afterId, Math.max(0, Math.trunc(limit))] });
  return rows.map((row) => rowToTask(row, true));
}

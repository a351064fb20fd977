/**
 * load: tasks stored exactly as given (ids, statuses, times, lease tokens), for `mittelo copy`.
 * One transaction: the table is locked against other writers (EXCLUSIVE: reads go on), the rows
 * are inserted in one statement, and the id sequence is moved past the largest id loaded (never
 * back), so enqueues on any hub continue after it. An id that already exists refuses the whole
 * batch with `conflict`.
 */
import { MitteloError } from '../../errors.ts';
import { TASK_FIELDS, type Task } from '../../protocol/model.ts';
import { errorCode } from './connect.ts';
import type { Db } from './db.ts';
import { describeRequestError } from './faults.ts';
import { jsonText } from './rows.ts';

/** The SQL type of each column, as json_to_recordset reads it. */
const COLUMN_TYPES: Record<keyof Task, string> = {
  task_id: 'bigint',
  prompt: 'text',
  status: 'text',
  created_at: 'float8',
  updated_at: 'float8',
  leased_until: 'float8',
  worker_id: 'text',
  result: 'text',
  error: 'text',
  backend: 'text',
  tags: 'text[]',
  priority: 'int',
  attempts: 'int',
  max_attempts: 'int',
  lease_expirations: 'int',
  available_at: 'float8',
  timeout_s: 'float8',
  error_kind: 'text',
  error_fix: 'text',
  duration_ms: 'float8',
  usage: 'text',
  metadata: 'text',
  lease_token: 'text',
  max_cost_usd: 'float8',
  cost_usd: 'float8',
  cost_basis: 'text',
  output_schema: 'text',
  parsed: 'text',
  resume: 'boolean',
  session_id: 'text',
  workspace: 'text',
  base_ref: 'text',
  permissions: 'text',
  worktree: 'text',
};

/** The json columns: they travel as their text and are cast back. */
const JSON_COLUMNS = new Set<keyof Task>(['usage', 'metadata', 'output_schema', 'parsed', 'worktree']);

export function loadQueries(db: Db) {
  const s = db.s;
  const select = TASK_FIELDS.map((f) => (JSON_COLUMNS.has(f) ? `r.${f}::json` : `r.${f}`));
  return {
    lock: `LOCK TABLE ${s}.tasks IN EXCLUSIVE MODE`,
    insert: {
      name: 'load-insert',
      text: `INSERT INTO ${s}.tasks (${TASK_FIELDS.join(', ')}) OVERRIDING SYSTEM VALUE
        SELECT ${select.join(', ')}
        FROM json_to_recordset($1::json) AS r(${TASK_FIELDS.map((f) => `${f} ${COLUMN_TYPES[f]}`).join(', ')})`,
    },
    sequence: {
      name: 'load-sequence',
      text: `SELECT setval(q.seq, GREATEST(COALESCE(pg_sequence_last_value(q.seq::regclass), 0), $1::bigint))
        FROM (SELECT pg_get_serial_sequence($2, 'task_id') AS seq) AS q`,
    },
  };
}

export async function loadTasks(
  db: Db,
  queries: ReturnType<typeof loadQueries>,
  tasks: Task[],
): Promise<void> {
  if (tasks.length === 0) return;
  const rows = tasks.map((task) => ({
    ...task,
    tags: task.tags ?? [],
    usage: jsonText(task.usage),
    metadata: jsonText(task.metadata),
    output_schema: jsonText(task.output_schema),
    parsed: jsonText(task.parsed),
    // A dump from before resumed sessions has neither.
    resume: task.resume ?? false,
    session_id: task.session_id ?? null,
    // ...nor workspaces and permissions.
    workspace: task.workspace ?? null,
    base_ref: task.base_ref ?? null,
    permissions: task.permissions ?? null,
    worktree: jsonText(task.worktree ?? null),
  }));
  const largest = Math.max(...tasks.map((task) => task.task_id));
  await db.withClient(async (client) => {
    try {
      await client.query('BEGIN');
      await client.query(queries.lock);
      await client.query({ ...queries.insert, values: [JSON.stringify(rows)] });
      await client.query({ ...queries.sequence, values: [largest, `${db.s}.tasks`] });
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      if (errorCode(error) === '23505') {
        const id = /\(task_id\)=\((\d+)\)/.exec((error as { detail?: string }).detail ?? '')?.[1];
        throw new MitteloError(
          'conflict',
          `task ${id ?? '(one of these)'} already exists in ${db.where}; nothing of this batch was loaded`,
          { task_id: id === undefined ? undefined : Number(id) },
        );
      }
      // A task PostgreSQL refuses for its content (an unknown status, a NUL character): bad input.
      if (/^2[2-3]/.test(errorCode(error) ?? '')) throw describeRequestError(error, db.where);
      throw error;
    }
  });
}

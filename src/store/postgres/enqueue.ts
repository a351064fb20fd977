/**
 * enqueue: the tasks of every enqueue request of one event-loop turn go into the database in one
 * multi-row INSERT (one statement, so one transaction and one commit), each request's tasks in
 * their order. The rows travel as one JSON parameter; ids come from the table's identity sequence.
 *
 * A request PostgreSQL refuses (a task without a prompt, a NUL character in the text) fails that
 * statement as a whole, so the batch is then written again one request per statement: the bad
 * request is refused, the others are stored. A failure of the database refuses the whole batch.
 */
import type { NewTask, Task } from '../../protocol/model.ts';
import { freshTask, type NewTaskFields, newTaskFields } from '../queue-policy.ts';
import { type Db, NOW } from './db.ts';
import { describeRequestError, isDatabaseFault, isTransient } from './faults.ts';
import { jsonText } from './rows.ts';
import { type BatchItem, settle } from './turn-batch.ts';

export interface EnqueueItem extends BatchItem<Task[]> {
  tasks: NewTask[];
}

/** Rows per INSERT at most (one request's tasks always go together, however many). */
export const ENQUEUE_BATCH_ROWS = 5000;

export function enqueueQuery(db: Db) {
  return {
    name: 'enqueue',
    // available_at: queue-policy.ts's firstAvailableAt, with the database's clock.
    text: `INSERT INTO ${db.s}.tasks
        (prompt, status, created_at, updated_at, backend, tags, priority, max_attempts, timeout_s, metadata,
          available_at, max_cost_usd, output_schema, resume, workspace, base_ref, permissions)
      SELECT r.prompt, 'queued', c.now, c.now, r.backend, r.tags, r.priority, r.max_attempts, r.timeout_s,
        r.metadata::json,
        CASE WHEN r.not_before > 0 THEN r.not_before WHEN r.delay_s > 0 THEN c.now + r.delay_s ELSE 0 END,
        r.max_cost_usd, r.output_schema::json, r.resume, r.workspace, r.base_ref, r.permissions
      FROM (SELECT ${NOW(2)} AS now) AS c,
        json_to_recordset($1::json) AS r(i int, prompt text, backend text, tags text[], priority int,
          max_attempts int, timeout_s float8, metadata text, not_before float8, delay_s float8,
          max_cost_usd float8, output_schema text, resume boolean, workspace text, base_ref text,
          permissions text)
      ORDER BY r.i
      RETURNING task_id, created_at, available_at`,
  };
}

export async function runEnqueue(
  db: Db,
  query: ReturnType<typeof enqueueQuery>,
  items: EnqueueItem[],
  onWrite: () => void,
): Promise<void> {
  const prepared: { item: EnqueueItem; fields: NewTaskFields[] }[] = [];
  for (const item of items) {
    try {
      prepared.push({ item, fields: item.tasks.map((task) => newTaskFields(task, db.policy)) });
    } catch (error) {
      settle(item, { error: describeRequestError(error, db.where) });
    }
  }
  await insert(db, query, prepared, onWrite);
}

async function insert(
  db: Db,
  query: ReturnType<typeof enqueueQuery>,
  prepared: { item: EnqueueItem; fields: NewTaskFields[] }[],
  onWrite: () => void,
): Promise<void> {
  if (prepared.length === 0) return;
  const rows: object[] = [];
  for (const { item, fields } of prepared) {
    for (const [index, f] of fields.entries()) {
      const task = item.tasks[index]!;
      rows.push({
        i: rows.length,
        prompt: f.prompt,
        backend: f.backend,
        tags: f.tags,
        priority: f.priority,
        max_attempts: f.max_attempts,
        timeout_s: f.timeout_s,
        metadata: jsonText(f.metadata),
        not_before: task.not_before ?? null,
        delay_s: task.delay_s ?? null,
        max_cost_usd: f.max_cost_usd,
        output_schema: jsonText(f.output_schema),
        resume: f.resume,
        workspace: f.workspace,
        base_ref: f.base_ref,
        permissions: f.permissions,
      });
    }
  }
  let stored: { task_id: number; created_at: number; available_at: number }[];
  for (let attempt = 0; ; attempt += 1) {
    try {
      stored = await db.withClient(async (client) => {
        const result = await client.query<{ task_id: number; created_at: number; available_at: number }>({
          ...query,
          values: [JSON.stringify(rows), db.clock()],
        });
        return result.rows;
      });
      break;
    } catch (error) {
      if (isTransient(error) && attempt < 3) continue;
      if (!isDatabaseFault(error) && prepared.length > 1) {
        for (const one of prepared) await insert(db, query, [one], onWrite);
        return;
      }
      const refusal = isDatabaseFault(error)
        ? db.fault(error, 'write')
        : describeRequestError(error, db.where);
      for (const { item } of prepared) settle(item, { error: refusal });
      return;
    }
  }
  onWrite();
  // Ids are handed out in the SELECT's order (ORDER BY r.i), so ascending ids are the rows in order.
  const inOrder = [...stored].sort((a, b) => a.task_id - b.task_id);
  const createdAt = stored[0]?.created_at ?? 0;
  let next = 0;
  for (const { item, fields } of prepared) {
    settle(item, {
      value: fields.map((f) => {
        const row = inOrder[next++]!;
        return freshTask(row.task_id, createdAt, f, row.available_at);
      }),
    });
  }
}

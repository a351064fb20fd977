/** Mapping between PostgreSQL rows and the wire Task shape. */
import { TASK_FIELDS, type Task, type WorktreeChange } from '../../protocol/model.ts';
import { jsonText, TASK_COLUMNS, taskFromRow } from '../task-row.ts';

export { jsonText, TASK_COLUMNS };

/** The same columns qualified with a table alias (for joins and RETURNING). */
export const taskColumnsOf = (alias: string): string => TASK_FIELDS.map((f) => `${alias}.${f}`).join(', ');

/** A task as the store's connections read it: json columns as their text (see connect.ts). */
export type TaskRow = Omit<Task, 'usage' | 'metadata' | 'output_schema' | 'parsed' | 'worktree'> & {
  usage: string | null;
  metadata: string | null;
  output_schema: string | null;
  parsed: string | null;
  worktree: string | null;
};

const parseJson = <T = Record<string, unknown>>(text: string | null): T | null =>
  text === null ? null : (JSON.parse(text) as T);

/** `withLeaseToken` is true only for the holder of a fresh lease (and dump): the token is its proof. */
export function rowToTask(row: TaskRow, withLeaseToken = false): Task {
  return taskFromRow(
    row,
    {
      tags: row.tags ?? [],
      usage: parseJson(row.usage),
      metadata: parseJson(row.metadata),
      output_schema: parseJson(row.output_schema),
      parsed: parseJson<unknown>(row.parsed),
      worktree: parseJson<WorktreeChange>(row.worktree),
    },
    withLeaseToken,
  );
}

/** Mapping between PostgreSQL rows and the wire Task shape. */
import { TASK_FIELDS, type Task } from '../../protocol/model.ts';
import { TASK_COLUMNS, taskFromRow } from '../task-row.ts';

export { TASK_COLUMNS };

/** The same columns qualified with a table alias (for joins and RETURNING). */
export const taskColumnsOf = (alias: string): string => TASK_FIELDS.map((f) => `${alias}.${f}`).join(', ');

/** A task as the store's connections read it: json columns as their text (see connect.ts). */
export type TaskRow = Omit<Task, 'usage' | 'metadata'> & {
  usage: string | null;
  metadata: string | null;
};

const parseJson = (text: string | null): Record<string, unknown> | null =>
  text === null ? null : (JSON.parse(text) as Record<string, unknown>);

/** `withLeaseToken` is true only for the holder of a fresh lease (and dump): the token is its proof. */
export function rowToTask(row: TaskRow, withLeaseToken = false): Task {
  return taskFromRow(
    row,
    { tags: row.tags ?? [], usage: parseJson(row.usage), metadata: parseJson(row.metadata) },
    withLeaseToken,
  );
}

/** A JSON value as the text of a json column (null stays NULL). */
export function jsonText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** Mapping between SQLite rows and the wire Task shape. */
import type { Task, WorktreeChange } from '../../protocol/model.ts';
import { jsonText, TASK_COLUMNS, taskFromRow } from '../task-row.ts';

export { jsonText, TASK_COLUMNS };

/** A task as SQLite holds it: the JSON fields as text (NULL when empty), resume as 0 or 1. */
export type TaskRow = Omit<
  Task,
  'tags' | 'usage' | 'metadata' | 'output_schema' | 'parsed' | 'worktree' | 'resume'
> & {
  resume: number;
  tags: string | null;
  usage: string | null;
  metadata: string | null;
  output_schema: string | null;
  parsed: string | null;
  worktree: string | null;
};

const parseJson = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

/** `withLeaseToken` is true only for the holder of a fresh lease (and dump): the token is its proof. */
export function rowToTask(row: TaskRow, withLeaseToken = false): Task {
  return taskFromRow(
    row,
    {
      tags: parseJson<string[]>(row.tags) ?? [],
      usage: parseJson(row.usage),
      metadata: parseJson(row.metadata),
      output_schema: parseJson(row.output_schema),
      parsed: parseJson<unknown>(row.parsed),
      worktree: parseJson<WorktreeChange>(row.worktree),
    },
    withLeaseToken,
  );
}

/** Store JSON columns as NULL when empty so the common case costs nothing to read. */
export function jsonOrNull(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value) && value.length === 0) return null;
  return JSON.stringify(value);
}

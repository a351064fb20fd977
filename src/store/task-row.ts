/**
 * A stored row as a wire Task, for every store: the columns are the fields of the wire model in
 * its order, and a store decodes only the JSON fields (tags, usage, metadata, output_schema,
 * parsed, worktree) its own way.
 */
import { TASK_FIELDS, type Task } from '../protocol/model.ts';

/** Every column of a task, in the wire model's order. */
export const TASK_COLUMNS = TASK_FIELDS.join(', ');

type JsonFields = 'tags' | 'usage' | 'metadata' | 'output_schema' | 'parsed' | 'worktree';

/** A row as a store reads it: `resume` is SQLite's 0/1 or PostgreSQL's boolean. */
type StoredRow = Omit<Task, JsonFields | 'resume'> & { resume: boolean | number };

/** `withLeaseToken` is true only for the holder of a fresh lease (and dump): the token is its proof. */
export function taskFromRow(row: StoredRow, json: Pick<Task, JsonFields>, withLeaseToken: boolean): Task {
  return {
    task_id: row.task_id,
    prompt: row.prompt,
    status: row.status,
    created_at: row.created_at,
    updated_at: row.updated_at,
    leased_until: row.leased_until,
    worker_id: row.worker_id,
    result: row.result,
    error: row.error,
    backend: row.backend,
    tags: json.tags,
    priority: row.priority,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    lease_expirations: row.lease_expirations,
    available_at: row.available_at,
    timeout_s: row.timeout_s,
    error_kind: row.error_kind,
    error_fix: row.error_fix,
    duration_ms: row.duration_ms,
    usage: json.usage,
    metadata: json.metadata,
    lease_token: withLeaseToken ? row.lease_token : null,
    max_cost_usd: row.max_cost_usd,
    cost_usd: row.cost_usd,
    cost_basis: row.cost_basis,
    output_schema: json.output_schema,
    parsed: json.parsed,
    resume: Boolean(row.resume),
    session_id: row.session_id,
    workspace: row.workspace,
    base_ref: row.base_ref,
    permissions: row.permissions,
    worktree: json.worktree,
  };
}

/**
 * A JSON value as the text of a JSON column, exactly as given (null and absent: NULL). For values
 * whose empty form means something: an empty array is `[]`, not NULL.
 */
export function jsonText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

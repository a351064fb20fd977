/** Mapping between SQLite rows and the wire Task shape. */
import type { Task, TaskStatus } from '../types.ts';

export const TASK_COLUMNS =
  'task_id, prompt, status, created_at, updated_at, leased_until, worker_id, result, error, backend, tags, ' +
  'priority, attempts, max_attempts, lease_expirations, available_at, timeout_s, error_kind, error_fix, ' +
  'duration_ms, usage, metadata, lease_token';

export interface TaskRow {
  task_id: number;
  prompt: string;
  status: TaskStatus;
  created_at: number;
  updated_at: number;
  leased_until: number | null;
  worker_id: string | null;
  result: string | null;
  error: string | null;
  backend: string | null;
  tags: string | null;
  priority: number;
  attempts: number;
  max_attempts: number;
  lease_expirations: number;
  available_at: number;
  timeout_s: number | null;
  error_kind: string | null;
  error_fix: string | null;
  duration_ms: number | null;
  usage: string | null;
  metadata: string | null;
  lease_token: string | null;
}

const parseJson = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

/** `withLeaseToken` is true only for the holder of a fresh lease: the token is its proof. */
export function rowToTask(row: TaskRow, withLeaseToken = false): Task {
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
    tags: parseJson<string[]>(row.tags) ?? [],
    priority: row.priority,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    lease_expirations: row.lease_expirations,
    available_at: row.available_at,
    timeout_s: row.timeout_s,
    error_kind: row.error_kind,
    error_fix: row.error_fix,
    duration_ms: row.duration_ms,
    usage: parseJson(row.usage),
    metadata: parseJson(row.metadata),
    lease_token: withLeaseToken ? row.lease_token : null,
  };
}

/** Store JSON columns as NULL when empty so the common case costs nothing to read. */
export function jsonOrNull(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value) && value.length === 0) return null;
  return JSON.stringify(value);
}

/** The row a fresh INSERT made, as a Task (see the column defaults in migrations.ts). */
export function newTask(
  taskId: number,
  now: number,
  fields: Pick<Task, 'prompt' | 'backend' | 'tags' | 'priority' | 'max_attempts' | 'timeout_s' | 'metadata'>,
): Task {
  return {
    task_id: taskId,
    prompt: fields.prompt,
    status: 'queued',
    created_at: now,
    updated_at: now,
    leased_until: null,
    worker_id: null,
    result: null,
    error: null,
    backend: fields.backend,
    tags: fields.tags,
    priority: fields.priority,
    attempts: 0,
    max_attempts: fields.max_attempts,
    lease_expirations: 0,
    available_at: 0,
    timeout_s: fields.timeout_s,
    error_kind: null,
    error_fix: null,
    duration_ms: null,
    usage: null,
    metadata: fields.metadata,
    lease_token: null,
  };
}

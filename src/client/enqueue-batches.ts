/**
 * Cutting many tasks into `enqueue_many` calls that each fit the hub's request limits: what
 * `mittelo enqueue --jsonl` and `mittelo run` send (one budget, so docs/CLI.md and docs/AGENTS.md
 * state one figure).
 */
import type { NewTask } from '../protocol/model.ts';

/** At most this many tasks per `enqueue_many` call. */
export const MAX_TASKS_PER_CALL = 5000;
/** Request lines stay under this (UTF-8 bytes of the tasks' JSON), well inside the hub's default 1 MiB line limit. */
export const MAX_BYTES_PER_CALL = 768 * 1024;

/**
 * Split tasks into `enqueue_many` batches of at most `maxTasks` tasks and about `maxBytes` of
 * JSON, in order. A single task larger than `maxBytes` goes alone (the hub then judges it).
 */
export function batchesForHub(
  tasks: readonly NewTask[],
  maxTasks = MAX_TASKS_PER_CALL,
  maxBytes = MAX_BYTES_PER_CALL,
): NewTask[][] {
  const batches: NewTask[][] = [];
  let current: NewTask[] = [];
  let bytes = 0;
  for (const task of tasks) {
    const size = Buffer.byteLength(JSON.stringify(task)) + 1;
    if (current.length > 0 && (current.length >= maxTasks || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(task);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

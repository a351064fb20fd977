/**
 * Answers are bounded by bytes as well as by count. A `list` of every task, or a `lease` of 520
 * tasks with megabyte prompts, would otherwise build one answer of hundreds of megabytes: more
 * than a JavaScript string may hold (RangeError: Invalid string length), and more than any
 * client wants in one line. Stores stop adding tasks to an answer once it reaches the budget
 * (always giving at least one), and the hub tells the caller there may be more.
 */
import type { Task } from '../protocol/model.ts';

/** Bytes of task text one answer may carry (prompts, results, errors, metadata, answers' JSON). */
export const ANSWER_BUDGET_BYTES = 8 * 1024 * 1024;

/** What a task adds to an answer, roughly: its text fields plus the fixed fields around them. */
export function taskAnswerBytes(
  task: Pick<Task, 'prompt' | 'result' | 'error'> & {
    metadata?: unknown;
    output_schema?: unknown;
    parsed?: unknown;
    worktree?: unknown;
  },
): number {
  let bytes = 400 + task.prompt.length;
  if (task.result) bytes += task.result.length;
  if (task.error) bytes += task.error.length;
  // The JSON columns count as the rows hold them (their text); a wire Task's objects do not.
  for (const json of [task.metadata, task.output_schema, task.parsed, task.worktree]) {
    if (typeof json === 'string') bytes += json.length;
  }
  return bytes;
}

/** Whether tasks adding up to this many bytes filled the budget (so the answer may have been cut). */
export function filledBudget(tasks: readonly Task[], budget: number): boolean {
  let bytes = 0;
  for (const task of tasks) bytes += taskAnswerBytes(task);
  return bytes >= budget;
}

/**
 * What a run keeps of each task (one JSON line per task in the results file) and the summary
 * printed at the end: counts, duration percentiles, tokens and cost per backend.
 */
import type { RunCounts } from '../notify/events.ts';
import { type CostBasis, type Task, TERMINAL_STATUSES, type WorktreeChange } from '../protocol/model.ts';
import { type TokenCounts, tokensOf } from '../protocol/usage-tokens.ts';

export interface ResultRecord {
  task_id: number;
  /** The pack line the task came from. */
  line: number;
  /** done, failed or canceled; for a task the run did not see finish, where it stands (queued, leased). */
  status: Task['status'];
  /** The backend of the agent that ran it (null when no agent of ours is known to have). */
  backend: string | null;
  worker_id: string | null;
  result: string | null;
  /**
   * The answer parsed and valid against the task's output_schema; null without one (or not done).
   * Optional: results files written before structured answers have no such field.
   */
  parsed?: unknown;
  error: string | null;
  error_kind: string | null;
  error_fix: string | null;
  attempts: number;
  /** How long the backend ran (the last attempt). */
  duration_ms: number | null;
  /** From enqueue to the final answer, queueing and retries included. */
  latency_ms: number;
  usage: Record<string, unknown> | null;
  /** What the task's last run cost (USD) as its agent acked it; null: not known (see cost_basis). */
  cost_usd: number | null;
  /** reported, estimated or unknown; null: the run reported no usage (echo, shell), or an older hub. */
  cost_basis: CostBasis | null;
  /** The token counts in `usage`, read the one way every CLI's keys are read (usage-tokens.ts). */
  tokens: TokenCounts;
  metadata: Record<string, unknown> | null;
  prompt: string;
  /** What the task changed in its own worktree; absent for tasks that ran in the shared place. */
  worktree?: WorktreeResult;
}

/** A results line's worktree: the change without its diff text, which is in `diff_file`. */
export interface WorktreeResult {
  branch: string;
  /** The branch's commit when the run ended; null: nothing changed. */
  commit: string | null;
  path: string;
  files_changed: number;
  insertions: number;
  deletions: number;
  diff_bytes: number;
  /** Whether the diff stored with the task was cut (diff_file holds the whole one all the same). */
  diff_truncated: boolean;
  /** The whole diff, relative to the run folder: `diffs/<task id>.diff`. */
  diff_file: string;
  kept: boolean;
}

/** Where a task's whole diff goes, relative to its run folder. */
export function diffFileOf(taskId: number): string {
  return `diffs/${taskId}.diff`;
}

export function resultRecord(
  task: Task,
  line: number,
  backendOf: (workerId: string) => string | null,
): ResultRecord {
  return {
    task_id: task.task_id,
    line,
    status: task.status,
    backend: task.worker_id ? backendOf(task.worker_id) : null,
    worker_id: task.worker_id,
    result: task.result,
    // `?? null`: a hub from before structured answers sends no parsed.
    parsed: task.parsed ?? null,
    error: task.error,
    error_kind: task.error_kind ?? null,
    error_fix: task.error_fix ?? null,
    attempts: task.attempts ?? 0,
    duration_ms: task.duration_ms ?? null,
    latency_ms: Math.max(0, Math.round((task.updated_at - task.created_at) * 1000)),
    usage: task.usage ?? null,
    // `?? null`: a hub from before spend sends neither field.
    cost_usd: task.cost_usd ?? null,
    cost_basis: task.cost_basis ?? null,
    tokens: tokensOf(task.usage),
    metadata: task.metadata ?? null,
    prompt: task.prompt,
    ...(task.worktree ? { worktree: worktreeResult(task.worktree, task.task_id) } : {}),
  };
}

function worktreeResult(change: WorktreeChange, taskId: number): WorktreeResult {
  return {
    branch: change.branch,
    commit: change.commit,
    path: change.path,
    files_changed: change.files_changed,
    insertions: change.insertions,
    deletions: change.deletions,
    diff_bytes: change.diff_bytes,
    diff_truncated: change.diff_truncated,
    diff_file: diffFileOf(taskId),
    kept: change.kept,
  };
}

/** Tokens and cost summed over finished tasks. */
export interface SpendSummary {
  input_tokens: number;
  output_tokens: number;
  /** Known cost (reported plus estimated), USD; null when no task had one. */
  cost_usd: number | null;
  /** The part of cost_usd that is estimated from the price table. */
  estimated_usd: number;
  /** Tasks whose cost is unknown (tokens, but no price): not in cost_usd. */
  cost_unknown: number;
}

export interface BackendSummary extends SpendSummary {
  backend: string;
  done: number;
  failed: number;
  canceled: number;
  p50_ms: number | null;
  p95_ms: number | null;
}

export interface RunSummary extends RunCounts {
  backends: BackendSummary[];
  /** Every backend together. */
  spend: SpendSummary;
}

/** Dollars summed as floats pick up noise (0.1 + 0.2): a millionth of a dollar is plenty. */
const micro = (usd: number): number => Math.round(usd * 1e6) / 1e6;

/**
 * The known cost of a record, or null. A cost without a basis counts as reported (as on the wire);
 * `unknown` never carries one.
 */
export function knownCost(record: Pick<ResultRecord, 'cost_usd' | 'cost_basis'>): number | null {
  return record.cost_basis === 'unknown' ? null : record.cost_usd;
}

export function spendOf(records: readonly ResultRecord[]): SpendSummary {
  const sum: SpendSummary = {
    input_tokens: 0,
    output_tokens: 0,
    cost_usd: null,
    estimated_usd: 0,
    cost_unknown: 0,
  };
  for (const record of records) {
    sum.input_tokens += record.tokens.input_tokens;
    sum.output_tokens += record.tokens.output_tokens;
    const cost = knownCost(record);
    if (cost !== null) sum.cost_usd = micro((sum.cost_usd ?? 0) + cost);
    if (cost !== null && record.cost_basis === 'estimated')
      sum.estimated_usd = micro(sum.estimated_usd + cost);
    if (record.cost_basis === 'unknown') sum.cost_unknown += 1;
  }
  return sum;
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(records: readonly ResultRecord[], total: number, wallMs: number): RunSummary {
  const groups = new Map<string, ResultRecord[]>();
  for (const record of records) {
    if (!TERMINAL_STATUSES.includes(record.status)) continue; // unfinished: no backend ran it to an end
    const key = record.backend ?? '(unknown)';
    const group = groups.get(key) ?? [];
    group.push(record);
    groups.set(key, group);
  }
  const count = (list: readonly ResultRecord[], status: string) =>
    list.filter((r) => r.status === status).length;
  const backends = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([backend, list]) => {
      const durations = list
        .map((r) => r.duration_ms)
        .filter((d): d is number => d !== null)
        .sort((a, b) => a - b);
      return {
        backend,
        done: count(list, 'done'),
        failed: count(list, 'failed'),
        canceled: count(list, 'canceled'),
        p50_ms: percentile(durations, 50),
        p95_ms: percentile(durations, 95),
        ...spendOf(list),
      };
    });
  const done = count(records, 'done');
  const failed = count(records, 'failed');
  const canceled = count(records, 'canceled');
  const unfinished = total - done - failed - canceled;
  // Whole milliseconds: wallMs is a difference of performance.now() readings (70.87467899999999).
  const spend = spendOf(records.filter((record) => TERMINAL_STATUSES.includes(record.status)));
  return { total, done, failed, canceled, unfinished, wall_ms: Math.round(wallMs), backends, spend };
}

/**
 * The agent's decisions about where each task runs and what its backend may do (docs/AGENTS.md,
 * "Workspaces" and "What an agent may do"): the task's own workspace, base_ref and permissions
 * win over the agent's; a worktree task gets its own git worktree before the run, and what the
 * run changed is recorded (commit, diff) when it ends. The git work itself is src/workspace/.
 */
import type { BackendOutcome, Permissions } from '../backends/types.ts';
import type { Task, WorkspaceMode, WorktreeChange } from '../protocol/model.ts';
import {
  type FinishedWorktree,
  finishWorktree,
  type PreparedWorktree,
  prepareWorktree,
} from '../workspace/task-worktree.ts';

export interface WorkspaceOptions {
  /** Where tasks that do not say run (default shared). */
  workspace?: WorkspaceMode | undefined;
  /** The repository worktree tasks are made from (its top folder, checked at start). */
  repo?: string | undefined;
  /** The ref new worktrees start from when the task names none (default HEAD). */
  base?: string | undefined;
  /** Keep the worktree folders of done tasks too (a failed task's is always kept). */
  keepWorktrees?: boolean | undefined;
  /** What backends may do when the task does not say (default: by workspace). */
  permissions?: Permissions | undefined;
}

export interface TaskPlan {
  mode: WorkspaceMode;
  baseRef: string;
  permissions: Permissions;
}

/** How a run ended, as far as its worktree is concerned. */
export type RunEnding =
  /** Acked done: recorded, the folder removed unless --keep-worktrees. */
  | 'done'
  /** Acked failed: recorded, the folder kept for a look (and for a retry to continue in). */
  | 'failed'
  /** Canceled on the hub: what was left is committed on the branch, the folder removed. */
  | 'canceled';

export const DEFAULT_BASE_REF = 'HEAD';

/** A workspace problem that keeps the task from running here, as a failed run says it. */
export type WorkspaceFailure = Extract<BackendOutcome, { ok: false }>;

/** The task's workspace, base and permissions: its own, else the agent's, else the defaults. */
export function planTask(task: Task, options: WorkspaceOptions): TaskPlan {
  const mode = task.workspace ?? options.workspace ?? 'shared';
  return {
    mode,
    baseRef: task.base_ref ?? options.base ?? DEFAULT_BASE_REF,
    // edit by default only inside the task's own worktree; full only when asked for by name.
    permissions: task.permissions ?? options.permissions ?? (mode === 'worktree' ? 'edit' : 'read'),
  };
}

/**
 * The worktree a worktree task runs in, or why it cannot run here. No repository: this agent was
 * started without --repo. The task is failed (kind config, with the fix) rather than released:
 * a release would hand it straight back to this agent's next lease, over and over, while a
 * failed attempt goes through the hub's retry and backoff, where an agent that has a repository
 * may take it, and ends failed for good, saying why, if none does.
 */
export async function prepareTaskWorkspace(
  task: Task,
  plan: TaskPlan,
  options: WorkspaceOptions,
): Promise<PreparedWorktree | WorkspaceFailure> {
  if (!options.repo) {
    return {
      ok: false,
      kind: 'config',
      error: `task ${task.task_id} asks for its own worktree (workspace: worktree), and this agent has no repository`,
      fix: 'start the agent with --repo DIR (a git checkout), or route worktree tasks to agents that have one (--tag)',
    };
  }
  try {
    return await prepareWorktree({
      repo: options.repo,
      taskId: task.task_id,
      createdAt: task.created_at,
      baseRef: plan.baseRef,
      knownBaseCommit: task.worktree?.base_commit,
    });
  } catch (error) {
    return {
      ok: false,
      kind: 'config',
      error: `could not make the worktree of task ${task.task_id}: ${(error as Error).message}`,
      fix: `check that base ref "${plan.baseRef}" exists in ${options.repo} (git branch -a, git tag), or enqueue the task with another base_ref`,
    };
  }
}

export interface RecordedChange {
  change: WorktreeChange;
  finished: FinishedWorktree;
}

/** Commit and diff what the run left, and remove or keep the folder as `ending` says. */
export async function finishTaskWorkspace(
  task: Task,
  prepared: PreparedWorktree,
  ending: RunEnding,
  options: WorkspaceOptions,
): Promise<RecordedChange> {
  const keep = ending === 'failed' || (ending === 'done' && options.keepWorktrees === true);
  const finished = await finishWorktree({ ...prepared, taskId: task.task_id, prompt: task.prompt, keep });
  return { change: finished.change, finished };
}

/**
 * Where a task's worktree lives and what its branch is called. Task ids repeat across hubs and
 * runs (every embedded hub counts from 1), so a name carries the task's created_at too: the pair
 * names one task for good. `task-7-lq3k2m1a`: task 7, created at that millisecond (base 36).
 */
import { join } from 'node:path';

/** The folder, under a repository's root, that holds Mittelö's own files (ignored by git). */
export const MITTELO_FOLDER = '.mittelo';
/** Under MITTELO_FOLDER: the tasks' worktrees. */
export const WORKTREES_FOLDER = 'worktrees';
/** Every task branch starts with this. */
export const BRANCH_PREFIX = 'mittelo/';

/** A task's created_at (Unix seconds, a float) as the short stamp of its names. */
export function worktreeStamp(createdAt: number): string {
  return Math.round(createdAt * 1000).toString(36);
}

/** `task-<id>-<stamp>`: the worktree folder's name, and the branch's after `mittelo/`. */
export function taskWorktreeName(taskId: number, createdAt: number): string {
  return `task-${taskId}-${worktreeStamp(createdAt)}`;
}

/** `<repo>/.mittelo/worktrees`. */
export function worktreesFolder(repoRoot: string): string {
  return join(repoRoot, MITTELO_FOLDER, WORKTREES_FOLDER);
}

/** `<repo>/.mittelo/worktrees/task-<id>-<stamp>`. */
export function taskWorktreePath(repoRoot: string, taskId: number, createdAt: number): string {
  return join(worktreesFolder(repoRoot), taskWorktreeName(taskId, createdAt));
}

/** `mittelo/task-<id>-<stamp>`. */
export function taskBranch(taskId: number, createdAt: number): string {
  return `${BRANCH_PREFIX}${taskWorktreeName(taskId, createdAt)}`;
}

/** The task id in a worktree folder's or branch's name; null for a name that is not one of ours. */
export function taskIdOfName(name: string): number | null {
  const match = /(?:^|\/)task-(\d+)-[0-9a-z]+$/.exec(name);
  return match ? Number(match[1]) : null;
}

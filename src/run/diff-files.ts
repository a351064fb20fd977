/**
 * A run folder's diffs/<task id>.diff: the whole diff of each task that ran in its own worktree.
 * The hub stores a diff cut at MAX_STORED_DIFF_BYTES; a cut one is taken again from the
 * repository (its branch stays there, so `git diff base_commit commit` is the same diff), which
 * is simpler than carrying every agent's full diff through the run. Without the repository (a
 * --hub agent on another machine) the stored, cut diff is written, and the results line says
 * diff_truncated.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Task } from '../protocol/model.ts';
import { diffBetween } from '../workspace/task-worktree.ts';
import { diffFileOf } from './results.ts';

export async function writeDiffFiles(
  runFolder: string,
  tasks: readonly Task[],
  repo: string | null,
  log: (line: string) => void,
): Promise<void> {
  const changed = tasks.filter((task) => task.worktree);
  if (changed.length === 0) return;
  await mkdir(join(runFolder, 'diffs'), { recursive: true });
  for (const task of changed) {
    const change = task.worktree!;
    let text = change.diff;
    if (change.diff_truncated && change.commit && repo) {
      try {
        text = await diffBetween(repo, change.base_commit, change.commit);
      } catch (error) {
        log(
          `mittelo run: task ${task.task_id}: the whole diff could not be read from ${repo} (${(error as Error).message}); wrote the stored one, cut at ${change.diff_cap_bytes} bytes`,
        );
      }
    }
    await writeFile(join(runFolder, diffFileOf(task.task_id)), text);
  }
}

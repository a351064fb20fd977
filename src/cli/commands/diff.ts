/**
 * `mittelo diff ID`: the diff of what a task changed in its own worktree, exactly as git wrote it
 * (so `mittelo diff 3 | git apply` works), from a hub or from a run folder (--run).
 */
import { Command, Option } from 'commander';
import { jsonOption, parseTaskId, printJson, withConnectionOptions } from '../common.ts';
import { type ChangeSource, describeCounts, findTaskChange, type TaskChange } from '../task-change.ts';

interface DiffFlags extends ChangeSource {
  stat?: boolean;
  json?: boolean;
}

export function diffCommand(): Command {
  const command = new Command('diff')
    .description("print the diff of a task's worktree change (from the hub, or a run folder with --run)")
    .argument('<id>', 'task id')
    .addOption(runOption())
    .addOption(new Option('--stat', 'print files changed, insertions, deletions, branch and commit instead'))
    .addOption(jsonOption())
    .action(async (rawId: string, flags: DiffFlags) => {
      const taskId = parseTaskId(rawId);
      const change = await findTaskChange(taskId, flags);
      if (flags.json) printJson(changeJson(change));
      else if (flags.stat) process.stdout.write(`${statLines(change).join('\n')}\n`);
      else {
        process.stdout.write(change.diff);
        if (change.commit === null || change.diff === '') {
          process.stderr.write(`mittelo: task ${taskId} changed nothing\n`);
        }
      }
      if (change.cut && !flags.stat) process.stderr.write(`mittelo: ${cutWarning(change)}\n`);
    });
  return withConnectionOptions(command);
}

/** --run, shared with `mittelo apply`. */
export function runOption(): Option {
  return new Option('--run <dir>', 'read the change from this run folder (or `latest`) instead of a hub');
}

/** One stderr line for a diff the hub holds cut: how much it has, and where the whole one is. */
export function cutWarning(change: TaskChange): string {
  const base = change.baseCommit ?? '<base commit>';
  return `task ${change.taskId}'s diff is cut at ${Buffer.byteLength(change.diff)} of ${change.diffBytes} bytes: the whole one is in its run folder (--run DIR) or in the repository: git diff ${base} ${change.branch}`;
}

function statLines(change: TaskChange): string[] {
  return [
    `task ${change.taskId}: ${describeCounts(change)}`,
    `branch ${change.branch}`,
    `commit ${change.commit ?? '- (nothing changed)'}`,
    ...(change.cut ? [`diff cut: ${Buffer.byteLength(change.diff)} of ${change.diffBytes} bytes kept`] : []),
  ];
}

function changeJson(change: TaskChange): Record<string, unknown> {
  return {
    task_id: change.taskId,
    branch: change.branch,
    commit: change.commit,
    base_commit: change.baseCommit,
    path: change.path,
    files_changed: change.filesChanged,
    insertions: change.insertions,
    deletions: change.deletions,
    diff_bytes: change.diffBytes,
    diff_truncated: change.cut,
    diff: change.diff,
  };
}

/**
 * Finding what a task changed in its own worktree, for `mittelo diff` and `mittelo apply`: from a
 * run folder (its results line and the whole diff in diffs/<id>.diff) or from a hub (the task's
 * `worktree`, whose diff may be cut at MAX_STORED_DIFF_BYTES). Either way the answer has one
 * shape, and says whether the diff text it holds is the whole diff.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMitteloError } from '../errors.ts';
import type { Task } from '../protocol/model.ts';
import type { ResultRecord } from '../run/results.ts';
import { RUN_FILES } from '../run/run-manifest.ts';
import { CliError, type ConnectionFlags, EXIT, withHub } from './common.ts';
import { describeRunFolder, listRunFolders, manifestOf, NotARunFolder } from './run-folders.ts';

export interface TaskChange {
  taskId: number;
  branch: string;
  /** The branch's commit when the run ended; null: the task changed nothing. */
  commit: string | null;
  /** The commit the branch started from; null when not known (a run folder's results line). */
  baseCommit: string | null;
  path: string;
  filesChanged: number;
  insertions: number;
  deletions: number;
  /** The whole diff's size in bytes. */
  diffBytes: number;
  /** The diff text this holds (the whole diff unless `cut`). */
  diff: string;
  /** Whether `diff` is cut short of the whole diff. */
  cut: boolean;
  /** Where it came from, for messages: `the hub` or the run folder. */
  from: string;
}

export interface ChangeSource extends ConnectionFlags {
  run?: string;
}

/**
 * The task's change, or a one-line CliError when there is no such task (exit 4 from a hub, as
 * `mittelo get`; 2 from a run folder) or it has none (2).
 */
export async function findTaskChange(taskId: number, source: ChangeSource): Promise<TaskChange> {
  return source.run !== undefined ? fromRunFolder(taskId, source.run) : fromHub(taskId, source);
}

async function fromHub(taskId: number, flags: ConnectionFlags): Promise<TaskChange> {
  let task: Task;
  try {
    task = await withHub(flags, (client) => client.get(taskId));
  } catch (error) {
    // The hub refused it (not_found): exit 4, as `mittelo get` and docs/CLI.md's exit codes say.
    if (isMitteloError(error) && error.code === 'not_found') {
      throw new CliError(`no task ${taskId} on the hub (\`mittelo status\` lists the tasks)`, EXIT.refused);
    }
    throw error;
  }
  const change = task.worktree;
  if (!change) throw noWorktree(taskId);
  return {
    taskId,
    branch: change.branch,
    commit: change.commit,
    baseCommit: change.base_commit,
    path: change.path,
    filesChanged: change.files_changed,
    insertions: change.insertions,
    deletions: change.deletions,
    diffBytes: change.diff_bytes,
    diff: change.diff,
    cut: change.diff_truncated,
    from: 'the hub',
  };
}

function fromRunFolder(taskId: number, given: string): TaskChange {
  const folder = runFolderNamed(given);
  const manifest = manifestOf(folder);
  const results = manifest?.results ?? join(folder, RUN_FILES.results);
  const record = lastRecordOf(results, taskId);
  if (!record) {
    throw new CliError(
      `no task ${taskId} in the run ${folder} (its ${results} has no line for it)`,
      EXIT.usage,
    );
  }
  const change = record.worktree;
  if (!change) throw noWorktree(taskId);
  const diffPath = join(folder, change.diff_file);
  if (!existsSync(diffPath)) {
    throw new CliError(
      `task ${taskId}'s diff ${diffPath} is missing: \`git diff\` its branch ${change.branch} in the repository`,
      EXIT.failure,
    );
  }
  const diff = readFileSync(diffPath, 'utf8');
  return {
    taskId,
    branch: change.branch,
    commit: change.commit,
    // Not run.json's base: a task may start from its own base_ref.
    baseCommit: null,
    path: change.path,
    filesChanged: change.files_changed,
    insertions: change.insertions,
    deletions: change.deletions,
    diffBytes: change.diff_bytes,
    diff,
    // The run writes the stored, cut diff only when it could not read the repository.
    cut: change.diff_truncated && Buffer.byteLength(diff) < change.diff_bytes,
    from: folder,
  };
}

/** `latest` is the newest run folder; anything else is a run folder's path. */
function runFolderNamed(given: string): string {
  if (given === 'latest') {
    const newest = listRunFolders().at(-1);
    if (!newest) throw new CliError('--run latest: there are no runs (`mittelo run PACK` makes one)');
    return newest.folder;
  }
  if (!existsSync(given))
    throw new CliError(`--run ${given}: no such folder (\`mittelo runs\` lists the runs)`);
  try {
    describeRunFolder(given);
  } catch (error) {
    if (error instanceof NotARunFolder) throw new CliError(`--run ${given}: ${error.message}`);
    throw error;
  }
  return given;
}

/** The task's last line in a results file (a resumed run may have written it again). */
function lastRecordOf(path: string, taskId: number): ResultRecord | null {
  if (!existsSync(path)) return null;
  let found: ResultRecord | null = null;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const record = JSON.parse(line) as ResultRecord;
      if (record.task_id === taskId) found = record;
    } catch {
      // not a record: skipped
    }
  }
  return found;
}

function noWorktree(taskId: number): CliError {
  return new CliError(
    `task ${taskId} has no worktree change: it did not run in a worktree of its own (--workspace worktree), or has not run yet`,
    EXIT.usage,
  );
}

/** "3 files, +10 -2" */
export function describeCounts(change: TaskChange): string {
  return `${change.filesChanged} file${change.filesChanged === 1 ? '' : 's'}, +${change.insertions} -${change.deletions}`;
}

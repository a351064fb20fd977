/**
 * `mittelo apply ID`: put a task's worktree change onto the current branch of a repository,
 * staged and not committed (the person reviews it with `git diff --cached` and commits it).
 * Everything is checked first: a diff that does not apply cleanly, a cut diff, a folder that is
 * not a repository change nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { git } from '../../workspace/git.ts';
import { diffBetween } from '../../workspace/task-worktree.ts';
import { CliError, EXIT, parseTaskId, withConnectionOptions } from '../common.ts';
import { type ChangeSource, describeCounts, findTaskChange, type TaskChange } from '../task-change.ts';
import { runOption } from './diff.ts';

interface ApplyFlags extends ChangeSource {
  repo?: string;
}

export function applyCommand(): Command {
  const command = new Command('apply')
    .description("apply a task's worktree change to the repository's current branch, staged, not committed")
    .argument('<id>', 'task id')
    .addOption(new Option('--repo <dir>', 'the repository to apply it to (default: the current folder)'))
    .addOption(runOption())
    .action(async (rawId: string, flags: ApplyFlags) => {
      const taskId = parseTaskId(rawId);
      const root = await repositoryRoot(resolve(flags.repo ?? '.'));
      const change = await findTaskChange(taskId, flags);
      if (change.commit === null || change.diff === '') {
        throw new CliError(`task ${taskId} changed nothing: there is nothing to apply`, EXIT.usage);
      }
      const diff = change.cut ? await wholeDiffFrom(root, change) : change.diff;
      const dir = mkdtempSync(join(tmpdir(), 'mittelo-apply-'));
      try {
        const patch = join(dir, `task-${taskId}.diff`);
        writeFileSync(patch, diff);
        // Check first, then apply with --index (work tree and index together). Not --3way: on a
        // conflict it leaves conflict markers in files, and a refused apply must change nothing.
        const check = await git(root, ['apply', '--check', '--index', patch], { allowFailure: true });
        if (check.code !== 0) throw await conflict(root, change, check.stderr);
        await git(root, ['apply', '--index', patch]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      process.stdout.write(
        `applied task ${taskId}'s change: ${describeCounts(change)}, staged; review with git diff --cached\n`,
      );
    });
  return withConnectionOptions(command);
}

async function repositoryRoot(dir: string): Promise<string> {
  const found = await git(dir, ['rev-parse', '--show-toplevel'], { allowFailure: true }).catch(() => null);
  if (found?.code !== 0) {
    throw new CliError(`${dir} is not a git repository: run in one, or give it with --repo DIR`, EXIT.usage);
  }
  return found.stdout.trim();
}

/** Whether `ref` names a commit in the repository. */
async function hasCommit(root: string, ref: string): Promise<boolean> {
  const found = await git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], {
    allowFailure: true,
  });
  return found.code === 0;
}

/**
 * A cut diff is never applied in part: the whole one is taken from the task's branch when this
 * repository has it (the agent ran here), else the person is sent to the run folder.
 */
async function wholeDiffFrom(root: string, change: TaskChange): Promise<string> {
  const tip = change.commit ?? change.branch;
  if (change.baseCommit && (await hasCommit(root, change.baseCommit)) && (await hasCommit(root, tip))) {
    return diffBetween(root, change.baseCommit, tip);
  }
  const instead =
    change.from === 'the hub'
      ? 'apply it from its run folder with --run DIR'
      : `merge its branch (git merge ${change.branch}) in the repository it ran in`;
  throw new CliError(
    `task ${change.taskId}'s diff from ${change.from} is cut at ${Buffer.byteLength(change.diff)} of ${change.diffBytes} bytes and its branch ${change.branch} is not in ${root}: ${instead}`,
    EXIT.usage,
  );
}

/** The refusal of a diff that does not apply: which files, and what to do instead. */
async function conflict(root: string, change: TaskChange, stderr: string): Promise<CliError> {
  const files = [
    ...new Set(
      [
        ...stderr.matchAll(
          /^error: (?:patch failed: (.+?):\d+|(.+?): (?:does not exist in index|already exists in (?:index|working directory)|does not match index|No such file or directory))$/gm,
        ),
      ].map((match) => match[1] ?? match[2]!),
    ),
  ];
  const onBranch = await hasCommit(root, change.commit ?? change.branch);
  const instead = onBranch
    ? `merge its branch instead (git merge ${change.branch}, or git cherry-pick ${change.commit})`
    : `commit or stash your changes to ${files.length ? 'them' : 'those files'}, or take the diff with \`mittelo diff ${change.taskId}\` and apply it by hand`;
  const which = files.length ? files.join(', ') : stderr.trim().split('\n')[0];
  return new CliError(
    `task ${change.taskId}'s change does not apply to ${root} (${which}); nothing was changed: ${instead}`,
    EXIT.failure,
  );
}

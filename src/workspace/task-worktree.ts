/**
 * A task's own git worktree: made (or found again) before its run, and recorded when the run
 * ends — what the backend left is committed on the task's branch, the diff against the base is
 * taken with its counts, and the folder is removed or kept. The branch always stays: it is the
 * task's result, for `git merge`, `mittelo apply` or a look with `git log`.
 *
 * For clean-up by others (`mittelo runs --clean`): listTaskWorktrees(repoRoot) and
 * removeWorktree(repoRoot, worktreePath) — stable names, safe to call on a folder already gone.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { MAX_STORED_DIFF_BYTES, type WorktreeChange } from '../protocol/model.ts';
import { git, serialized } from './git.ts';
import { resolveCommit } from './repository-check.ts';
import {
  BRANCH_PREFIX,
  MITTELO_FOLDER,
  taskBranch,
  taskIdOfName,
  taskWorktreePath,
  worktreesFolder,
} from './worktree-names.ts';

/** The most diff text kept in memory for the run folder's diffs/<id>.diff (the rest is counted). */
export const MAX_FULL_DIFF_BYTES = 64 * 1024 * 1024;
/** A commit message's first line names the task and the prompt's first line, cut to this. */
const SUBJECT_PROMPT_CHARS = 60;
/** Who commits when the repository names nobody (user.name / user.email unset). */
const FALLBACK_IDENTITY = ['-c', 'user.name=Mittelö', '-c', 'user.email=mittelo@localhost'];

export interface PrepareRequest {
  /** The repository's top folder (checkRepository's root). */
  repo: string;
  taskId: number;
  /** The task's created_at (Unix seconds): with the id, it names the worktree for good. */
  createdAt: number;
  /** The ref a new branch starts from. */
  baseRef: string;
  /** The base commit recorded by an earlier run of this task (the hub keeps it), if any. */
  knownBaseCommit?: string | null | undefined;
}

export interface PreparedWorktree {
  repo: string;
  path: string;
  branch: string;
  baseRef: string;
  baseCommit: string;
  /** True when an earlier run's worktree (or branch) was found and is continued. */
  reused: boolean;
}

/** What is kept next to each worktree folder, so a later run or a clean-up knows its base. */
interface WorktreeRecord {
  task_id: number;
  branch: string;
  base_ref: string;
  base_commit: string;
}

/**
 * The task's worktree, ready to run in: an existing one of the same task is reused (a retry
 * continues where the last run left off), a branch of it without its folder gets the folder
 * back, and otherwise a new branch starts at the base ref's commit.
 */
export async function prepareWorktree(request: PrepareRequest): Promise<PreparedWorktree> {
  const repo = request.repo;
  const path = taskWorktreePath(repo, request.taskId, request.createdAt);
  const branch = taskBranch(request.taskId, request.createdAt);
  await ensureIgnored(repo);
  return serialized(repo, async () => {
    const record = await readRecord(path);
    const known = record?.base_commit ?? request.knownBaseCommit ?? null;
    if (existsSync(join(path, '.git'))) {
      const baseCommit = known ?? (await mergeBase(repo, branch, request.baseRef));
      return { repo, path, branch, baseRef: record?.base_ref ?? request.baseRef, baseCommit, reused: true };
    }
    // A folder left half made (a crash during add), or a worktree git lost track of.
    if (existsSync(path)) await rm(path, { recursive: true, force: true });
    await git(repo, ['worktree', 'prune']);
    // The branch of an earlier run whose folder is gone gets its folder back; else a new branch.
    const reused = await branchExists(repo, branch);
    let baseCommit: string;
    if (reused) {
      await git(repo, ['worktree', 'add', path, branch]);
      baseCommit = known ?? (await mergeBase(repo, branch, request.baseRef));
    } else {
      baseCommit = await resolveCommit(repo, request.baseRef);
      await git(repo, ['worktree', 'add', '-b', branch, path, baseCommit]);
    }
    await writeRecord(path, {
      task_id: request.taskId,
      branch,
      base_ref: request.baseRef,
      base_commit: baseCommit,
    });
    return { repo, path, branch, baseRef: request.baseRef, baseCommit, reused };
  });
}

export interface FinishRequest extends PreparedWorktree {
  taskId: number;
  prompt: string;
  /** Keep the folder (a failed task, --keep-worktrees); else it is removed, the branch kept. */
  keep: boolean;
}

export interface FinishedWorktree {
  /** What goes into the ack (its diff cut at MAX_STORED_DIFF_BYTES). */
  change: WorktreeChange;
  /** The whole diff, for the run folder (cut only past MAX_FULL_DIFF_BYTES: see fullDiffTruncated). */
  fullDiff: string;
  fullDiffTruncated: boolean;
  /** Commits on the branch since the base, the backend's own and ours. */
  commits: number;
  /** Whether this finish committed what the backend left uncommitted. */
  committedLeftovers: boolean;
}

/**
 * Record what the run changed: commit what the backend left (if anything), take the diff of the
 * branch against the base commit with its counts, and remove the folder unless `keep`.
 */
export async function finishWorktree(request: FinishRequest): Promise<FinishedWorktree> {
  const { path, branch, baseCommit } = request;
  await git(path, ['add', '-A']);
  const staged = await git(path, ['diff', '--cached', '--quiet'], { allowFailure: true });
  const committedLeftovers = staged.code !== 0;
  if (committedLeftovers) {
    const identity = (await hasIdentity(path)) ? [] : FALLBACK_IDENTITY;
    // --no-verify: the commit records what the backend did, as it is. A repository's hooks
    // (linters, tests, message rules) are for people's commits; failing here would lose the
    // record of the work. They run when someone merges or applies the branch. gc.auto=0: no
    // background gc racing the other agents' git calls.
    await git(path, [
      ...identity,
      '-c',
      'gc.auto=0',
      'commit',
      '--no-verify',
      '--quiet',
      '-m',
      commitMessage(request.taskId, request.prompt),
    ]);
  }
  const head = (await git(path, ['rev-parse', 'HEAD'])).stdout.trim();
  const commit = head === baseCommit ? null : head;
  const commits =
    commit === null
      ? 0
      : Number((await git(path, ['rev-list', '--count', `${baseCommit}..${head}`])).stdout.trim());
  const counts =
    commit === null ? { files: 0, insertions: 0, deletions: 0 } : await numstat(path, baseCommit, head);
  const diff =
    commit === null
      ? { stdout: '', bytes: 0, truncated: false }
      : await git(path, ['diff', '--binary', baseCommit, head], { maxBytes: MAX_FULL_DIFF_BYTES });
  const stored = cutDiff(diff.stdout, MAX_STORED_DIFF_BYTES);
  if (!request.keep) await removeWorktree(request.repo, path);
  return {
    change: {
      branch,
      path,
      base_ref: request.baseRef,
      base_commit: baseCommit,
      commit,
      files_changed: counts.files,
      insertions: counts.insertions,
      deletions: counts.deletions,
      diff: stored,
      diff_bytes: diff.bytes,
      diff_truncated: diff.bytes > Buffer.byteLength(stored),
      diff_cap_bytes: MAX_STORED_DIFF_BYTES,
      kept: request.keep,
    },
    fullDiff: diff.stdout,
    fullDiffTruncated: diff.truncated,
    commits,
    committedLeftovers,
  };
}

/**
 * The whole diff between two commits of the repository at `repoRoot` (a run folder's
 * diffs/<id>.diff when the stored one was cut), bounded at MAX_FULL_DIFF_BYTES.
 */
export async function diffBetween(repoRoot: string, from: string, to: string): Promise<string> {
  return (await git(repoRoot, ['diff', '--binary', from, to], { maxBytes: MAX_FULL_DIFF_BYTES })).stdout;
}

/**
 * Remove a task's worktree folder (and its record), keeping the branch. A folder already gone is
 * fine: git forgets it (worktree prune).
 */
export async function removeWorktree(repoRoot: string, worktreePath: string): Promise<void> {
  const path = resolve(worktreePath);
  await serialized(repoRoot, async () => {
    if (existsSync(path)) await git(repoRoot, ['worktree', 'remove', '--force', '--force', path]);
    await rm(recordPath(path), { force: true });
    // Git may keep an admin entry for a folder removed by hand; prune drops it.
    await git(repoRoot, ['worktree', 'prune']);
    if (existsSync(path)) await rm(path, { recursive: true, force: true });
  });
}

export interface TaskWorktree {
  /** The folder (absolute). */
  path: string;
  /** `mittelo/task-<id>-<stamp>`, or null for a detached worktree. */
  branch: string | null;
  /** The task the name says it belongs to. */
  taskId: number | null;
  /** The commit checked out there. */
  head: string | null;
  /** Git lists it, but its folder is gone (removed by hand). */
  missing: boolean;
}

/** Every task worktree of the repository at `repoRoot` (those under .mittelo/worktrees/). */
export async function listTaskWorktrees(repoRoot: string): Promise<TaskWorktree[]> {
  const listed = await git(repoRoot, ['worktree', 'list', '--porcelain']);
  const folder = worktreesFolder(repoRoot) + sep;
  const found: TaskWorktree[] = [];
  for (const block of listed.stdout.split('\n\n')) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const space = line.indexOf(' ');
      fields.set(space < 0 ? line : line.slice(0, space), space < 0 ? '' : line.slice(space + 1));
    }
    const path = fields.get('worktree');
    if (!path || !resolve(path).startsWith(folder)) continue;
    const ref = fields.get('branch') ?? null;
    const branch = ref?.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref;
    found.push({
      path: resolve(path),
      branch,
      taskId: taskIdOfName(basename(path)),
      head: fields.get('HEAD') ?? null,
      missing: !existsSync(path),
    });
  }
  return found;
}

/** `<repo>/.mittelo/.gitignore` holding `*`: worktrees and run folders never dirty the checkout. */
export async function ensureIgnored(repoRoot: string): Promise<void> {
  const ignore = join(repoRoot, MITTELO_FOLDER, '.gitignore');
  if (existsSync(ignore)) return;
  await mkdir(join(repoRoot, MITTELO_FOLDER), { recursive: true });
  await writeFile(
    ignore,
    '# Mittelö keeps its own files here (worktrees, runs): not part of the repository\n*\n',
    {
      flag: 'wx',
    },
  ).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
}

/** `mittelo task 7: Fix the parser's handling of…`. */
export function commitMessage(taskId: number, prompt: string): string {
  const first = prompt.trim().split('\n')[0]!.trim();
  const cut = first.length > SUBJECT_PROMPT_CHARS ? `${first.slice(0, SUBJECT_PROMPT_CHARS - 1)}…` : first;
  return `mittelo task ${taskId}: ${cut}\n\nMade by Mittelö from what the task's backend left in its worktree.`;
}

/**
 * `text` cut to at most `maxBytes` bytes of UTF-8, at the end of a line when one falls in the
 * last quarter (a diff cut mid-line is harder to read), never inside a character.
 */
export function cutDiff(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back off a UTF-8 continuation byte, so no character is split.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  const newline = bytes.lastIndexOf(0x0a, end - 1);
  if (newline >= maxBytes * 0.75) end = newline + 1;
  return bytes.subarray(0, end).toString('utf8');
}

async function numstat(
  cwd: string,
  from: string,
  to: string,
): Promise<{ files: number; insertions: number; deletions: number }> {
  const out = await git(cwd, ['diff', '--numstat', '-z', from, to]);
  let files = 0;
  let insertions = 0;
  let deletions = 0;
  for (const entry of out.stdout.split('\0')) {
    const match = /^(\d+|-)\t(\d+|-)\t/.exec(entry);
    if (!match) continue;
    files += 1;
    // A binary file shows `-` for both: changed, with no lines to count.
    if (match[1] !== '-') insertions += Number(match[1]);
    if (match[2] !== '-') deletions += Number(match[2]);
  }
  return { files, insertions, deletions };
}

/** Whether git in `cwd` knows who commits (config or environment), so no stand-in is needed. */
async function hasIdentity(cwd: string): Promise<boolean> {
  const env = process.env;
  if (env.GIT_COMMITTER_NAME && env.GIT_COMMITTER_EMAIL && env.GIT_AUTHOR_NAME && env.GIT_AUTHOR_EMAIL)
    return true;
  const name = await git(cwd, ['config', '--get', 'user.name'], { allowFailure: true });
  const email = await git(cwd, ['config', '--get', 'user.email'], { allowFailure: true });
  return name.code === 0 && name.stdout.trim() !== '' && email.code === 0 && email.stdout.trim() !== '';
}

async function branchExists(repo: string, branch: string): Promise<boolean> {
  const found = await git(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], {
    allowFailure: true,
  });
  return found.code === 0;
}

/** The base of a branch whose record is lost: where it forked from the base ref. */
async function mergeBase(repo: string, branch: string, baseRef: string): Promise<string> {
  const base = await git(repo, ['merge-base', branch, await resolveCommit(repo, baseRef)]);
  return base.stdout.trim();
}

/** `<worktree folder>.json`, beside the folder (inside the worktree it would be part of the diff). */
function recordPath(path: string): string {
  return `${path}.json`;
}

async function readRecord(path: string): Promise<WorktreeRecord | null> {
  try {
    const record = JSON.parse(await readFile(recordPath(path), 'utf8')) as WorktreeRecord;
    return typeof record.base_commit === 'string' && record.branch.startsWith(BRANCH_PREFIX) ? record : null;
  } catch {
    return null;
  }
}

async function writeRecord(path: string, record: WorktreeRecord): Promise<void> {
  await writeFile(recordPath(path), `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Is this a repository tasks can start from? Asked once before anything is created (`mittelo run`
 * and `mittelo agent` with --workspace worktree): a folder that is not a git checkout, one with
 * no commit yet, a base ref that does not exist, or uncommitted changes the user did not allow
 * are each refused with one line saying what to do. A failed check creates nothing.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { MitteloError } from '../errors.ts';
import { git } from './git.ts';
import { MITTELO_FOLDER } from './worktree-names.ts';

export interface CheckedRepository {
  /** The checkout's top folder (git rev-parse --show-toplevel). */
  root: string;
  /** The ref as given (HEAD, main, a tag, a commit). */
  baseRef: string;
  /** The commit it names now. */
  baseCommit: string;
}

export interface CheckOptions {
  /** Accept a checkout with uncommitted changes (tasks start from the base commit, without them). */
  allowDirty?: boolean;
  /** How the folder is named in messages (default `--repo <dir>`). */
  label?: string;
}

export async function checkRepository(
  dir: string,
  baseRef: string,
  options: CheckOptions = {},
): Promise<CheckedRepository> {
  const label = options.label ?? `--repo ${dir}`;
  const folder = resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new MitteloError('bad_request', `${label}: no such folder: give the folder of a git checkout`);
  }
  const top = await git(folder, ['rev-parse', '--show-toplevel'], { allowFailure: true });
  if (top.code !== 0) {
    throw new MitteloError(
      'bad_request',
      `${label} is not inside a git repository: give the folder of a git checkout (git init makes one)`,
    );
  }
  const root = top.stdout.trim();
  const head = await git(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { allowFailure: true });
  if (head.code !== 0) {
    throw new MitteloError(
      'bad_request',
      `${root} has no commit yet: commit something first (tasks start from a commit)`,
    );
  }
  const baseCommit = await resolveCommit(root, baseRef);
  if (!options.allowDirty) {
    const changed = await uncommittedPaths(root);
    if (changed.length > 0) {
      throw new MitteloError(
        'bad_request',
        `${root} has uncommitted changes (${changed.length} file${changed.length === 1 ? '' : 's'}, first: ${changed[0]}): commit or stash them, or pass --allow-dirty (tasks start from ${baseRef} and do not see them)`,
      );
    }
  }
  return { root, baseRef, baseCommit };
}

/** The commit `ref` names in the repository at `root`; a bad_request naming it when none. */
export async function resolveCommit(root: string, ref: string): Promise<string> {
  if (ref.startsWith('-') || ref.trim() === '') {
    throw new MitteloError(
      'bad_request',
      `base ref "${ref}" is not a git ref: give a branch, a tag or a commit`,
    );
  }
  const found = await git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], {
    allowFailure: true,
  });
  if (found.code !== 0) {
    throw new MitteloError(
      'bad_request',
      `base ref "${ref}" does not exist in ${root}: name a branch, a tag or a commit (git branch -a and git tag list them)`,
    );
  }
  return found.stdout.trim();
}

/**
 * The paths `git status` reports as changed or untracked, Mittelö's own folder left out (a run
 * folder under .mittelo/ is not the user's change).
 */
export async function uncommittedPaths(root: string): Promise<string[]> {
  const status = await git(root, ['status', '--porcelain=v1', '-z', '--untracked-files=normal']);
  const entries = status.stdout.split('\0');
  const paths: string[] = [];
  for (let k = 0; k < entries.length; k += 1) {
    const entry = entries[k]!;
    if (entry.length < 4) continue;
    const path = entry.slice(3);
    // A rename or copy is followed by its original path, which is not an entry of its own.
    if (entry[0] === 'R' || entry[0] === 'C') k += 1;
    if (isMitteloPath(path)) continue;
    paths.push(path);
  }
  return paths;
}

function isMitteloPath(path: string): boolean {
  return path.split('/').includes(MITTELO_FOLDER);
}

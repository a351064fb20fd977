/**
 * Running git for the workspace layer: one call per command, with its output bounded, and a
 * failure that names the git command, the folder and what git said on stderr, so a person reading
 * the task's error knows which step broke. Lock-file contention (several agents of one process, or
 * of several processes, touching one repository at once) is retried briefly here, since git
 * itself gives up at once when another git holds `index.lock` or a ref's lock.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { MitteloError } from '../errors.ts';

export interface GitResult {
  /** stdout, cut at `maxBytes` (see `bytes` for the whole size). */
  stdout: string;
  stderr: string;
  code: number;
  /** How many bytes git wrote on stdout in all, kept or not. */
  bytes: number;
  /** Whether stdout was cut at `maxBytes`. */
  truncated: boolean;
}

export interface GitOptions {
  /** The most stdout kept (default 4 MiB); the rest is counted, not kept. */
  maxBytes?: number;
  /** Extra environment (on top of the process's). */
  env?: NodeJS.ProcessEnv;
  /** Resolve with a non-zero exit instead of throwing (for questions: "does this ref exist?"). */
  allowFailure?: boolean;
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
/** stderr kept for the error message: git's own words are short. */
const MAX_STDERR_BYTES = 16 * 1024;
/** git's wording when another git holds a lock file (index.lock, a ref's .lock, config.lock). */
const LOCK_CONTENTION = /\.lock'?: File exists|Unable to create '[^']*\.lock'|cannot lock ref|index\.lock/i;
const LOCK_RETRIES = 20;
const LOCK_PAUSE_MS = 100;

/** The error of a failed git command: one line, naming it and what git said. */
export class GitError extends MitteloError {
  readonly stderr: string;
  readonly exitCode: number;
  constructor(args: readonly string[], cwd: string, result: Pick<GitResult, 'stderr' | 'code'>) {
    const said = firstLines(result.stderr) || `exit code ${result.code}`;
    super('bad_request', `git ${args.join(' ')} failed in ${cwd}: ${said}`);
    this.stderr = result.stderr;
    this.exitCode = result.code;
  }
}

/**
 * Run `git <args>` in `cwd`. Throws GitError on a non-zero exit (unless allowFailure), and a
 * MitteloError when git cannot be started at all (not installed).
 */
export async function git(
  cwd: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<GitResult> {
  for (let attempt = 0; ; attempt += 1) {
    const result = await runGit(cwd, args, options);
    if (result.code === 0) return result;
    if (LOCK_CONTENTION.test(result.stderr) && attempt < LOCK_RETRIES) {
      await sleep(LOCK_PAUSE_MS * (1 + Math.random()));
      continue;
    }
    if (options.allowFailure) return result;
    throw new GitError(args, cwd, result);
  }
}

function runGit(cwd: string, args: readonly string[], options: GitOptions): Promise<GitResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd,
      // No pager, no prompts for credentials, messages in English (they are matched above).
      env: { ...process.env, ...options.env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (keptBytes >= maxBytes) return;
      const part = chunk.subarray(0, maxBytes - keptBytes);
      kept.push(part);
      keptBytes += part.length;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      if (stderr.length < MAX_STDERR_BYTES) stderr += text;
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new MitteloError('bad_request', 'git is not on PATH: install git (workspaces are git worktrees)')
          : new MitteloError('bad_request', `cannot run git in ${cwd}: ${error.message}`),
      );
    });
    child.once('close', (code) => {
      resolve({
        stdout: Buffer.concat(kept).toString('utf8'),
        stderr: stderr.trim(),
        code: code ?? 1,
        bytes,
        truncated: bytes > keptBytes,
      });
    });
  });
}

/** git's message in one line: its `fatal:`/`error:` lines, joined, cut short. */
function firstLines(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const important = lines.filter((line) => /^(fatal|error):/.test(line));
  const text = (important.length > 0 ? important : lines).slice(0, 3).join('; ');
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

/**
 * Git operations on one repository's worktree list, one at a time within this process: `git
 * worktree add` of four agents at once would race on the repository's shared files. (Another
 * process's git is covered by the lock retries of `git`.)
 */
const queues = new Map<string, Promise<unknown>>();

export function serialized<T>(repoRoot: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(repoRoot) ?? Promise.resolve();
  const next = previous.catch(() => {}).then(work);
  const tail = next.catch(() => {});
  queues.set(repoRoot, tail);
  void tail.then(() => {
    if (queues.get(repoRoot) === tail) queues.delete(repoRoot);
  });
  return next;
}

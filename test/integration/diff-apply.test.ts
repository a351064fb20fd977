/**
 * `mittelo diff` and `mittelo apply` as a user meets them: a task's worktree change read from a
 * real hub (acked with a `worktree` as an agent does, after a real branch and commit in a real
 * repository) or from a run folder written by the run's own writers, printed, and applied to a
 * repository's current branch, staged; refused applies change nothing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { Task, WorktreeChange } from '../../src/protocol/model.ts';
import { writeDiffFiles } from '../../src/run/diff-files.ts';
import { resultRecord } from '../../src/run/results.ts';
import { writeRecords } from '../../src/run/results-file.ts';
import { type HubProcess, makeTempDir, startHubProcess } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const gitIn = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@localhost', ...args], {
    cwd,
    encoding: 'utf8',
  });

/** A repository with a.txt and b.txt on main, and one task's branch in a worktree changing both. */
function repoWithTaskBranch(taskId: number): {
  repo: string;
  base: string;
  branch: string;
  commit: string;
  path: string;
} {
  const repo = makeTempDir('mittelo-apply-repo-');
  gitIn(repo, 'init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'a.txt'), 'one\ntwo\nthree\n');
  writeFileSync(join(repo, 'b.txt'), 'bee\n');
  gitIn(repo, 'add', '-A');
  gitIn(repo, 'commit', '-q', '-m', 'base');
  const base = gitIn(repo, 'rev-parse', 'HEAD').trim();
  const branch = `mittelo/task-${taskId}-x`;
  const path = join(repo, '.mittelo', 'worktrees', `task-${taskId}-x`);
  mkdirSync(join(repo, '.mittelo'), { recursive: true });
  writeFileSync(join(repo, '.mittelo', '.gitignore'), '*\n');
  gitIn(repo, 'worktree', 'add', '-q', '-b', branch, path, base);
  writeFileSync(join(path, 'a.txt'), 'one\nTWO\nthree\n');
  writeFileSync(join(path, 'c.txt'), 'new file\n');
  gitIn(path, 'add', '-A');
  gitIn(path, 'commit', '-q', '-m', `mittelo task ${taskId}: change`);
  const commit = gitIn(path, 'rev-parse', 'HEAD').trim();
  return { repo, base, branch, commit, path };
}

function changeOf(made: ReturnType<typeof repoWithTaskBranch>, cap?: number): WorktreeChange {
  const diff = gitIn(made.repo, 'diff', '--binary', made.base, made.commit);
  const bytes = Buffer.byteLength(diff);
  const cut = cap !== undefined && bytes > cap;
  return {
    branch: made.branch,
    path: made.path,
    base_ref: 'HEAD',
    base_commit: made.base,
    commit: made.commit,
    files_changed: 2,
    insertions: 2,
    deletions: 1,
    diff: cut ? diff.slice(0, cap) : diff,
    diff_bytes: bytes,
    diff_truncated: cut,
    diff_cap_bytes: cap ?? 256 * 1024,
    kept: true,
  };
}

let hub: HubProcess;
let client: HubClient;
before(async () => {
  hub = await startHubProcess();
  client = new HubClient({ port: hub.port, reconnect: false });
  await client.connect();
});
after(async () => {
  client?.close();
  await hub?.stop();
});

/** Enqueue, lease and ack a task with `worktree` (as an agent would); its id. */
async function ackedTask(worktree: (id: number) => WorktreeChange | null): Promise<number> {
  const id = await client.enqueue({ prompt: 'change things' });
  const { tasks } = await client.call<{ tasks: { task_id: number; lease_token: string }[] }>('lease', {
    worker_id: 'w',
    max_tasks: 1,
  });
  assert.equal(tasks[0]!.task_id, id);
  const change = worktree(id);
  await client.call('ack', {
    task_id: id,
    lease_token: tasks[0]!.lease_token,
    status: 'done',
    result: 'ok',
    ...(change ? { worktree: change } : {}),
  });
  return id;
}

/** A task whose ack carries a real branch's change (cut at `cap` bytes when given). */
async function taskWithChange(
  cap?: number,
): Promise<{ id: number; made: ReturnType<typeof repoWithTaskBranch> }> {
  const made: ReturnType<typeof repoWithTaskBranch>[] = [];
  const id = await ackedTask((taskId) => {
    made.push(repoWithTaskBranch(taskId));
    return changeOf(made[0]!, cap);
  });
  return { id, made: made[0]! };
}

const at = () => ['--port', String(hub.port)];
const porcelain = (repo: string) => gitIn(repo, 'status', '--porcelain');
const head = (repo: string) => gitIn(repo, 'rev-parse', 'HEAD').trim();

describe('mittelo diff', () => {
  it('prints the diff the hub holds, exactly, and --stat its counts', async () => {
    const { id, made } = await taskWithChange();
    const expected = gitIn(made.repo, 'diff', '--binary', made.base, made.commit);
    const diff = await runCli(['diff', String(id), ...at()]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.equal(diff.stdout, expected);
    assert.equal(diff.stderr, '');
    const stat = await runCli(['diff', String(id), '--stat', ...at()]);
    assert.equal(stat.code, 0, stat.stderr);
    assert.equal(stat.stdout, `task ${id}: 2 files, +2 -1\nbranch ${made.branch}\ncommit ${made.commit}\n`);
    const json = await runCli(['diff', String(id), '--json', ...at()]);
    assert.equal(JSON.parse(json.stdout).diff, expected);
  });

  it('prints a cut diff as it is, with one line on stderr saying where the whole one is', async () => {
    const { id, made } = await taskWithChange(40);
    const whole = gitIn(made.repo, 'diff', '--binary', made.base, made.commit);
    const diff = await runCli(['diff', String(id), ...at()]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.equal(diff.stdout, whole.slice(0, 40));
    assert.equal(
      diff.stderr,
      `mittelo: task ${id}'s diff is cut at 40 of ${Buffer.byteLength(whole)} bytes: the whole one is in its run folder (--run DIR) or in the repository: git diff ${made.base} ${made.branch}\n`,
    );
  });

  it('reads the whole diff from a run folder written by the run writers (--run DIR), and applies it', async () => {
    const cwd = makeTempDir('mittelo-diff-run-');
    const made = repoWithTaskBranch(4);
    // The stored diff is cut; the run writer takes the whole one from the repository.
    const task = { ...(await client.get(await ackedTask(() => null))), task_id: 4, status: 'done' } as Task;
    task.worktree = changeOf(made, 40);
    const folder = join(cwd, '.mittelo', 'runs', '20260101-000000');
    mkdirSync(folder, { recursive: true });
    await writeDiffFiles(folder, [task], made.repo, () => {});
    await writeRecords(join(folder, 'results.jsonl'), [resultRecord(task, 1, () => 'echo')]);
    const whole = gitIn(made.repo, 'diff', '--binary', made.base, made.commit);
    for (const run of [folder, 'latest']) {
      const diff = await runCli(['diff', '4', '--run', run], { cwd });
      assert.equal(diff.code, 0, diff.stderr);
      assert.equal(diff.stdout, whole);
      assert.equal(diff.stderr, '');
    }
    const applied = await runCli(['apply', '4', '--run', folder, '--repo', made.repo], { cwd });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(porcelain(made.repo), 'M  a.txt\nA  c.txt\n');
    const none = await runCli(['diff', '5', '--run', folder], { cwd });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^mittelo: no task 5 in the run .+\n$/);
  });

  it('says so, in one line, for an unknown task, a task without a change, and one that changed nothing', async () => {
    const unknown = await runCli(['diff', '9999', ...at()]);
    assert.equal(unknown.code, 4);
    assert.equal(unknown.stderr, 'mittelo: no task 9999 on the hub (`mittelo status` lists the tasks)\n');
    const plain = await ackedTask(() => null);
    const without = await runCli(['diff', String(plain), ...at()]);
    assert.equal(without.code, 2);
    assert.match(without.stderr, new RegExp(`^mittelo: task ${plain} has no worktree change: .+\\n$`));
    const nothing = await ackedTask((taskId) => ({
      ...changeOf(repoWithTaskBranch(taskId)),
      commit: null,
      diff: '',
      diff_bytes: 0,
      files_changed: 0,
      insertions: 0,
      deletions: 0,
    }));
    const empty = await runCli(['diff', String(nothing), ...at()]);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, '');
    assert.equal(empty.stderr, `mittelo: task ${nothing} changed nothing\n`);
  });
});

describe('mittelo apply', () => {
  it("stages the task's whole change on the current branch, without committing", async () => {
    const { id, made } = await taskWithChange();
    const before = head(made.repo);
    const applied = await runCli(['apply', String(id), ...at()], { cwd: made.repo });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(
      applied.stdout,
      `applied task ${id}'s change: 2 files, +2 -1, staged; review with git diff --cached\n`,
    );
    assert.equal(head(made.repo), before);
    assert.equal(porcelain(made.repo), 'M  a.txt\nA  c.txt\n');
    assert.equal(readFileSync(join(made.repo, 'a.txt'), 'utf8'), 'one\nTWO\nthree\n');
    assert.equal(readFileSync(join(made.repo, 'c.txt'), 'utf8'), 'new file\n');
  });

  it('applies a cut diff from the branch in the repository, never in part', async () => {
    const { id, made } = await taskWithChange(40);
    const applied = await runCli(['apply', String(id), '--repo', made.repo, ...at()]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(porcelain(made.repo), 'M  a.txt\nA  c.txt\n');
    // Another repository has not the branch: refused, nothing changed.
    const other = makeTempDir('mittelo-apply-other-');
    gitIn(other, 'init', '-q', '-b', 'main');
    writeFileSync(join(other, 'a.txt'), 'one\ntwo\nthree\n');
    gitIn(other, 'add', '-A');
    gitIn(other, 'commit', '-q', '-m', 'elsewhere');
    const refused = await runCli(['apply', String(id), '--repo', other, ...at()]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /is cut at 40 of \d+ bytes and its branch .+ is not in .+: apply it from its run folder with --run DIR\n$/,
    );
    assert.equal(porcelain(other), '');
  });

  it('refuses a change that conflicts, naming the files, and changes nothing', async () => {
    const { id, made } = await taskWithChange();
    writeFileSync(join(made.repo, 'a.txt'), 'one\nzwei\nthree\n');
    gitIn(made.repo, 'commit', '-q', '-am', 'meanwhile');
    writeFileSync(join(made.repo, 'b.txt'), 'uncommitted\n');
    const before = { status: porcelain(made.repo), head: head(made.repo) };
    const refused = await runCli(['apply', String(id), ...at()], { cwd: made.repo });
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(
        `^mittelo: task ${id}'s change does not apply to .+ \\(a\\.txt\\); nothing was changed: merge its branch instead \\(git merge ${made.branch}, or git cherry-pick ${made.commit}\\)\\n$`,
      ),
    );
    assert.deepEqual({ status: porcelain(made.repo), head: head(made.repo) }, before);
    assert.equal(existsSync(join(made.repo, 'c.txt')), false);
  });

  it('refuses a folder that is not a repository, an unknown task (exit 4, as get) and a task without a change (exit 2)', async () => {
    const plainDir = makeTempDir('mittelo-not-a-repo-');
    const notRepo = await runCli(['apply', '1', ...at()], { cwd: plainDir });
    assert.equal(notRepo.code, 2);
    assert.match(
      notRepo.stderr,
      /^mittelo: .+ is not a git repository: run in one, or give it with --repo DIR\n$/,
    );
    const made = repoWithTaskBranch(55);
    const unknown = await runCli(['apply', '9999', ...at()], { cwd: made.repo });
    assert.equal(unknown.code, 4);
    assert.equal(unknown.stderr, 'mittelo: no task 9999 on the hub (`mittelo status` lists the tasks)\n');
    const plain = await ackedTask(() => null);
    const without = await runCli(['apply', String(plain), ...at()], { cwd: made.repo });
    assert.equal(without.code, 2);
    assert.match(without.stderr, /has no worktree change/);
    assert.equal(porcelain(made.repo), '');
  });
});

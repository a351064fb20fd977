/**
 * Per-task git worktrees end to end, as a user runs them: `mittelo run --workspace worktree` on a
 * real repository made here, four shell agents, eight tasks each writing the same file its own
 * way. Each task gets its own branch and diff, the main checkout stays clean and no worktree
 * folder is left; a failing task keeps its worktree, and its retry continues in it; bad input
 * (not a repository, a missing base, a dirty checkout) is one line, exit 2, nothing created.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { ResultRecord } from '../../src/run/results.ts';
import { startCli } from '../helpers/cli-process.ts';
import { HANG_GUARD_MS, makeTempDir, startHubProcess } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';
import { startV01Hub } from '../helpers/v01-hub.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** No identity in the repository or the environment: the agent must bring its own. */
const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } });
}

/** A folder with a repository `repo` (one commit on main: notes.txt) beside the pack. */
function setup(pack: string[]): { cwd: string; repo: string } {
  const cwd = makeTempDir('mittelo-workspaces-');
  cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
  const repo = join(cwd, 'repo');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'notes.txt'), 'first line\n');
  git(repo, 'add', '.');
  git(repo, '-c', 'user.name=Test', '-c', 'user.email=test@localhost', 'commit', '-q', '-m', 'start');
  writeFileSync(join(cwd, 'pack.jsonl'), `${pack.map((line) => line).join('\n')}\n`);
  return { cwd, repo };
}

function records(cwd: string): { folder: string; results: ResultRecord[] } {
  const runs = join(cwd, '.mittelo', 'runs');
  const [stamp] = readdirSync(runs);
  const folder = join(runs, stamp!);
  const results = readFileSync(join(folder, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ResultRecord);
  return { folder, results };
}

const RUN = ['run', 'pack.jsonl', '--agent', 'shell=4', '--shell-cmd', 'sh', '--workspace', 'worktree'];

describe('workspaces (mittelo run --workspace worktree)', () => {
  it('runs 8 tasks editing one file in 8 worktrees: 8 branches, 8 distinct diffs, a clean checkout', async () => {
    const pack = Array.from({ length: 8 }, (_, k) =>
      JSON.stringify({ prompt: `printf 'from task ${k + 1}\\n' > notes.txt && echo done` }),
    );
    const { cwd, repo } = setup(pack);
    const ran = await runCli([...RUN, '--repo', 'repo'], { cwd, env: GIT_ENV });
    assert.equal(ran.code, 0, `${ran.stdout}\n${ran.stderr}`);
    assert.match(ran.stderr, /workspace: worktree of .*repo from HEAD \([0-9a-f]{7}\)/);
    const { folder, results } = records(cwd);
    assert.equal(results.length, 8);
    const diffs = new Set<string>();
    for (const record of results) {
      assert.equal(record.status, 'done', record.error ?? '');
      const change = record.worktree!;
      assert.ok(change, `task ${record.task_id} has no worktree in its results line`);
      assert.equal(change.files_changed, 1);
      assert.equal(change.insertions, 1);
      assert.equal(change.deletions, 1);
      assert.equal(change.kept, false);
      assert.equal(change.diff_file, `diffs/${record.task_id}.diff`);
      const diff = readFileSync(join(folder, change.diff_file), 'utf8');
      assert.equal(Buffer.byteLength(diff), change.diff_bytes);
      assert.match(diff, new RegExp(`^\\+from task ${record.line}$`, 'm'));
      diffs.add(diff);
      // The branch holds the task's commit, with the agent's stand-in identity and the task's name.
      assert.equal(git(repo, 'rev-parse', change.branch).trim(), change.commit);
      assert.equal(git(repo, 'show', `${change.branch}:notes.txt`), `from task ${record.line}\n`);
      assert.match(
        git(repo, 'log', '-1', '--format=%an %s', change.branch),
        /^Mittelö mittelo task \d+: printf/,
      );
    }
    assert.equal(diffs.size, 8, 'every task has its own diff');
    const branches = git(repo, 'branch', '--list', 'mittelo/*').trim().split('\n');
    assert.equal(branches.length, 8);
    assert.equal(git(repo, 'status', '--porcelain'), '', 'the main checkout is untouched');
    assert.equal(readFileSync(join(repo, 'notes.txt'), 'utf8'), 'first line\n');
    assert.deepEqual(readdirSync(join(repo, '.mittelo', 'worktrees')), []);
    assert.equal(git(repo, 'worktree', 'list').trim().split('\n').length, 1);
  });

  it("keeps a failing task's worktree; a retry continues in it; a shared line runs outside", async () => {
    const { cwd, repo } = setup([
      // First attempt: leaves a file and fails; second attempt: sees that file, edits, passes.
      JSON.stringify({
        prompt: 'if [ -f attempt1 ]; then echo again >> notes.txt; echo ok; else touch attempt1; exit 3; fi',
        max_attempts: 2,
      }),
      JSON.stringify({ prompt: 'echo broken > notes.txt; exit 4', max_attempts: 1 }),
      JSON.stringify({ prompt: 'pwd', workspace: 'shared' }),
    ]);
    const ran = await runCli([...RUN, '--repo', 'repo'], { cwd, env: GIT_ENV });
    assert.equal(ran.code, 1, `one task fails for good\n${ran.stdout}\n${ran.stderr}`);
    const { folder, results } = records(cwd);
    const [retried, failed, shared] = results;
    assert.equal(retried!.status, 'done', retried!.error ?? '');
    assert.equal(retried!.attempts, 2);
    // The retry saw attempt1, left by the first attempt in the same worktree (committed then).
    assert.equal(git(repo, 'show', `${retried!.worktree!.branch}:notes.txt`), 'first line\nagain\n');
    assert.match(readFileSync(join(folder, 'diffs', `${retried!.task_id}.diff`), 'utf8'), /attempt1/);
    assert.equal(failed!.status, 'failed');
    assert.equal(failed!.worktree!.kept, true);
    assert.ok(existsSync(failed!.worktree!.path), 'the failed task keeps its worktree');
    assert.equal(readFileSync(join(failed!.worktree!.path, 'notes.txt'), 'utf8'), 'broken\n');
    assert.equal(shared!.status, 'done');
    assert.equal(shared!.worktree, undefined);
    assert.ok(!shared!.result!.includes('.mittelo/worktrees'), shared!.result!);
    assert.equal(git(repo, 'status', '--porcelain'), '');
  });

  it('refuses bad input with one line, exit 2, and creates nothing', async () => {
    const { cwd, repo } = setup([JSON.stringify({ prompt: 'echo hi' })]);
    const plain = join(cwd, 'plain');
    mkdirSync(plain);
    const cases: Array<{ args: string[]; says: RegExp; prepare?: () => void }> = [
      { args: ['--repo', 'plain'], says: /--repo plain is not inside a git repository: .*git init/ },
      {
        args: ['--repo', 'repo', '--base', 'no-such-branch'],
        says: /base ref "no-such-branch" does not exist in .*git branch -a/,
      },
      {
        args: ['--repo', 'repo'],
        says: /has uncommitted changes \(1 file, first: notes\.txt\): commit or stash them, or pass --allow-dirty/,
        prepare: () => writeFileSync(join(repo, 'notes.txt'), 'changed\n'),
      },
    ];
    for (const { args, says, prepare } of cases) {
      prepare?.();
      const ran = await runCli([...RUN, ...args], { cwd, env: GIT_ENV });
      assert.equal(ran.code, 2, `${args.join(' ')}\n${ran.stderr}`);
      const lines = ran.stderr.trim().split('\n');
      assert.equal(lines.length, 1, ran.stderr);
      assert.match(lines[0]!, says);
      assert.ok(!existsSync(join(cwd, '.mittelo')), 'no run folder');
      assert.ok(!existsSync(join(repo, '.mittelo')), 'no worktree folder');
      assert.equal(git(repo, 'branch', '--list', 'mittelo/*'), '');
    }
    // A pack line naming a base that does not exist is refused the same way, by its line.
    writeFileSync(join(repo, 'notes.txt'), 'first line\n');
    writeFileSync(join(cwd, 'pack.jsonl'), `${JSON.stringify({ prompt: 'x', base_ref: 'gone' })}\n`);
    const ran = await runCli([...RUN, '--repo', 'repo'], { cwd, env: GIT_ENV });
    assert.equal(ran.code, 2, ran.stderr);
    assert.match(ran.stderr, /pack\.jsonl:1: base ref "gone" does not exist/);
    assert.ok(!existsSync(join(cwd, '.mittelo')));
  });
});

describe('workspaces (mittelo agent)', () => {
  it('stores the worktree change with the task on the hub; an agent without --repo fails worktree tasks with config', async () => {
    const { repo } = setup([]);
    const hub = await startHubProcess({});
    const client = new HubClient({ port: hub.port, reconnect: false });
    cleanups.push(
      () => hub.stop(),
      () => client.close(),
    );
    const start = (name: string, args: string[]) => {
      const agent = startCli(
        [
          'agent',
          '--port',
          String(hub.port),
          '--backend',
          'shell',
          '--shell-cmd',
          'sh',
          '--tag',
          name,
          ...args,
        ],
        { env: GIT_ENV },
      );
      cleanups.push(() => agent.kill());
    };
    start('with-repo', ['--repo', repo, '--keep-worktrees']);
    start('without-repo', []);
    const [edited] = await client.enqueueMany([
      { prompt: 'echo added >> notes.txt; echo ok', workspace: 'worktree', tags: ['with-repo'] },
    ]);
    const [stranded] = await client.enqueueMany([
      { prompt: 'echo hi', workspace: 'worktree', tags: ['without-repo'], max_attempts: 1 },
    ]);
    const { tasks, timed_out } = await client.wait([edited!, stranded!], { timeout_ms: HANG_GUARD_MS });
    assert.equal(timed_out, false);
    const done = tasks.find((task) => task.task_id === edited)!;
    assert.equal(done.status, 'done', done.error ?? '');
    assert.equal(done.workspace, 'worktree');
    const change = done.worktree!;
    assert.equal(change.files_changed, 1);
    assert.match(change.diff, /^\+added$/m);
    assert.equal(change.kept, true, '--keep-worktrees');
    assert.ok(existsSync(change.path));
    assert.equal(git(repo, 'rev-parse', change.branch).trim(), change.commit);
    assert.equal(git(repo, 'status', '--porcelain'), '');
    const failed = tasks.find((task) => task.task_id === stranded)!;
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error_kind, 'config');
    assert.match(failed.error_fix ?? '', /--repo DIR/);
    assert.equal(failed.worktree, null);
  });

  it('refuses to start on a folder that is not a repository: one line, exit 2', async () => {
    const plain = makeTempDir('mittelo-plain-');
    cleanups.push(() => rmSync(plain, { recursive: true, force: true }));
    const ran = await runCli(['agent', '--port', '1', '--workspace', 'worktree'], {
      cwd: plain,
      env: GIT_ENV,
    });
    assert.equal(ran.code, 2, ran.stderr);
    assert.equal(ran.stderr.trim().split('\n').length, 1, ran.stderr);
    assert.match(ran.stderr, /is not inside a git repository/);
    assert.ok(!existsSync(join(plain, '.mittelo')));
  });

  it('mittelo enqueue sends workspace, base_ref and permissions; refuses bad ones, and a hub that predates them', async () => {
    const hub = await startHubProcess({});
    const client = new HubClient({ port: hub.port, reconnect: false });
    cleanups.push(
      () => hub.stop(),
      () => client.close(),
    );
    const port = String(hub.port);
    const flags = ['--workspace', 'worktree', '--base-ref', 'main', '--permissions', 'full'];
    const ran = await runCli(['enqueue', '--port', port, '--prompt', 'x', ...flags]);
    assert.equal(ran.code, 0, ran.stderr);
    const task = await client.get(Number(ran.stdout.trim()));
    assert.deepEqual([task.workspace, task.base_ref, task.permissions], ['worktree', 'main', 'full']);
    for (const bad of [
      ['--workspace', 'tree'],
      ['--base-ref', '-x'],
      ['--permissions', 'root'],
    ]) {
      const refused = await runCli(['enqueue', '--port', port, '--prompt', 'x', ...bad]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, new RegExp(`^mittelo: ${bad[0]} `));
    }
    const old = await startV01Hub();
    cleanups.push(() => old.close());
    const refused = await runCli(['enqueue', '--port', String(old.port), '--prompt', 'x', ...flags]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /predates workspaces/);
    assert.equal((await client.stats()).queued, 1);
  });
});

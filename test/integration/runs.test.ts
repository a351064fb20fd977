/**
 * Run folders as a user meets them: `mittelo runs` lists what `mittelo run` left (pack, counts,
 * state, size), `--clean` removes the finished ones but never one a running `mittelo run` uses or
 * one that can still be resumed, and `mittelo run --resume` continues a run that was killed (or
 * interrupted) with the same results file: every task ends done exactly once, and no task that was
 * done runs again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ResultRecord } from '../../src/run/results.ts';
import { type CliProcess, startCli } from '../helpers/cli-process.ts';
import { makeTempDir, waitFor } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const running: CliProcess[] = [];
after(async () => {
  for (const run of running) run.kill('SIGKILL');
  await Promise.allSettled(running.map((run) => run.exit()));
});

const RUNS = join('.mittelo', 'runs');

/** A folder to run in, with a pack of `n` tasks ("task 1" ...). */
function workspace(n: number): { cwd: string; log: string } {
  const cwd = makeTempDir('mittelo-runs-');
  writeFileSync(
    join(cwd, 'pack.jsonl'),
    `${Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `task ${i + 1}` })).join('\n')}\n`,
  );
  return { cwd, log: join(cwd, 'executions.log') };
}

/** A shell backend that notes every execution in `log`, then answers after `sleepS`. */
const slowShell = (log: string, sleepS: number) =>
  `p=$(cat); sleep ${sleepS}; echo "$p" >> '${log}'; echo "$p"`;

const runFolders = (cwd: string) =>
  existsSync(join(cwd, RUNS)) ? readdirSync(join(cwd, RUNS)).map((name) => join(RUNS, name)) : [];

const logLines = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

function readResults(path: string): ResultRecord[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ResultRecord);
}

interface Listed {
  folder: string;
  stamp: string;
  pack: string | null;
  state: string;
  ended: string | null;
  tasks: number | null;
  counts: Record<string, number> | null;
  counted_from: string | null;
  bytes: number;
  unfinished: number | null;
}

async function listRuns(cwd: string): Promise<Listed[]> {
  const ran = await runCli(['runs', '--json'], { cwd });
  assert.equal(ran.code, 0, ran.stderr);
  return (JSON.parse(ran.stdout) as { runs: Listed[] }).runs;
}

/** Start a slow run of the workspace's pack; resolves once `executions` tasks have run. */
async function startSlowRun(cwd: string, log: string, executions: number): Promise<CliProcess> {
  const run = startCli(['run', 'pack.jsonl', '--agent', 'shell=2', '--shell-cmd', slowShell(log, 0.2)], {
    cwd,
  });
  running.push(run);
  await waitFor(() => logLines(log).length >= executions || run.child.exitCode !== null, 'tasks to run');
  assert.equal(run.child.exitCode, null, `the run ended early: ${run.stderr()}`);
  return run;
}

describe('mittelo runs', () => {
  it('lists each run with its pack, counts, state and size; --json says the same', async () => {
    const { cwd } = workspace(3);
    const ran = await runCli(['run', 'pack.jsonl', '--agent', 'echo=2'], { cwd });
    assert.equal(ran.code, 0, ran.stderr);
    // An older run's folder (no run.json) still lists, counted from its results file.
    const older = join(cwd, RUNS, '20200101-000000-1');
    mkdirSync(older, { recursive: true });
    writeFileSync(
      join(older, 'results.jsonl'),
      `${JSON.stringify({ task_id: 1, status: 'done' })}\n${JSON.stringify({ task_id: 2, status: 'failed' })}\n`,
    );
    mkdirSync(join(cwd, RUNS, 'not-a-run')); // nothing of a run in it: left out

    const table = await runCli(['runs'], { cwd });
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^RUN +PACK +STATE +TASKS +DONE +FAILED +CANCELED +LEFT +SIZE$/);
    assert.match(lines[1]!, /^20200101-000000-1 +- +finished +2 +1 +1 +0 +0 +\d/);
    assert.match(lines[2]!, /^\d{8}-\d{6}-\d+ +pack\.jsonl +finished +3 +3 +0 +0 +0 +[\d.]+ KiB$/);
    assert.match(lines[3]!, /^2 runs in \.mittelo\/runs, [\d.]+ KiB$/);

    const [legacy, run] = await listRuns(cwd);
    assert.equal(legacy!.counted_from, 'results.jsonl');
    assert.deepEqual(
      {
        ...run,
        folder: undefined,
        stamp: undefined,
        bytes: undefined,
        started_at: undefined,
        changed_ms: undefined,
      },
      {
        folder: undefined,
        stamp: undefined,
        bytes: undefined,
        started_at: undefined,
        changed_ms: undefined,
        pack: 'pack.jsonl',
        state: 'finished',
        ended: 'finished',
        pid: null,
        tasks: 3,
        counts: { queued: 0, leased: 0, done: 3, failed: 0, canceled: 0 },
        counted_from: 'hub.db',
        unfinished: 0,
      },
    );
    assert.ok(run!.bytes > 0);
    assert.match(run!.folder, /^\.mittelo\/runs\/\d{8}-\d{6}-\d+$/);
  });

  it('says so when there are no runs', async () => {
    const { cwd } = workspace(1);
    const ran = await runCli(['runs'], { cwd });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, 'no runs in .mittelo/runs (`mittelo run PACK` makes one)\n');
  });

  it('--clean removes finished runs, never a running or a resumable one, and says what it freed', async () => {
    const { cwd, log } = workspace(200);
    const done = await runCli(['run', 'pack.jsonl', '--agent', 'echo=1'], { cwd });
    assert.equal(done.code, 0, done.stderr);
    const [finished] = runFolders(cwd);

    const slow = await startSlowRun(cwd, log, 1);
    const live = runFolders(cwd).find((folder) => folder !== finished)!;
    const listed = await listRuns(cwd);
    assert.equal(listed.find((run) => run.folder === live)?.state, 'running');

    const young = await runCli(['runs', '--clean', '--older-than', '1d'], { cwd });
    assert.equal(young.code, 0, young.stderr);
    assert.match(
      young.stdout,
      /^removed 0 finished run folders, freed 0 B; kept 2: 1 running, 1 finished less than 1d ago\n$/,
    );

    // Resuming a run that is in use is refused too.
    const busy = await runCli(['run', '--resume', live], { cwd });
    assert.equal(busy.code, 4, busy.stderr);
    assert.match(busy.stderr, /a mittelo run is using it now \(pid \d+\)/);

    const cleaned = await runCli(['runs', '--clean'], { cwd });
    assert.equal(cleaned.code, 0, cleaned.stderr);
    assert.match(cleaned.stdout, /^removed 1 finished run folder, freed [\d.]+ KiB; kept 1: 1 running\n$/);
    assert.equal(existsSync(join(cwd, finished!)), false);
    assert.equal(existsSync(join(cwd, live)), true);

    // Killed: its tasks can still be resumed, so --clean keeps it.
    slow.kill('SIGKILL');
    await slow.exit();
    const [killed] = await listRuns(cwd);
    assert.equal(killed!.state, 'unfinished');
    assert.equal(killed!.ended, 'killed');
    const kept = await runCli(['runs', '--clean', '--json'], { cwd });
    assert.equal(kept.code, 0, kept.stderr);
    assert.deepEqual(JSON.parse(kept.stdout), {
      removed: [],
      freed_bytes: 0,
      worktrees_removed: 0,
      kept: [{ folder: live, state: 'unfinished' }],
    });
    const table = await runCli(['runs'], { cwd });
    assert.match(table.stdout, /unfinished \(killed\)/);
    assert.match(
      table.stdout,
      new RegExp(`continue an unfinished one with \`mittelo run --resume ${live}\``),
    );
  });

  it('--clean also removes the worktrees a finished run left, keeping their branches', async () => {
    const cwd = makeTempDir('mittelo-runs-worktrees-');
    const git = (dir: string, ...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@localhost', ...args], {
        cwd: dir,
        encoding: 'utf8',
      });
    git(cwd, 'init', '-q', '-b', 'main');
    writeFileSync(join(cwd, 'a.txt'), 'a\n');
    git(cwd, 'add', 'a.txt');
    git(cwd, 'commit', '-q', '-m', 'base');
    const branch = 'mittelo/task-1-x';
    const path = join(cwd, '.mittelo', 'worktrees', 'task-1-x');
    git(cwd, 'worktree', 'add', '-q', '-b', branch, path);
    // A finished run (its results say so) whose failed task kept its worktree.
    const folder = join(cwd, RUNS, '20260101-000000');
    mkdirSync(folder, { recursive: true });
    const worktree = {
      branch,
      commit: null,
      path,
      files_changed: 0,
      insertions: 0,
      deletions: 0,
      diff_bytes: 0,
      diff_truncated: false,
      diff_file: 'diffs/1.diff',
      kept: true,
    };
    writeFileSync(
      join(folder, 'results.jsonl'),
      `${JSON.stringify({ task_id: 1, line: 1, status: 'failed', prompt: 'p', worktree })}\n`,
    );
    const cleaned = await runCli(['runs', '--clean'], { cwd });
    assert.equal(cleaned.code, 0, cleaned.stderr);
    assert.match(
      cleaned.stdout,
      /^removed 1 finished run folder, freed .+, and 1 worktree \(branches kept\)\n$/,
    );
    assert.equal(existsSync(path), false);
    assert.equal(existsSync(folder), false);
    assert.doesNotMatch(git(cwd, 'worktree', 'list'), /task-1-x/);
    assert.equal(git(cwd, 'branch', '--list', branch).trim(), branch);
  });

  it('refuses --older-than without --clean, and a bad duration', async () => {
    const { cwd } = workspace(1);
    const alone = await runCli(['runs', '--older-than', '7d'], { cwd });
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--older-than goes with --clean/);
    const bad = await runCli(['runs', '--clean', '--older-than', 'a week'], { cwd });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--older-than must be a duration/);
  });
});

describe('mittelo run --resume', () => {
  /** The done tasks of a run's database (read-only, the run's process is gone). */
  function doneBefore(db: string): Map<number, string> {
    const file = new Database(db, { readonly: true });
    try {
      const rows = file.prepare("SELECT task_id, worker_id FROM tasks WHERE status = 'done'").all() as {
        task_id: number;
        worker_id: string;
      }[];
      return new Map(rows.map((row) => [row.task_id, row.worker_id]));
    } finally {
      file.close();
    }
  }

  /** Every task of the pack done exactly once in the results; those done before ran once. */
  function checkResumed(cwd: string, folder: string, log: string, before: Map<number, string>, n: number) {
    const records = readResults(join(cwd, folder, 'results.jsonl'));
    assert.equal(records.length, n, 'one line per task');
    assert.deepEqual(
      records.map((record) => record.task_id).sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    for (const record of records) {
      assert.equal(record.status, 'done', JSON.stringify(record));
      assert.equal(record.result, `task ${record.line}\n`);
      assert.equal(record.backend, 'shell');
    }
    const executions = logLines(log);
    for (const [id, worker] of before) {
      const record = records.find((r) => r.task_id === id)!;
      assert.equal(record.worker_id, worker, `task ${id} was done before: it did not run again`);
      assert.equal(executions.filter((line) => line === `task ${id}`).length, 1, `task ${id} ran once`);
    }
  }

  it('continues a killed run: the unfinished tasks run, the done ones do not, one results file', async () => {
    const n = 12;
    const { cwd, log } = workspace(n);
    const run = await startSlowRun(cwd, log, 4);
    run.kill('SIGKILL');
    await run.exit();
    const [folder] = runFolders(cwd);
    const before = doneBefore(join(cwd, folder!, 'hub.db'));
    assert.ok(before.size >= 1 && before.size < n, `some tasks were done before the kill: ${before.size}`);
    assert.equal(existsSync(join(cwd, folder!, 'results.jsonl')), false, 'killed: no results written');

    const resumed = await runCli(['run', '--resume', folder!, '--shell-cmd', slowShell(log, 0)], { cwd });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(
      resumed.stderr,
      new RegExp(`mittelo run: resuming ${folder} \\(pack\\.jsonl, ${n} tasks\\)`),
    );
    assert.match(resumed.stdout, new RegExp(`${n} tasks: ${n} done, 0 failed, 0 canceled, 0 unfinished`));
    checkResumed(cwd, folder!, log, before, n);

    const again = await runCli(['run', '--resume', folder!], { cwd });
    assert.equal(again.code, 4, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(`that run already finished: ${n} done, 0 failed, 0 canceled; nothing to resume`),
    );
    const [listed] = await listRuns(cwd);
    assert.equal(listed!.state, 'finished');
  });

  it('continues an interrupted run (Ctrl-C), replacing the lines of the tasks it left unfinished', async () => {
    const n = 12;
    const { cwd, log } = workspace(n);
    const run = await startSlowRun(cwd, log, 4);
    run.kill('SIGINT');
    assert.equal(await run.exit(), 1);
    assert.match(run.stderr(), /continue them with `mittelo run --resume \.mittelo\/runs\/[\d-]+`/);
    const [folder] = runFolders(cwd);
    const results = join(cwd, folder!, 'results.jsonl');
    const first = readResults(results);
    assert.equal(first.length, n, 'an interrupted run writes every task, unfinished ones too');
    assert.ok(first.some((record) => record.status === 'queued'));
    const before = doneBefore(join(cwd, folder!, 'hub.db'));

    const resumed = await runCli(
      ['run', '--resume', folder!, '--agent', 'shell=1', '--shell-cmd', slowShell(log, 0)],
      {
        cwd,
      },
    );
    assert.equal(resumed.code, 0, resumed.stderr);
    checkResumed(cwd, folder!, log, before, n);
  });

  it('refuses what it cannot resume, with one line', async () => {
    const { cwd } = workspace(2);
    mkdirSync(join(cwd, 'empty'));
    const cases: [string[], number, RegExp][] = [
      [['run', '--resume', 'nowhere'], 2, /--resume nowhere: no such folder/],
      [['run', '--resume', 'empty'], 2, /--resume empty is not a run folder \(no run\.json\)/],
      [['run', 'pack.jsonl', '--resume', 'empty'], 2, /give a pack or --resume empty, not both/],
      [['run', '--resume', 'empty', '--db', 'x.db'], 2, /--db cannot go with --resume/],
      [['run'], 2, /give the pack to run .* or --resume FOLDER/],
    ];
    for (const [args, code, message] of cases) {
      const ran = await runCli(args, { cwd });
      assert.equal(ran.code, code, `${args.join(' ')}: ${ran.stderr}`);
      assert.match(ran.stderr, message);
      assert.equal(ran.stderr.trim().split('\n').length, 1, ran.stderr);
    }
    rmSync(join(cwd, 'empty'), { recursive: true });
  });
});

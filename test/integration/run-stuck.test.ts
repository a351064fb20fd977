/**
 * Work no agent can take, as a user meets it: `mittelo run` with agents whose backend is missing
 * or logged out ends (exit 1) with each backend's fix instead of waiting forever, leaves the
 * unfinished tasks queued, and writes where each one stands; `--wait-for-agents` and `--hub` keep
 * waiting; `--deadline-s` ends any run. `enqueue` and `status` say when a route has no agent.
 * Real child processes, real hubs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ResultRecord } from '../../src/run/results.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { startCli } from '../helpers/cli-process.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { makeTempDir, startHubProcess } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A folder to run in, holding a pack with these lines. */
function workspace(lines: string[]): { cwd: string; pack: string; db: string; out: string } {
  const cwd = makeTempDir('mittelo-run-stuck-');
  cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
  const pack = join(cwd, 'pack.jsonl');
  writeFileSync(pack, `${lines.join('\n')}\n`);
  return { cwd, pack, db: join(cwd, 'hub.db'), out: join(cwd, 'results.jsonl') };
}

function readResults(path: string): ResultRecord[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ResultRecord);
}

/** The run's database, read after the run: what stayed queued, and that nothing was failed. */
async function storedStats(db: string) {
  const store = new SqliteStore({ path: db });
  try {
    return await store.stats();
  } finally {
    await store.close();
  }
}

/** This PATH without any folder that holds a `codex`, so the codex backend is surely missing. */
function pathWithoutCodex(): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !existsSync(join(dir, 'codex')))
    .join(delimiter);
}

const prompts = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `task ${i}` }));

describe('mittelo run when no agent can take the work', () => {
  it('shell with a missing program: exit 1 with the fix and --deadline-s named; the tasks stay queued', async () => {
    const { cwd, pack, db, out } = workspace(prompts(3));
    const ran = await runCli(
      ['run', pack, '--agent', 'shell=1', '--shell-cmd', 'not-a-program', '--db', db, '--out', out],
      { cwd },
    );
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(ran.stderr, /no agent can take the 3 unfinished task\(s\)/);
    assert.match(
      ran.stderr,
      / {2}any backend: 3 task\(s\) waiting\n {4}1 shell agent: not-a-program is not on PATH\n {6}fix: install it, or give --shell-cmd a full path/,
    );
    assert.match(
      ran.stderr,
      /mittelo: stopped: 3 task\(s\) can never finish with these agents; they stay queued in .*hub\.db\. .*--wait-for-agents .*--deadline-s N bounds the wait/,
    );
    assert.match(ran.stdout, /3 tasks: 0 done, 0 failed, 0 canceled, 3 unfinished/);
    const records = readResults(out);
    assert.deepEqual(
      records.map((r) => [r.line, r.status]),
      [
        [1, 'queued'],
        [2, 'queued'],
        [3, 'queued'],
      ],
    );
    assert.deepEqual(await storedStats(db), { queued: 3, leased: 0, done: 0, failed: 0, canceled: 0 });
  });

  it('codex not installed: exit 1 with how to install it', async () => {
    const { cwd, pack, out } = workspace(prompts(2));
    const ran = await runCli(['run', pack, '--agent', 'codex=1', '--out', out, '--json'], {
      cwd,
      env: { PATH: pathWithoutCodex() },
    });
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(
      ran.stderr,
      /1 codex agent: Codex is not installed: no codex on PATH\n {6}fix: npm install -g @openai\/codex/,
    );
    const report = JSON.parse(ran.stdout) as {
      ended: string;
      summary: { unfinished: number };
      blocked: Array<{ backend: string | null; tasks: number; problems: Array<{ fix: string }> }>;
    };
    assert.equal(report.ended, 'stuck');
    assert.equal(report.summary.unfinished, 2);
    assert.equal(report.blocked[0]!.backend, null);
    assert.equal(report.blocked[0]!.tasks, 2);
    assert.equal(report.blocked[0]!.problems[0]!.fix, 'npm install -g @openai/codex');
  });

  it('echo beside a missing codex: unrouted work finishes through echo; a line routed to codex ends with its fix', async () => {
    const unrouted = workspace(prompts(4));
    const fine = await runCli(
      ['run', unrouted.pack, '--agent', 'echo=1', '--agent', 'codex=1', '--out', unrouted.out],
      { cwd: unrouted.cwd, env: { PATH: pathWithoutCodex() } },
    );
    assert.equal(fine.code, 0, fine.stderr);
    assert.ok(readResults(unrouted.out).every((r) => r.status === 'done' && r.backend === 'echo'));
    assert.doesNotMatch(fine.stderr, /no agent can take/);

    const { cwd, pack, db, out } = workspace([
      '{"prompt": "one"}',
      '{"prompt": "for codex", "backend": "codex"}',
      '{"prompt": "two"}',
    ]);
    const ran = await runCli(
      ['run', pack, '--agent', 'echo=1', '--agent', 'codex=1', '--db', db, '--out', out],
      { cwd, env: { PATH: pathWithoutCodex() } },
    );
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(
      ran.stderr,
      / {2}codex: 1 task\(s\) waiting\n {4}1 codex agent: Codex is not installed: no codex on PATH\n {6}fix: npm install -g @openai\/codex/,
    );
    assert.deepEqual(
      readResults(out).map((r) => [r.prompt, r.status]),
      [
        ['one', 'done'],
        ['for codex', 'queued'],
        ['two', 'done'],
      ],
    );
    assert.match(ran.stdout, /3 tasks: 2 done, 0 failed, 0 canceled, 1 unfinished/);
    assert.deepEqual(await storedStats(db), { queued: 1, leased: 0, done: 2, failed: 0, canceled: 0 });
  });

  it('a logged-out codex (the run itself fails with auth): the task goes back to the queue, exit 1 with the fix', async () => {
    const home = makeTempDir('mittelo-run-stuck-home-');
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    const { cwd, pack, out } = workspace(['{"prompt": "a"}', '{"prompt": "b", "backend": "codex"}']);
    const ran = await runCli(['run', pack, '--agent', 'echo=1', '--agent', 'codex=1', '--out', out], {
      cwd,
      env: fakeCliEnv('auth', home, { CODEX_API_KEY: 'sk-fake-key' }),
    });
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(
      ran.stderr,
      / {2}codex: 1 task\(s\) waiting\n {4}1 codex agent: auth: .*401 Unauthorized.*\n {6}fix: run `codex login`/,
    );
    const [, routed] = readResults(out);
    assert.equal(routed!.status, 'queued', 'given back, not failed');
    assert.equal(routed!.error_kind, 'auth');
  });

  it('--wait-for-agents keeps waiting (and says so once) until stopped', async () => {
    const { cwd, pack, out } = workspace(prompts(2));
    const run = startCli(
      ['run', pack, '--agent', 'shell=1', '--shell-cmd', 'not-a-program', '--wait-for-agents', '--out', out],
      { cwd },
    );
    cleanups.push(() => run.kill());
    await run.waitForStderr(
      /no agent can take the 2 unfinished task\(s\) now \(any backend: 2\); waiting for them \(--wait-for-agents\); --deadline-s N bounds the wait/,
    );
    // Past the moment a run without the flag ends: the agents' state is already known (said above).
    // Another line on stderr proves the run is still going: the progress line that follows.
    await run.waitForStderr(/fix: install it, or give --shell-cmd a full path\n[\s\S]*progress: 0\/2/);
    assert.equal(run.child.exitCode, null, 'still running');
    run.kill('SIGINT');
    assert.equal(await run.exit(), 1);
    assert.match(run.stderr(), /interrupted: 2 task\(s\) not finished; they stay queued in/);
    assert.doesNotMatch(run.stderr(), /stopped: .* can never finish/);
  });

  it('--deadline-s ends a run that is still waiting, with exit 1 and a clear line', async () => {
    const { cwd, pack, out } = workspace(prompts(2));
    const ran = await runCli(
      [
        'run',
        pack,
        '--agent',
        'shell=1',
        '--shell-cmd',
        'not-a-program',
        '--wait-for-agents',
        '--deadline-s',
        '0.5',
        '--out',
        out,
      ],
      { cwd },
    );
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(
      ran.stderr,
      /mittelo: --deadline-s 0\.5 passed with 2 task\(s\) not finished; they stay queued in .*hub\.db/,
    );
    assert.deepEqual(
      readResults(out).map((r) => r.status),
      ['queued', 'queued'],
    );
  });

  it('with --hub it waits for that hub’s agents, says which route has none, and finishes once one connects', async () => {
    const hub = await startHubProcess();
    cleanups.push(() => hub.stop());
    const { cwd, pack, out } = workspace(['{"prompt": "a"}', '{"prompt": "shout", "backend": "upper"}']);
    const run = startCli(['run', pack, '--hub', `127.0.0.1:${hub.port}`, '--agent', 'echo=1', '--out', out], {
      cwd,
    });
    cleanups.push(() => run.kill());
    await run.waitForStderr(
      /no agent can take the 1 unfinished task\(s\) now \(upper: 1\); waiting for agents to connect to the hub at 127\.0\.0\.1:\d+/,
    );
    const upper = startCli(['agent', '--backend', 'upper', '--port', String(hub.port)]);
    cleanups.push(() => upper.kill());
    assert.equal(await run.exit(), 0, run.stderr());
    assert.deepEqual(
      readResults(out).map((r) => [r.prompt, r.status, r.result]),
      [
        ['a', 'done', 'echo:a'],
        ['shout', 'done', 'SHOUT'],
      ],
    );
  });
});

describe('routes with queued work and no agent', () => {
  it('enqueue --backend says when no (healthy) agent of it is connected; status names the route', async () => {
    const hub = await startHubProcess();
    cleanups.push(() => hub.stop());
    const at = ['--port', String(hub.port)];

    const none = await runCli(['enqueue', '--prompt', 'for codex', '--backend', 'codex', ...at]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /^\d+\n$/, 'the id, as usual');
    assert.equal(
      none.stderr,
      'mittelo: note: no agent of backend codex is connected: the task(s) stay queued until one is (start one with `mittelo agent --backend codex`)\n',
    );
    const status = await runCli(['status', ...at]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /^codex: 1 queued, no agent connected — start one with `mittelo agent --backend codex`$/m,
    );

    const broken = startCli(['agent', '--backend', 'shell', '--shell-cmd', 'not-a-program', ...at]);
    cleanups.push(() => broken.kill());
    await broken.waitForStderr(/is not ready: not-a-program is not on PATH/);
    const unhealthy = await runCli(['enqueue', '--prompt', 'for shell', '--backend', 'shell', ...at]);
    assert.equal(unhealthy.code, 0, unhealthy.stderr);
    assert.match(
      unhealthy.stderr,
      /^mittelo: note: no healthy agent of backend shell is connected \(1 unhealthy: shell: not-a-program is not on PATH; fix: install it, or give --shell-cmd a full path\): the task\(s\) stay queued until one is healthy\n$/,
    );
    const both = await runCli(['status', ...at]);
    assert.match(
      both.stdout,
      /^shell: 1 queued, no healthy agent \(1 unhealthy\) — fix it, or start one with `mittelo agent --backend shell`$/m,
    );
    const json = JSON.parse((await runCli(['status', '--json', ...at])).stdout) as {
      queued_by_backend: Array<{ backend: string | null; queued: number; scheduled?: number }>;
    };
    assert.deepEqual(json.queued_by_backend, [
      { backend: 'codex', queued: 1, scheduled: 0 },
      { backend: 'shell', queued: 1, scheduled: 0 },
    ]);

    const echo = startCli(['agent', '--backend', 'echo', ...at]);
    cleanups.push(() => echo.kill());
    const served = await runCli(['enqueue', '--prompt', 'for echo', '--backend', 'echo', ...at]);
    // The echo agent may not have said hello yet: then the note is right. Once it has, none.
    if (served.stderr !== '') assert.match(served.stderr, /no agent of backend echo is connected/);
    const id = served.stdout.trim();
    assert.equal((await runCli(['wait', id, '--timeout-s', '60', ...at])).code, 0);
    const after = await runCli(['enqueue', '--prompt', 'for echo again', '--backend', 'echo', ...at]);
    assert.equal(after.stderr, '', 'a healthy echo agent is connected: nothing to say');
  });
});

/**
 * `mittelo run`, the one-command job, as a user runs it: a pack with an embedded hub and echo
 * agents, failures and exit codes, malformed packs refused before anything starts, and a run
 * against a hub process that is killed and restarted halfway.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { ResultRecord } from '../../src/run/results.ts';
import { startCli } from '../helpers/cli-process.ts';
import { CLI_ENTRY, makeTempDir, REPO_ROOT, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { runCli, runProgram } from '../helpers/run-cli.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A folder to run in, holding a pack with these lines. */
function workspace(lines: string[]): { cwd: string; pack: string } {
  const cwd = makeTempDir('mittelo-run-');
  cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
  const pack = join(cwd, 'pack.jsonl');
  writeFileSync(pack, `${lines.join('\n')}\n`);
  return { cwd, pack };
}

function readResults(path: string): ResultRecord[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ResultRecord);
}

describe('mittelo run', () => {
  it('runs the hello example pack with echo agents on an embedded hub and writes every result', async () => {
    const { cwd } = workspace([]);
    const ran = await runCli(['run', join(REPO_ROOT, 'examples', 'hello.jsonl'), '--agent', 'echo=2'], {
      cwd,
    });
    assert.equal(ran.code, 0, ran.stderr);
    const expected = readFileSync(join(REPO_ROOT, 'examples', 'hello.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const resultsPath = /results: (.+)/.exec(ran.stdout)![1]!;
    assert.match(resultsPath, /^\.mittelo\/runs\/\d{8}-\d{6}-\d+\/results\.jsonl$/);
    const records = readResults(join(cwd, resultsPath));
    assert.equal(records.length, expected.length);
    for (const [index, record] of records.entries()) {
      const line = JSON.parse(expected[index]!) as { prompt: string };
      assert.equal(record.line, index + 1);
      assert.equal(record.status, 'done');
      assert.equal(record.result, `echo:${line.prompt}`);
      assert.equal(record.backend, 'echo');
    }
    assert.match(ran.stdout, /^BACKEND +DONE +FAILED +CANCELED +P50 +P95\necho +\d+ +0 +0 /);
    assert.match(ran.stdout, new RegExp(`${expected.length} tasks: ${expected.length} done, 0 failed`));
    // Not a terminal: plain progress lines rather than a bar.
    assert.match(ran.stderr, /progress: \d+\/\d+ finished/);
    assert.equal(ran.stderr.includes('\u001b['), false, 'no terminal control codes');
  });

  it('draws a progress bar on a terminal', async () => {
    const { cwd, pack } = workspace(['{"prompt": "a"}', '{"prompt": "b"}']);
    // `script` gives the command a real pseudo-terminal, as a person's shell would.
    const command = [process.execPath, CLI_ENTRY, 'run', pack, '--agent', 'echo=1']
      .map((word) => `'${word}'`)
      .join(' ');
    const ran = await runProgram('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd });
    assert.equal(ran.code, 0, ran.stdout);
    assert.match(ran.stdout, /run \|\u2588+\| 2\/2 \| 2 done, 0 failed/);
    assert.match(ran.stdout, /2 tasks: 2 done, 0 failed/);
  });

  it('keeps pack fields: routing, metadata (also from extra fields), and per-task timeouts', async () => {
    const { cwd, pack } = workspace([
      '{"prompt": "routed", "backend": "upper", "metadata": {"ticket": 7}}',
      '{"prompt": "anyone", "team": "docs", "priority": 5}',
      '{"prompt": "slow", "backend": "shell", "timeout_s": 0.3}',
    ]);
    const out = join(cwd, 'out.jsonl');
    const ran = await runCli(
      [
        'run',
        pack,
        '--agent',
        'upper=1',
        '--agent',
        'shell=1',
        '--shell-cmd',
        'if [ "$(cat)" = slow ]; then exec sleep 30; fi; echo shell',
        '--out',
        out,
      ],
      { cwd },
    );
    assert.equal(ran.code, 1, 'one task failed');
    const [routed, anyone, slow] = readResults(out);
    assert.equal(routed!.result, 'ROUTED');
    assert.equal(routed!.backend, 'upper');
    assert.deepEqual(routed!.metadata, { ticket: 7 });
    assert.deepEqual(anyone!.metadata, { team: 'docs' });
    assert.equal(anyone!.status, 'done');
    assert.equal(slow!.status, 'failed');
    assert.equal(slow!.error_kind, 'timeout');
    assert.match(ran.stdout, /task \d+ \(line 3\) failed: timeout: shell command .* ran past its timeout/);
    assert.match(ran.stderr, /1 of 3 task\(s\) did not succeed/);
  });

  it('holds back a pack line with delay_s until it is due, then runs it', async () => {
    const { cwd, pack } = workspace(['{"prompt": "later", "delay_s": 1.5}', '{"prompt": "now"}']);
    const out = join(cwd, 'out.jsonl');
    const ran = await runCli(['run', pack, '--agent', 'echo=1', '--out', out], { cwd });
    assert.equal(ran.code, 0, ran.stderr);
    const [later, now] = readResults(out);
    assert.equal(now!.status, 'done');
    assert.equal(later!.status, 'done');
    assert.equal(later!.result, 'echo:later');
    // Not a timing bound: a task can't finish before it is due.
    assert.ok(later!.latency_ms >= 1500, `finished ${later!.latency_ms} ms after enqueue, before it was due`);
  });

  it('refuses a malformed pack with file and line before anything starts', async () => {
    const { cwd, pack } = workspace([
      '{"prompt": "fine"}',
      '{"prompt": "fine too"}',
      '{"prompt": ',
      '{"prompt": 5}',
    ]);
    const ran = await runCli(['run', pack, '--agent', 'echo=1'], { cwd });
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /pack\.jsonl:3: not valid JSON .* \(1 more bad line: 4\); nothing was enqueued/);
    assert.equal(existsSync(join(cwd, '.mittelo')), false, 'no hub was started');
  });

  it('refuses a task routed to a backend no agent runs', async () => {
    const { cwd, pack } = workspace(['{"prompt": "a"}', '{"prompt": "b", "backend": "codex"}']);
    const ran = await runCli(['run', pack, '--agent', 'echo=1'], { cwd });
    assert.equal(ran.code, 2);
    assert.match(
      ran.stderr,
      /pack\.jsonl:2: the task wants backend "codex", but no agent runs it: add --agent codex=1/,
    );
  });

  it('refuses a task needing tags our agents lack, and runs it when they have them', async () => {
    const { cwd, pack } = workspace(['{"prompt": "a", "tags": ["gpu"]}']);
    const refused = await runCli(['run', pack, '--agent', 'echo=1'], { cwd });
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /pack\.jsonl:1: the task needs agents tagged gpu, and ours are not: add --tag gpu/,
    );
    const ran = await runCli(['run', pack, '--agent', 'echo=1', '--tag', 'gpu'], { cwd });
    assert.equal(ran.code, 0, ran.stderr);
  });

  it('fails fast with exit 3 when the --hub is not there', async () => {
    const { cwd, pack } = workspace(['{"prompt": "a"}']);
    const ran = await runCli(['run', pack, '--hub', '127.0.0.1:1', '--agent', 'echo=1'], { cwd });
    assert.equal(ran.code, 3);
    assert.match(ran.stderr, /no hub at 127\.0\.0\.1:1 — start one with `mittelo hub`/);
  });

  it('needs agents or a hub, and says how to give them', async () => {
    const { cwd, pack } = workspace(['{"prompt": "a"}']);
    const ran = await runCli(['run', pack], { cwd });
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /give the agents to run the pack, for example --agent echo=2/);
  });

  it('prints a JSON summary with --json and reads the pack from stdin with -', async () => {
    const { cwd } = workspace([]);
    const ran = await runCli(['run', '-', '--agent', 'echo=1', '--json'], {
      cwd,
      input: '{"prompt": "one"}\n{"prompt": "two"}\n',
    });
    assert.equal(ran.code, 0, ran.stderr);
    const report = JSON.parse(ran.stdout) as { ended: string; summary: { total: number; done: number } };
    assert.equal(report.ended, 'finished');
    assert.equal(report.summary.total, 2);
    assert.equal(report.summary.done, 2);
  });

  it('completes when the hub it uses is killed and restarted during the run', async () => {
    const { cwd, pack } = workspace(
      Array.from({ length: 30 }, (_, i) => JSON.stringify({ prompt: `task ${i}` })),
    );
    const dbDir = makeTempDir('mittelo-run-hub-');
    cleanups.push(() => rmSync(dbDir, { recursive: true, force: true }));
    const db = join(dbDir, 'hub.db');
    const first = await startHubProcess({ db });
    const port = first.port;
    const out = join(cwd, 'out.jsonl');
    const run = startCli(
      [
        'run',
        pack,
        '--hub',
        `127.0.0.1:${port}`,
        '--agent',
        'shell=3',
        '--shell-cmd',
        'sleep 0.1; cat',
        '--out',
        out,
      ],
      { cwd },
    );
    cleanups.push(() => run.kill());
    const probe = new HubClient({ port, reconnect: false });
    await waitFor(async () => ((await probe.stats()).done ?? 0) >= 6, 'some tasks done before the crash');
    probe.close();
    await first.kill();
    await run.waitForStderr(/lost the hub/);
    const second = await startHubProcess({ db, args: ['--port', String(port)] });
    cleanups.push(() => second.stop());
    assert.equal(await run.exit(60_000), 0, run.stderr());
    const records = readResults(out);
    assert.equal(records.length, 30);
    assert.ok(records.every((r) => r.status === 'done' && r.result === r.prompt));
    assert.match(run.stdout(), /30 tasks: 30 done, 0 failed/);
  });

  it('on Ctrl-C stops the agents, says what is unfinished, and exits 1', async () => {
    const { cwd, pack } = workspace(['{"prompt": "quick"}', '{"prompt": "sleep"}']);
    const run = startCli(
      [
        'run',
        pack,
        '--agent',
        'shell=2',
        '--shell-cmd',
        'if [ "$(cat)" = sleep ]; then exec sleep 30; fi; echo ok',
        '--grace-s',
        '0.2',
      ],
      { cwd },
    );
    cleanups.push(() => run.kill());
    await run.waitForStderr(/progress|mittelo run: 2 tasks/);
    await waitFor(() => existsSync(join(cwd, '.mittelo', 'runs')), 'the run folder');
    // Interrupt once the quick task is done (the progress line says so), not after a fixed sleep.
    await run.waitForStderr(/progress: 1\/2 finished \(1 done, 0 failed\)/);
    run.kill('SIGINT');
    assert.equal(await run.exit(), 1);
    assert.match(
      run.stderr(),
      /interrupted: 1 task\(s\) not finished; they stay queued in \.mittelo\/runs\/.+\/hub\.db/,
    );
    const [folder] = readdirSync(join(cwd, '.mittelo', 'runs'));
    const records = readResults(join(cwd, '.mittelo', 'runs', folder!, 'results.jsonl'));
    // Every task has its line: the unfinished one as it stands, back in the queue.
    assert.deepEqual(
      records.map((r) => [r.prompt, r.status]),
      [
        ['quick', 'done'],
        ['sleep', 'queued'],
      ],
    );
  });
});

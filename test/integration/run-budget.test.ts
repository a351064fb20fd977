/**
 * `mittelo run --budget-usd` and `--max-cost-usd` (issue 13, "Spend"), end to end: the real CLI,
 * its embedded hub on disk, and claude_code agents driving the fake `claude`
 * (test/fixtures/fake-clis/claude), which reports a total_cost_usd per run and honours
 * --max-budget-usd the way Claude Code does.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ResultRecord } from '../../src/run/results.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { makeTempDir } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const dir = makeTempDir('mittelo-run-budget-');
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh working folder with a pack of `lines` (objects, one JSON line each). */
function workspace(name: string, lines: object[]): { cwd: string; pack: string } {
  const cwd = join(dir, name);
  mkdirSync(cwd);
  const pack = join(cwd, 'pack.jsonl');
  writeFileSync(pack, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  return { cwd, pack };
}

const readRecords = (path: string): ResultRecord[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ResultRecord);

/** Each fake claude run costs this much (USD). */
const COST = 0.01;
const env = (cwd: string) =>
  fakeCliEnv('success', cwd, { ANTHROPIC_API_KEY: 'sk-ant-test', FAKE_CLI_COST_USD: String(COST) });

describe('mittelo run --budget-usd', () => {
  it('a run with a budget stops leasing at the budget', async () => {
    const total = 12;
    const { cwd, pack } = workspace(
      'stops',
      Array.from({ length: total }, (_, i) => ({ prompt: `p${i}` })),
    );
    // One agent running one task at a time: the budget is reached when the third task is acked.
    const ran = await runCli(['run', pack, '--agent', 'claude_code=1', '--budget-usd', '0.03'], {
      cwd,
      env: env(cwd),
    });
    assert.equal(ran.code, 1, `stopped before the pack finished: exit 1\n${ran.stderr}`);
    const said =
      /mittelo: budget of \$0\.03 reached \(\$(\d+\.\d+) spent\): stopped leasing; (\d+) task\(s\) left queued \(resume with mittelo run --resume (\S+) --budget-usd …\)/.exec(
        ran.stderr,
      );
    assert.ok(said, ran.stderr);
    assert.match(ran.stderr, /mittelo run: budget of \$0\.03 reached/);
    const [, spent, left, folder] = said;
    assert.ok(Number(spent) >= 0.03, spent);

    const records = readRecords(join(cwd, folder!, 'results.jsonl'));
    assert.equal(records.length, total);
    const done = records.filter((r) => r.status === 'done');
    const queued = records.filter((r) => r.status === 'queued');
    // The agent may have leased one more between the third ack and the stop: that one finishes too.
    assert.ok(done.length >= 3 && done.length < total, `done: ${done.length}`);
    assert.equal(queued.length, total - done.length, 'the rest stay queued, none failed for it');
    assert.equal(Number(left), queued.length);
    assert.equal(Number(spent), Math.round(done.length * COST * 1e6) / 1e6);
    for (const record of done) {
      assert.equal(record.cost_usd, COST, JSON.stringify(record));
      assert.equal(record.cost_basis, 'reported');
      assert.equal(record.backend, 'claude_code');
      assert.equal(record.tokens.input_tokens, 7);
      assert.equal(record.tokens.output_tokens, 5);
    }
    // The summary table carries the tokens and the cost, and the budget line.
    assert.match(ran.stdout, /^BACKEND +DONE +FAILED +CANCELED +P50 +P95 +IN +OUT +COST$/m);
    assert.match(ran.stdout, new RegExp(`^claude_code +${done.length} +0 +0 .* \\$0\\.\\d+$`, 'm'));
    assert.match(ran.stdout, /^budget: \$0\.0\d+ of \$0\.03 spent \(reached: stopped leasing\)$/m);

    // The run's own hub.db keeps them queued, and `mittelo runs` says how the run ended.
    const runs = await runCli(['runs', '--json'], { cwd });
    assert.equal(runs.code, 0, runs.stderr);
    const [run] = (JSON.parse(runs.stdout) as { runs: Array<Record<string, unknown>> }).runs;
    assert.equal(run!.ended, 'budget');
    assert.equal(run!.counted_from, 'hub.db');
    assert.deepEqual(run!.counts, {
      queued: queued.length,
      leased: 0,
      done: done.length,
      failed: 0,
      canceled: 0,
    });

    // Resumed with a budget for the rest: it applies to the resumed part, which finishes.
    const resumed = await runCli(['run', '--resume', folder!, '--budget-usd', '1'], {
      cwd,
      env: env(cwd),
    });
    assert.equal(resumed.code, 0, resumed.stderr);
    const spentNow = Math.round(queued.length * COST * 1e6) / 1e6;
    assert.match(
      resumed.stdout,
      new RegExp(`^budget: \\$${spentNow.toFixed(2)} of \\$1\\.00 spent in this session$`, 'm'),
    );
    const all = readRecords(join(cwd, folder!, 'results.jsonl'));
    assert.equal(all.length, total);
    assert.ok(all.every((r) => r.status === 'done' && r.cost_usd === COST));
  });

  it("--max-cost-usd reaches every task whose pack line sets none; a line's max_cost_usd wins", async () => {
    const { cwd, pack } = workspace('max-cost', [
      { prompt: 'own cap', max_cost_usd: 0.5 },
      { prompt: 'default cap' },
    ]);
    const out = join(cwd, 'results.jsonl');
    // Each run costs 0.01: the default cap (0.005) stops it; the line's own (0.5) does not.
    const ran = await runCli(
      ['run', pack, '--agent', 'claude_code=1', '--max-cost-usd', '0.005', '--out', out],
      { cwd, env: env(cwd) },
    );
    assert.equal(ran.code, 1, ran.stderr);
    const [own, capped] = readRecords(out);
    assert.equal(own!.status, 'done', JSON.stringify(own));
    assert.equal(capped!.status, 'failed', JSON.stringify(capped));
    assert.equal(capped!.error_kind, 'budget');
    assert.equal(capped!.attempts, 1, 'a run stopped at its cap is not retried');
    // What the stopped run spent before claude stopped it is still its cost.
    assert.equal(capped!.cost_usd, COST);
  });

  it('refuses bad amounts with one line and starts nothing', async () => {
    const { cwd, pack } = workspace('bad', [{ prompt: 'a' }, { prompt: 'b', max_cost_usd: -1 }]);
    const cases: Array<[string[], RegExp]> = [
      [['--budget-usd', '0'], /^mittelo: --budget-usd takes an amount of US dollars above 0 .*got "0"/],
      [['--budget-usd', 'five'], /^mittelo: --budget-usd takes an amount of US dollars .*got "five"/],
      [['--max-cost-usd', '2000000'], /^mittelo: --max-cost-usd takes an amount .*at most 1,000,000/],
      [[], /^mittelo: .*pack\.jsonl:2: max_cost_usd must be an amount of US dollars above 0/],
    ];
    for (const [flags, message] of cases) {
      const ran = await runCli(['run', pack, '--agent', 'echo=1', ...flags], { cwd });
      assert.equal(ran.code, 2, `${flags.join(' ')}: ${ran.stderr}`);
      assert.match(ran.stderr, message);
      assert.equal(ran.stderr.trim().split('\n').length, 1, ran.stderr);
    }
    assert.equal(existsSync(join(cwd, '.mittelo')), false, 'no run folder, no hub, nothing enqueued');
  });
});

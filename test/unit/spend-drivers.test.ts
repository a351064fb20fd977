/**
 * What the drivers give spend: Claude Code told a task's max_cost_usd as --max-budget-usd and a
 * run stopped there read as a final `budget` failure that still carries its cost; Gemini's
 * per-model counts kept so each model is priced (on a recorded output); Codex's usage given the
 * model it was asked for, since its output names none.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { claudeCode } from '../../src/backends/drivers/claude-code.ts';
import { codex } from '../../src/backends/drivers/codex.ts';
import { driverContext, interpretRun } from '../../src/backends/drivers/driver-backend.ts';
import { gemini } from '../../src/backends/drivers/gemini.ts';
import type { DriverSpec } from '../../src/backends/drivers/types.ts';
import { costOf } from '../../src/spend/cost.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'drivers');
const circumstances = { timeoutMs: 60_000, maxOutputBytes: 4 << 20 };

function run(spec: DriverSpec, stdout: string, exitCode = 0, more: Record<string, unknown> = {}) {
  return interpretRun(
    spec,
    { exitCode, signal: null, stdout, stderr: '', stdoutCut: 0, timedOut: false, spawnError: null },
    { ...circumstances, ...more },
  );
}

const line = (value: unknown) => `${JSON.stringify(value)}\n`;
const init = line({ type: 'system', subtype: 'init', session_id: 's', model: 'claude-sonnet-4-5-20250929' });
/** A result line stopped at the budget, as the Agent SDK documents it (no recording exists yet). */
const budgetResult = (extra: Record<string, unknown> = {}) =>
  line({
    type: 'result',
    subtype: 'error_max_budget_usd',
    is_error: true,
    session_id: 's',
    total_cost_usd: 0.61,
    usage: { input_tokens: 1200, output_tokens: 800 },
    ...extra,
  });

describe('claude_code and max_cost_usd', () => {
  const args = (maxCostUsd?: number | null) =>
    claudeCode.invocation('hi', driverContext(claudeCode, { env: {} }), { maxCostUsd }).args;

  it('passes the task max_cost_usd as --max-budget-usd, and nothing without one', () => {
    const capped = args(0.5);
    assert.deepEqual(
      capped.slice(capped.indexOf('--max-budget-usd'), capped.indexOf('--max-budget-usd') + 2),
      ['--max-budget-usd', '0.5'],
    );
    assert.equal(args(null).includes('--max-budget-usd'), false);
    assert.equal(args(undefined).includes('--max-budget-usd'), false);
    assert.ok(args(0.5).includes('-p'), '--max-budget-usd only works with --print');
  });

  it('a run stopped at its budget is a budget failure saying the budget and what was spent', () => {
    for (const exitCode of [1, 0]) {
      const outcome = run(claudeCode, init + budgetResult(), exitCode, { maxCostUsd: 0.5 });
      assert.equal(outcome.ok, false);
      if (outcome.ok) return;
      assert.equal(outcome.kind, 'budget', `exit ${exitCode}: ${outcome.error}`);
      assert.equal(
        outcome.error,
        'Claude Code stopped at its budget of $0.5 (max_cost_usd) after spending $0.61; the task is not retried',
      );
      assert.match(outcome.fix!, /raise the task's max_cost_usd/);
      assert.deepEqual(
        costOf(outcome.usage),
        { cost_usd: 0.61, cost_basis: 'reported' },
        'the cost goes with it',
      );
    }
  });

  it('recognises the stop by its subtype, even without is_error or with another ending', () => {
    for (const extra of [{ is_error: false }, { subtype: 'error_max_budget_exceeded' }]) {
      const outcome = run(claudeCode, init + budgetResult(extra), 1);
      assert.equal(outcome.ok ? 'ok' : outcome.kind, 'budget', JSON.stringify(extra));
      if (!outcome.ok) assert.match(outcome.error, /^Claude Code stopped at its budget after spending/);
    }
  });

  it('other failed runs carry their usage too, so their cost counts', () => {
    const failed = line({
      type: 'result',
      subtype: 'success',
      is_error: true,
      result: 'API Error: 500 Internal Server Error',
      session_id: 's',
      total_cost_usd: 0.03,
      usage: { input_tokens: 10, output_tokens: 2 },
    });
    const outcome = run(claudeCode, init + failed, 1);
    assert.equal(outcome.ok, false);
    assert.deepEqual(costOf(outcome.usage), { cost_usd: 0.03, cost_basis: 'reported' });
  });
});

describe('gemini: several models in one run', () => {
  it('keeps each model’s tokens beside the sums, and the run is priced model by model', () => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, 'gemini', 'success-json.json'), 'utf8')) as {
      stdout: string;
    };
    const outcome = run(gemini, fixture.stdout);
    assert.equal(outcome.ok, true);
    const usage = outcome.usage!;
    assert.equal(usage.input_tokens, 5910, 'the sums stay');
    const models = usage.models as Record<string, Record<string, number>>;
    assert.deepEqual(Object.keys(models).sort(), ['gemini-2.5-flash-lite', 'gemini-2.5-pro']);
    assert.equal(models['gemini-2.5-pro']!.input_tokens, 5210);
    assert.equal(models['gemini-2.5-pro']!.thoughts_tokens, 82);
    assert.equal(models['gemini-2.5-flash-lite']!.output_tokens, 20);
    const pro = (5210 * 1.25 + (8 + 82) * 10) / 1e6;
    const lite = (700 * 0.1 + 20 * 0.4) / 1e6;
    const cost = costOf(usage);
    assert.equal(cost?.cost_basis, 'estimated');
    assert.ok(Math.abs(cost!.cost_usd! - (pro + lite)) < 1e-6, `${cost!.cost_usd} vs ${pro + lite}`);
  });

  it('one model: no breakdown, the model name alone', () => {
    const stdout = JSON.stringify({
      response: 'hi',
      stats: { models: { 'gemini-2.5-flash': { tokens: { prompt: 100, candidates: 10, cached: 0 } } } },
    });
    const outcome = run(gemini, stdout);
    assert.equal(outcome.usage?.model, 'gemini-2.5-flash');
    assert.equal(outcome.usage?.models, undefined);
    assert.equal(costOf(outcome.usage)?.cost_basis, 'estimated');
  });
});

describe('codex: the model comes from the agent', () => {
  const stdout =
    line({ type: 'thread.started', thread_id: 't-1' }) +
    line({ type: 'item.completed', item: { type: 'agent_message', text: 'done' } }) +
    line({
      type: 'turn.completed',
      usage: { input_tokens: 1000, cached_input_tokens: 0, output_tokens: 100 },
    });

  it('the model it was asked for (--model, MITTELO_CODEX_MODEL) goes into the usage and is priced', () => {
    const outcome = run(codex, stdout, 0, { model: 'gpt-5-codex' });
    assert.equal(outcome.usage?.model, 'gpt-5-codex');
    const cost = costOf(outcome.usage);
    assert.equal(cost?.cost_basis, 'estimated');
    assert.ok(Math.abs(cost!.cost_usd! - (1000 * 1.25 + 100 * 10) / 1e6) < 1e-9);
  });

  it("without one, codex's own default is not guessed: tokens of an unknown model", () => {
    const outcome = run(codex, stdout);
    assert.equal(outcome.usage?.model, undefined);
    assert.deepEqual(costOf(outcome.usage), { cost_basis: 'unknown' });
  });

  it('a model the CLI names itself wins over the one it was asked for', () => {
    const outcome = run(
      claudeCode,
      `${init}${line({ type: 'result', subtype: 'success', is_error: false, result: 'x', usage: { input_tokens: 1 } })}`,
      0,
      {
        model: 'sonnet',
      },
    );
    assert.equal(outcome.usage?.model, 'claude-sonnet-4-5-20250929');
  });
});

/**
 * A run's cost from its usage (src/spend/cost.ts) and the price table behind the estimates: what
 * a CLI reports is believed, tokens of a known model are estimated, tokens of an unknown model
 * are unknown (never 0), and a run with no usage has no cost at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costOf } from '../../src/spend/cost.ts';
import { modelKey, PRICE_TABLE, priceOf } from '../../src/spend/price-table.ts';

/** USD for `tokens` at `perMillion`, the way a reader checks an estimate by hand. */
const usd = (tokens: number, perMillion: number) => (tokens * perMillion) / 1e6;

const near = (actual: number | undefined, expected: number, message?: string) => {
  assert.equal(typeof actual, 'number', message);
  assert.ok(Math.abs(actual! - expected) < 1e-6, `${message ?? ''}: ${actual} is not ${expected}`);
};

describe('the price table', () => {
  it('every row says where its prices come from and when, and has positive prices', () => {
    assert.ok(PRICE_TABLE.length >= 15, 'the three vendors are covered');
    for (const row of PRICE_TABLE) {
      const name = row.models.join(', ');
      assert.match(row.source, /^https:\/\/\S+$/, `${name}: source is the vendor's pricing page`);
      assert.match(row.as_of, /^\d{4}-\d{2}-\d{2}$/, `${name}: as_of is a date`);
      assert.ok(!Number.isNaN(Date.parse(row.as_of)), `${name}: as_of ${row.as_of} is a real date`);
      assert.ok(row.models.length > 0, 'a row prices at least one model');
      for (const price of [row.input, row.output, row.cache_read, row.cache_write]) {
        if (price === null) continue;
        assert.ok(Number.isFinite(price) && price > 0, `${name}: ${price} is a positive price`);
      }
      assert.ok(row.output >= row.input, `${name}: output costs at least what input does`);
    }
  });

  it('lists each model once', () => {
    const names = PRICE_TABLE.flatMap((row) => row.models);
    assert.deepEqual(
      names.filter((name, i) => names.indexOf(name) !== i),
      [],
    );
  });

  it('finds the models the CLIs name, whatever snapshot, provider prefix or context tag they add', () => {
    const cases: Array<[string, string]> = [
      ['claude-sonnet-4-5-20250929', 'claude-sonnet-4.5'],
      ['claude-sonnet-4-5', 'claude-sonnet-4.5'],
      ['claude-opus-4-8[1m]', 'claude-opus-4.8'],
      ['claude-opus-4-20250514', 'claude-opus-4'],
      ['claude-opus-4-1-20250805', 'claude-opus-4.1'],
      ['claude-haiku-4-5-20251001', 'claude-haiku-4.5'],
      ['claude-3-5-haiku-20241022', 'claude-3.5-haiku'],
      ['claude-3-5-haiku-latest', 'claude-3.5-haiku'],
      ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4.5'],
      ['claude-sonnet-4-5@20250929', 'claude-sonnet-4.5'],
      ['anthropic/claude-haiku-4.5', 'claude-haiku-4.5'],
      ['gpt-5-codex', 'gpt-5-codex'],
      ['gpt-4.1-2025-04-14', 'gpt-4.1'],
      ['gpt-4o-2024-08-06', 'gpt-4o'],
      ['o4-mini-2025-04-16', 'o4-mini'],
      ['models/gemini-2.5-flash-lite', 'gemini-2.5-flash-lite'],
      ['Gemini-2.5-Pro', 'gemini-2.5-pro'],
    ];
    for (const [model, key] of cases) {
      assert.equal(modelKey(model), key, model);
      assert.ok(priceOf(model), `${model} has a price`);
    }
  });

  it('does not price a model it does not list by a neighbour: unknown stays unknown', () => {
    for (const model of [
      'claude-opus-4-9', // a newer Opus is not Opus 4
      'claude-sonnet-5',
      'gpt-5.5',
      'gpt-5-pro',
      'gemini-2.5-flash-preview-09-2025',
      'gemini-1.5-pro',
      'glm-4.6',
      'fake-claude-model',
      'sonnet',
      '',
    ])
      assert.equal(priceOf(model), null, model);
  });

  it('prices Opus 4 and Opus 4.5 apart (the id of one is a prefix of the other)', () => {
    assert.equal(priceOf('claude-opus-4-20250514')?.input, 15);
    assert.equal(priceOf('claude-opus-4-5-20251101')?.input, 5);
  });
});

describe('costOf', () => {
  it('reported: the cost the CLI gave (Claude Code total_cost_usd, opencode step costs)', () => {
    assert.deepEqual(
      costOf({ cost_usd: 0.0123, input_tokens: 12, output_tokens: 9, model: 'claude-opus-4-8[1m]' }),
      { cost_usd: 0.0123, cost_basis: 'reported' },
    );
    assert.deepEqual(costOf({ cost_usd: 0 }), { cost_usd: 0, cost_basis: 'reported' }, 'a reported 0 is 0');
  });

  it('a cost the CLI gives that no ack may carry is not believed', () => {
    assert.deepEqual(costOf({ cost_usd: -1, input_tokens: 5, model: 'gpt-4.1' })?.cost_basis, 'estimated');
    assert.deepEqual(costOf({ cost_usd: Number.NaN, input_tokens: 5 }), { cost_basis: 'unknown' });
    assert.deepEqual(costOf({ cost_usd: 5e6, input_tokens: 5 }), { cost_basis: 'unknown' });
  });

  it('glm: claude reports a cost at Anthropic prices, which is not what GLM charges', () => {
    const usage = { cost_usd: 0.02, input_tokens: 100, output_tokens: 10, model: 'glm-4.6' };
    assert.deepEqual(costOf(usage, 'glm'), { cost_basis: 'unknown' });
    assert.deepEqual(costOf(usage, 'claude_code'), { cost_usd: 0.02, cost_basis: 'reported' });
    assert.deepEqual(costOf({ cost_usd: 0.02 }, 'glm'), { cost_basis: 'unknown' }, 'spent, amount not known');
  });

  it('estimated, Anthropic: input, output, cache reads and writes each at their price', () => {
    const cost = costOf({
      model: 'claude-sonnet-4-5-20250929',
      input_tokens: 1000,
      output_tokens: 500,
      cache_read_input_tokens: 20_000,
      cache_creation_input_tokens: 4000,
    });
    assert.equal(cost?.cost_basis, 'estimated');
    near(cost?.cost_usd, usd(1000, 3) + usd(500, 15) + usd(20_000, 0.3) + usd(4000, 3.75), 'sonnet 4.5');
  });

  it('estimated, Codex: cached input is part of input_tokens and billed at the cached price', () => {
    const cost = costOf({
      model: 'gpt-5-codex',
      input_tokens: 10_000,
      cached_input_tokens: 8000,
      output_tokens: 1000,
      reasoning_output_tokens: 600, // part of output_tokens: not billed twice
    });
    assert.equal(cost?.cost_basis, 'estimated');
    near(cost?.cost_usd, usd(2000, 1.25) + usd(8000, 0.125) + usd(1000, 10), 'gpt-5-codex');
  });

  it('estimated, OpenAI-compatible answer (input and output only)', () => {
    near(costOf({ model: 'gpt-4o-mini', input_tokens: 1_000_000, output_tokens: 0 })?.cost_usd, 0.15);
  });

  it('estimated, Gemini one model: cached is part of the prompt, thinking is billed as output', () => {
    const cost = costOf({
      model: 'gemini-2.5-pro',
      input_tokens: 5000,
      cached_tokens: 1000,
      output_tokens: 200,
      thoughts_tokens: 300,
      total_tokens: 5500,
    });
    assert.equal(cost?.cost_basis, 'estimated');
    near(cost?.cost_usd, usd(4000, 1.25) + usd(1000, 0.31) + usd(500, 10), 'gemini 2.5 pro');
  });

  it('estimated, Gemini several models: each model at its own price', () => {
    const cost = costOf({
      model: 'gemini-2.5-flash-lite, gemini-2.5-pro',
      input_tokens: 3000,
      output_tokens: 150,
      models: {
        'gemini-2.5-flash-lite': {
          input_tokens: 1000,
          output_tokens: 50,
          cached_tokens: 0,
          thoughts_tokens: 0,
        },
        'gemini-2.5-pro': { input_tokens: 2000, output_tokens: 100, cached_tokens: 0, thoughts_tokens: 20 },
      },
    });
    assert.equal(cost?.cost_basis, 'estimated');
    near(cost?.cost_usd, usd(1000, 0.1) + usd(50, 0.4) + usd(2000, 1.25) + usd(120, 10), 'flash-lite + pro');
  });

  it('unknown, Gemini several models of which one is not in the table: never a partial sum', () => {
    const cost = costOf({
      model: 'gemini-2.5-pro, gemini-9-ultra',
      input_tokens: 3000,
      models: {
        'gemini-2.5-pro': { input_tokens: 2000, output_tokens: 100 },
        'gemini-9-ultra': { input_tokens: 1000, output_tokens: 50 },
      },
    });
    assert.deepEqual(cost, { cost_basis: 'unknown' });
  });

  it('unknown, never 0: tokens of a model the table does not know, or of no model at all', () => {
    assert.deepEqual(costOf({ model: 'qwen3-coder', input_tokens: 10, output_tokens: 5 }), {
      cost_basis: 'unknown',
    });
    assert.deepEqual(costOf({ input_tokens: 10, output_tokens: 5 }), { cost_basis: 'unknown' }, 'no model');
    assert.deepEqual(costOf({ model: 'mlx-community/Qwen3-4B-4bit', output_tokens: 9 }), {
      cost_basis: 'unknown',
    });
  });

  it('no usage, no cost: echo and shell runs, and CLIs that report only a session id', () => {
    assert.equal(costOf(undefined), null);
    assert.equal(costOf(null), null);
    assert.equal(costOf({}), null);
    assert.equal(costOf({ session_id: 's-1' }), null, 'kimi');
    assert.equal(costOf({ model: 'gpt-5', input_tokens: 0, output_tokens: 0 }), null, 'no tokens spent');
  });
});

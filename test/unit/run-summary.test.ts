/**
 * What `mittelo run` prints at its end about spend: the tokens and cost columns of the summary
 * table (a cost never shown as surer than it is), compact token counts, and the run budget's sum.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCompact } from '../../src/cli/format.ts';
import { costCell, summaryTable } from '../../src/cli/run-summary.ts';
import type { BackendSummary, SpendSummary } from '../../src/run/results.ts';
import { RunBudget } from '../../src/run/run-budget.ts';

const spend = (fields: Partial<SpendSummary> = {}): SpendSummary => ({
  input_tokens: 0,
  output_tokens: 0,
  cost_usd: null,
  estimated_usd: 0,
  cost_unknown: 0,
  ...fields,
});

const backend = (name: string, done: number, fields: Partial<SpendSummary> = {}): BackendSummary => ({
  backend: name,
  done,
  failed: 0,
  canceled: 0,
  p50_ms: 1500,
  p95_ms: 2500,
  ...spend(fields),
});

describe('costCell', () => {
  it('shows a reported cost as it is', () => {
    assert.equal(costCell(spend({ cost_usd: 1.5 })), '$1.50');
    assert.equal(costCell(spend({ cost_usd: 0.0042 })), '$0.0042');
  });

  it('marks a sum with an estimated part with ~', () => {
    assert.equal(costCell(spend({ cost_usd: 1.5, estimated_usd: 0.5 })), '~$1.50');
  });

  it('counts tasks of unknown cost beside the sum instead of adding 0', () => {
    assert.equal(costCell(spend({ cost_usd: 1.5, cost_unknown: 2 })), '$1.50 (+2 ?)');
    assert.equal(costCell(spend({ cost_unknown: 3 })), '? (3)');
  });

  it('says nothing is known with -', () => {
    assert.equal(costCell(spend()), '-');
  });
});

describe('formatCompact', () => {
  it('keeps small counts whole and shortens big ones to one decimal', () => {
    assert.deepEqual([0, 950, 1234, 12_345, 123_456, 4_100_000, 2_000_000_000].map(formatCompact), [
      '0',
      '950',
      '1.2k',
      '12.3k',
      '123k',
      '4.1M',
      '2.0B',
    ]);
  });

  it('rounds into the next unit rather than showing 1000k', () => {
    assert.equal(formatCompact(999.6), '1.0k');
    assert.equal(formatCompact(999_960), '1.0M');
    assert.equal(formatCompact(99_960), '100k');
  });
});

describe('summaryTable', () => {
  it('has no tokens or cost columns when no task reported usage (echo, shell)', () => {
    const table = summaryTable({ backends: [backend('echo', 3)], spend: spend() });
    assert.deepEqual(table.split('\n'), [
      'BACKEND  DONE  FAILED  CANCELED  P50     P95',
      'echo     3     0       0         1.50 s  2.50 s',
    ]);
  });

  it('shows tokens and cost per backend, a total row, and what ~ and ? mean', () => {
    const claude = { input_tokens: 12_300, output_tokens: 4_100, cost_usd: 0.42 };
    const codex = {
      input_tokens: 900,
      output_tokens: 80,
      cost_usd: 0.1,
      estimated_usd: 0.1,
      cost_unknown: 1,
    };
    const table = summaryTable({
      backends: [backend('claude_code', 2, claude), backend('codex', 1, codex)],
      spend: spend({
        input_tokens: 13_200,
        output_tokens: 4_180,
        cost_usd: 0.52,
        estimated_usd: 0.1,
        cost_unknown: 1,
      }),
    });
    assert.deepEqual(table.split('\n'), [
      'BACKEND      DONE  FAILED  CANCELED  P50     P95     IN     OUT   COST',
      'claude_code  2     0       0         1.50 s  2.50 s  12.3k  4.1k  $0.42',
      'codex        1     0       0         1.50 s  2.50 s  900    80    ~$0.10 (+1 ?)',
      'TOTAL        3     0       0                         13.2k  4.2k  ~$0.52 (+1 ?)',
      '(cost: ~ partly estimated from list prices; ? tasks of unknown cost, not in the sum)',
    ]);
  });
});

describe('RunBudget', () => {
  it('is reached once the known cost of finished tasks reaches it; unknown cost is only counted', async () => {
    const budget = new RunBudget(0.3);
    let reached = false;
    void budget.reached.then(() => {
      reached = true;
    });
    budget.finished({ cost_usd: 0.1, cost_basis: 'reported' });
    budget.finished({ cost_usd: null, cost_basis: 'unknown' });
    budget.finished({ cost_usd: null, cost_basis: null }); // echo: no usage, nothing to count
    budget.finished({ cost_usd: 0.1, cost_basis: 'estimated' });
    await Promise.resolve();
    assert.equal(reached, false);
    assert.deepEqual(budget.outcome(), { usd: 0.3, spent_usd: 0.2, cost_unknown: 1, reached: false });
    // 0.1 + 0.1 + 0.1 is 0.30000000000000004 in floats, 0.2 + 0.1 may land below 0.3: the sum is
    // kept to a millionth, so exactly the budget counts as reached.
    budget.finished({ cost_usd: 0.1, cost_basis: 'reported' });
    assert.equal(await budget.reached, 'budget');
    assert.deepEqual(budget.outcome(), { usd: 0.3, spent_usd: 0.3, cost_unknown: 1, reached: true });
  });
});

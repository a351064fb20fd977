/** `--budget` as people write it, and the budget and spend lines (src/cli/budget-flags.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  budgetLines,
  budgetsFromFlags,
  describeSpend,
  formatUsd,
  parseUsdPerDay,
  spendByBackend,
} from '../../src/cli/budget-flags.ts';
import { shortClock } from '../../src/cli/queue-control-lines.ts';
import type { SpendRow } from '../../src/protocol/model.ts';

const row = (day: string, backend: string | null, fields: Partial<SpendRow> = {}): SpendRow => ({
  day,
  backend,
  tasks: 1,
  cost_usd: 0,
  estimated_usd: 0,
  cost_unknown: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  ...fields,
});

describe('budget flags', () => {
  it('reads US dollars per day in every accepted form', () => {
    for (const text of [
      '20usd/day',
      '$20/day',
      '20/day',
      '20USD',
      '$20',
      '20',
      ' 20 usd / day ',
      '20usd/d',
    ]) {
      assert.equal(parseUsdPerDay(text, '--budget'), 20, text);
    }
    assert.equal(parseUsdPerDay('0.5usd/day', '--budget'), 0.5);
    assert.equal(parseUsdPerDay('$.25', '--budget'), 0.25);
    assert.deepEqual(budgetsFromFlags(['claude_code=20usd/day', 'codex=$5/day']), [
      { backend: 'claude_code', usd_per_day: 20 },
      { backend: 'codex', usd_per_day: 5 },
    ]);
    assert.deepEqual(budgetsFromFlags(), []);
  });

  it('refuses what it cannot read with one line naming the accepted form', () => {
    const form =
      /write it as NAME=20usd\/day \(or NAME=\$20\/day; the unit is always US dollars per UTC day\)/;
    for (const text of ['x=20eur/day', 'x=20usd/hour', 'x=20/week', 'x=twenty', 'x=', 'x=1e3']) {
      assert.throws(() => budgetsFromFlags([text]), form, text);
    }
    assert.throws(() => budgetsFromFlags(['x=-5']), /a budget is more than 0 US dollars per day, got "-5"/);
    assert.throws(() => budgetsFromFlags(['x=0']), /more than 0 US dollars per day.*mittelo pause/);
    assert.throws(() => budgetsFromFlags(['x=2000000']), /at most 1,000,000 US dollars per day/);
    assert.throws(
      () => budgetsFromFlags(['claude_code']),
      /--budget takes NAME=20usd\/day .*got "claude_code"/,
    );
    assert.throws(() => budgetsFromFlags(['=5']), /--budget: the backend is missing/);
    assert.throws(() => budgetsFromFlags(['a b=5']), /--budget: the backend must be a name of/);
    assert.throws(() => budgetsFromFlags(['x=1', 'x=2']), /--budget x is given twice/);
  });

  it('writes dollars as people read them', () => {
    assert.equal(formatUsd(0), '$0.00');
    assert.equal(formatUsd(20.305), '$20.31');
    assert.equal(formatUsd(1204.5), '$1,204.50');
    assert.equal(formatUsd(0.0042), '$0.0042');
  });

  it('says how much of a budget is spent, and when an exhausted one leases again', () => {
    const now = Date.UTC(2026, 11, 3, 12) / 1000;
    const resets = Date.UTC(2026, 11, 4) / 1000;
    const base = { cost_unknown_today: 0, resets_at: resets };
    assert.deepEqual(
      budgetLines(
        [
          { ...base, backend: 'claude_code', usd_per_day: 20, spent_today_usd: 20.31, exhausted: true },
          {
            ...base,
            backend: 'codex',
            usd_per_day: 5,
            spent_today_usd: 1.2,
            exhausted: false,
            cost_unknown_today: 2,
          },
        ],
        now,
      ),
      [
        `claude_code budget spent: $20.31 of $20.00 today; leasing again at ${shortClock(resets, now)}`,
        'codex budget: $1.20 of $5.00 today, 2 of unknown cost not counted',
      ],
    );
  });

  it('sums spend per backend over days, the backend-less last', () => {
    const rows = [
      row('2026-12-03', 'shell', {
        tasks: 2,
        cost_usd: 1,
        estimated_usd: 0.25,
        input_tokens: 10,
        cache_read_tokens: 5,
      }),
      row('2026-12-03', null, { cost_unknown: 1 }),
      row('2026-12-02', 'shell', { tasks: 3, cost_usd: 0.5, output_tokens: 7, cost_unknown: 1 }),
      row('2026-12-02', 'codex', { cost_usd: 0.1 }),
    ];
    assert.deepEqual(spendByBackend(rows).map(describeSpend), [
      'codex: 1 task, 0 tokens, $0.10',
      'shell: 5 tasks, 22 tokens, $1.50 (estimated $0.25), 1 of unknown cost',
      'no backend: 1 task, 0 tokens, $0.00, 1 of unknown cost',
    ]);
    assert.equal(rows[0]!.tasks, 2, 'the rows given are not changed');
  });
});

/**
 * Spend and daily budgets through a real hub process, the CLI, REST and the protocol: budgets
 * given to `mittelo hub --budget` at start, set, listed and cleared every way; bad input is one
 * line, exit 2, and changes nothing; acks with costs add up per backend until the budget is
 * reached, then that backend's workers get nothing while another backend's still do, `budgets`,
 * `status` and `stats` say so, and clearing the budget lets a parked lease through. A v0.1 hub
 * (no `spend`) still gets `mittelo stats`' counts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { shortClock } from '../../src/cli/queue-control-lines.ts';
import { HubClient } from '../../src/client/hub-client.ts';
import type { BudgetState, SpendRow } from '../../src/protocol/model.ts';
import { type HubProcess, makeTempDir, startHubProcess } from '../helpers/hub-process.ts';
import { callOnce } from '../helpers/raw-client.ts';
import { type Ran, runCli } from '../helpers/run-cli.ts';
import { startV01Hub } from '../helpers/v01-hub.ts';

const ok = (ran: Ran): string => {
  assert.equal(ran.code, 0, `exit ${ran.code}; stderr: ${ran.stderr}`);
  return ran.stdout;
};

/** Exit 2, one line on stderr matching `pattern`, nothing on stdout. */
const refused = (ran: Ran, pattern: RegExp): void => {
  assert.equal(ran.code, 2, `exit ${ran.code}; stderr: ${ran.stderr}`);
  assert.equal(ran.stdout, '');
  const lines = ran.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${ran.stderr}`);
  assert.match(lines[0]!, pattern);
};

const near = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

describe('spend and budgets through a real hub, the CLI, REST and the protocol', () => {
  const dir = makeTempDir('mittelo-budgets-');
  let hub: HubProcess;
  const clients: HubClient[] = [];
  const mittelo = (args: string[]) => runCli([...args, '--port', String(hub.port)], { cwd: dir });
  const connect = () => {
    const client = new HubClient({ port: hub.port, reconnect: false });
    clients.push(client);
    return client;
  };
  const budgetsJson = async (): Promise<BudgetState[]> =>
    (JSON.parse(ok(await mittelo(['budget', '--json']))) as { budgets: BudgetState[] }).budgets;

  before(async () => {
    hub = await startHubProcess({
      db: `${dir}/hub.db`,
      rest: true,
      args: ['--budget', 'claude_code=20usd/day', '--budget', 'codex=$5/day'],
    });
  });
  after(async () => {
    for (const client of clients) client.close();
    await hub.stop();
  });

  it('mittelo hub --budget sets budgets at start; mittelo budget lists them', async () => {
    assert.equal(
      ok(await mittelo(['budget'])),
      'claude_code budget: $0.00 of $20.00 today\ncodex budget: $0.00 of $5.00 today\n',
    );
    const budgets = await budgetsJson();
    assert.deepEqual(
      budgets.map(({ backend, usd_per_day, spent_today_usd, exhausted }) => ({
        backend,
        usd_per_day,
        spent_today_usd,
        exhausted,
      })),
      [
        { backend: 'claude_code', usd_per_day: 20, spent_today_usd: 0, exhausted: false },
        { backend: 'codex', usd_per_day: 5, spent_today_usd: 0, exhausted: false },
      ],
    );
    // resets_at is the next UTC midnight.
    const resetsAt = budgets[0]!.resets_at;
    assert.equal(resetsAt % 86_400, 0);
    assert.ok(
      resetsAt > Date.now() / 1000 - 60 && resetsAt <= Date.now() / 1000 + 86_400 + 60,
      `${resetsAt}`,
    );
  });

  it('a bad --budget stops mittelo hub before it opens the database', async () => {
    const db = join(dir, 'never.db');
    for (const [value, pattern] of [
      [
        'claude_code=20eur/day',
        /--budget: "20eur\/day" is not an amount of US dollars per day; write it as NAME=20usd\/day/,
      ],
      ['claude_code=-3usd/day', /--budget: a budget is more than 0 US dollars per day, got "-3usd\/day"/],
      ['claude_code', /--budget takes NAME=20usd\/day .*got "claude_code"/],
    ] as const) {
      refused(await runCli(['hub', '--port', '0', '--db', db, '--budget', value], { cwd: dir }), pattern);
    }
    assert.equal(existsSync(db), false, 'no database was created');
  });

  it('budgets are set, listed and cleared through the CLI, REST and the protocol', async () => {
    // CLI
    assert.equal(
      ok(await mittelo(['budget', 'set', 'gemini=3.5usd/day'])),
      'gemini: budget $3.50 per day (UTC)\n',
    );
    assert.equal(ok(await mittelo(['budget', 'set', 'gemini=4'])), 'gemini: budget $4.00 per day (UTC)\n');
    assert.deepEqual(JSON.parse(ok(await mittelo(['budget', 'set', 'gemini=$4.5/day', '--json']))), {
      ok: true,
      budget: { backend: 'gemini', usd_per_day: 4.5 },
    });
    assert.match(ok(await mittelo(['budget'])), /^gemini budget: \$0\.00 of \$4\.50 today$/m);
    // REST
    const rest = hub.restUrl!;
    const post = (path: string, body: unknown) =>
      fetch(`${rest}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const set = await post('/budgets', { backend: 'kimi', usd_per_day: 2 });
    assert.equal(set.status, 200);
    assert.deepEqual(await set.json(), { ok: true, budget: { backend: 'kimi', usd_per_day: 2 } });
    const listed = (await (await fetch(`${rest}/budgets`)).json()) as { budgets: BudgetState[] };
    assert.deepEqual(
      listed.budgets.map((budget) => budget.backend),
      ['claude_code', 'codex', 'gemini', 'kimi'],
    );
    const badRest = await post('/budgets', { backend: 'kimi', usd_per_day: -1 });
    assert.equal(badRest.status, 400);
    assert.match(
      ((await badRest.json()) as { error: string }).error,
      /usd_per_day is more than 0 US dollars/,
    );
    const badDays = await fetch(`${rest}/spend?days=abc`);
    assert.equal(badDays.status, 400);
    assert.match(((await badDays.json()) as { error: string }).error, /days must be an integer/);
    assert.equal((await fetch(`${rest}/spend?days=0`)).status, 400);
    const clearedRest = await post('/budgets/clear', { backend: 'kimi' });
    assert.deepEqual(await clearedRest.json(), { ok: true, cleared: true });
    // The protocol, raw and through the client
    const raw = await callOnce(hub.port, 'budget_set', { backend: 'opencode', usd_per_day: 1.25 });
    assert.deepEqual(raw.result, { ok: true, budget: { backend: 'opencode', usd_per_day: 1.25 } });
    const rawBad = await callOnce(hub.port, 'budget_set', { backend: 'opencode', usd_per_day: 0 });
    assert.equal(rawBad.error.code, 'bad_request');
    const client = connect();
    assert.equal(await client.clearBudget('opencode'), true);
    assert.equal(await client.clearBudget('opencode'), false);
    assert.ok(client.hello?.features.includes('spend'), 'hello lists the spend feature');
    // CLI clear
    assert.equal(ok(await mittelo(['budget', 'clear', 'gemini'])), 'gemini: no budget now\n');
    assert.equal(ok(await mittelo(['budget', 'clear', 'gemini'])), 'gemini had no budget; nothing changed\n');
    assert.deepEqual(
      (await budgetsJson()).map((budget) => budget.backend),
      ['claude_code', 'codex'],
    );
  });

  it('bad budget input is one line, exit 2, and changes nothing', async () => {
    const before = await budgetsJson();
    const cases: Array<[string[], RegExp]> = [
      [
        ['budget', 'set', 'codex=20eur/day'],
        /budget set: "20eur\/day" is not an amount of US dollars per day/,
      ],
      [
        ['budget', 'set', 'codex=20usd/hour'],
        /is not an amount of US dollars per day; write it as NAME=20usd\/day/,
      ],
      [['budget', 'set', 'codex=-5'], /a budget is more than 0 US dollars per day, got "-5"/],
      [['budget', 'set', 'codex=0usd/day'], /a budget is more than 0 US dollars per day/],
      [['budget', 'set', 'codex'], /budget set takes NAME=20usd\/day .*got "codex"/],
      [['budget', 'set', 'bad name=5'], /budget set: the backend must be a name of/],
      [['budget', 'clear', 'bad name'], /budget clear: the backend must be a name of/],
      [['stats', '--days', '0'], /--days must be a positive integer, got "0"/],
      [['stats', '--days', '400'], /--days may be at most 366/],
    ];
    for (const [args, pattern] of cases) refused(await mittelo(args), pattern);
    assert.deepEqual(await budgetsJson(), before);
  });

  it('a backend over its budget gets no leases while another backend still does; status and stats say so', async () => {
    const client = connect();
    assert.equal((await client.setBudget({ backend: 'shell', usd_per_day: 1 })).usd_per_day, 1);
    await client.enqueueMany([
      ...Array.from({ length: 7 }, (_, i) => ({ prompt: `shell ${i}`, backend: 'shell' })),
      { prompt: 'echo 0', backend: 'echo' },
      { prompt: 'echo 1', backend: 'echo' },
    ]);
    const usage = { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 1000 };
    // reported, reported (no basis), estimated, unknown: 0.9 known; the next 0.4 takes it to 1.3.
    const costs: Array<{ cost_usd?: number; cost_basis?: 'reported' | 'estimated' | 'unknown' }> = [
      { cost_usd: 0.4, cost_basis: 'reported' },
      { cost_usd: 0.4 },
      { cost_usd: 0.1, cost_basis: 'estimated' },
      { cost_basis: 'unknown' },
      { cost_usd: 0.4, cost_basis: 'reported' },
    ];
    let lastId = 0;
    for (const [i, cost] of costs.entries()) {
      const { tasks } = await client.lease({ worker_id: 'shell-1', backend: 'shell', max_tasks: 1 });
      assert.equal(tasks.length, 1, `lease ${i} under the budget gets a task`);
      const task = tasks[0]!;
      lastId = task.task_id;
      await client.ack({
        task_id: task.task_id,
        status: 'done',
        result: 'ok',
        lease_token: task.lease_token,
        worker_id: 'shell-1',
        usage,
        ...cost,
      });
    }
    const acked = await client.get(lastId);
    assert.equal(acked.cost_usd, 0.4);
    assert.equal(acked.cost_basis, 'reported');

    // Over: two shell tasks wait, but a shell worker gets nothing; an echo worker still leases.
    assert.deepEqual((await client.lease({ worker_id: 'shell-2', backend: 'shell' })).tasks, []);
    const echo = (await client.lease({ worker_id: 'echo-1', backend: 'echo' })).tasks;
    assert.equal(echo.length, 1);
    await client.ack({
      task_id: echo[0]!.task_id,
      status: 'done',
      lease_token: echo[0]!.lease_token,
      cost_usd: 0.05,
      cost_basis: 'estimated',
    });

    const shell = (await client.budgets()).find((budget) => budget.backend === 'shell')!;
    assert.equal(shell.exhausted, true);
    near(shell.spent_today_usd, 1.3, 'spent_today_usd');
    assert.equal(shell.cost_unknown_today, 1);
    assert.equal((await client.budgets()).find((budget) => budget.backend === 'codex')!.exhausted, false);

    const now = Date.now() / 1000;
    const line = `shell budget spent: $1.30 of $1.00 today, 1 of unknown cost not counted; leasing again at ${shortClock(shell.resets_at, now)}`;
    assert.ok(
      ok(await mittelo(['status']))
        .split('\n')
        .includes(line),
      `status says: ${line}`,
    );
    assert.ok(
      ok(await mittelo(['budget']))
        .split('\n')
        .includes(line),
      `budget says: ${line}`,
    );
    const statusJson = JSON.parse(ok(await mittelo(['status', '--json']))) as { budgets: BudgetState[] };
    assert.equal(statusJson.budgets.find((budget) => budget.backend === 'shell')!.exhausted, true);

    // stats: the spend per backend today, and over --days.
    const spend = await client.spend();
    const today = spend.today;
    assert.match(today, /^\d{4}-\d{2}-\d{2}$/);
    const stats = ok(await mittelo(['stats']));
    assert.match(stats, /^done +6$/m);
    const todayLines = [
      `spend today (UTC ${today}):`,
      '  echo: 1 task, 0 tokens, $0.05 (estimated $0.05)',
      '  shell: 5 tasks, 5,600 tokens, $1.30 (estimated $0.10), 1 of unknown cost',
    ];
    assert.ok(stats.includes(`${todayLines.join('\n')}\n`), `stats shows today's spend:\n${stats}`);
    assert.doesNotMatch(stats, /spend over the last/);
    const week = ok(await mittelo(['stats', '--days', '7']));
    assert.match(week, /^spend over the last 7 days \(UTC, today included\):\n {2}echo: 1 task/m);
    const json = JSON.parse(ok(await mittelo(['stats', '--json']))) as {
      stats: { done: number };
      spend: { today: string; rows: SpendRow[] };
    };
    assert.equal(json.stats.done, 6);
    assert.equal(json.spend.today, today);
    const row = json.spend.rows.find((r) => r.backend === 'shell')!;
    assert.deepEqual(
      { ...row, cost_usd: Math.round(row.cost_usd * 100) / 100 },
      {
        day: today,
        backend: 'shell',
        tasks: 5,
        cost_usd: 1.3,
        estimated_usd: 0.1,
        cost_unknown: 1,
        input_tokens: 500,
        output_tokens: 100,
        cache_read_tokens: 5000,
        cache_write_tokens: 0,
      },
    );
    const restSpend = (await (await fetch(`${hub.restUrl}/spend?days=2`)).json()) as { rows: SpendRow[] };
    assert.deepEqual(restSpend.rows, (await client.spend({ days: 2 })).rows);

    // Clearing the budget lets a parked shell lease through. (The lease is sent first; should the
    // clear reach the hub before it, it is answered at once, which the assertion accepts too.)
    const parked = client.lease({ worker_id: 'shell-2', backend: 'shell', wait_ms: 30_000 });
    await connect().budgets();
    assert.equal(await client.clearBudget('shell'), true);
    assert.equal(
      (await parked).tasks.length,
      1,
      'the parked lease gets a shell task once the budget is gone',
    );
  });
});

describe('a hub without spend', () => {
  it('mittelo stats prints the counts alone, with no error; mittelo budget says the hub is too old', async () => {
    const v01 = await startV01Hub();
    try {
      const ran = await runCli(['stats', '--port', String(v01.port)]);
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, /^queued +0$/m);
      assert.doesNotMatch(ran.stdout, /spend/);
      assert.equal(ran.stderr, '');
      const json = JSON.parse(ok(await runCli(['stats', '--json', '--port', String(v01.port)])));
      assert.deepEqual(Object.keys(json), ['stats']);
      // `mittelo budget` cannot do without: one line, exit 4 (the hub refused).
      const budget = await runCli(['budget', '--port', String(v01.port)]);
      assert.equal(budget.code, 4, budget.stderr);
      assert.equal(
        budget.stderr,
        'mittelo: this hub keeps no budgets (it is older than spend budgets): upgrade it\n',
      );
    } finally {
      await v01.close();
    }
  });
});

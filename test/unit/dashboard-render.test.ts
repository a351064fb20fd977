/** The terminal dashboard's pure parts: what a snapshot looks like on a screen, and what keys do. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handleKey } from '../../src/cli/dashboard/keys.ts';
import { type DashboardView, renderDashboard } from '../../src/cli/dashboard/render.ts';
import { NO_FILTER, nextBackend, nextStatus, type Snapshot } from '../../src/cli/dashboard/snapshot.ts';
import { shortClock } from '../../src/cli/queue-control-lines.ts';
import type { SpendRow } from '../../src/protocol/model.ts';
import { makeAgent as agent, FIXTURE_NOW as NOW, makeTask as task } from '../helpers/fixtures.ts';

const BIG = { width: Number.POSITIVE_INFINITY, height: Number.POSITIVE_INFINITY };

function snapshot(fields: Partial<Snapshot> = {}): Snapshot {
  return {
    hub: '127.0.0.1:8765',
    taken_at: NOW,
    filter: NO_FILTER,
    stats: { queued: 2, leased: 1, done: 40, failed: 3, canceled: 0 },
    agents: [
      agent('w-1'),
      agent('w-2', {
        backend: 'codex',
        healthy: false,
        reason: 'codex: not logged in',
        fix: 'run `codex login`',
      }),
    ],
    queued_by_backend: null,
    pauses: null,
    tasks: [
      task(3, { status: 'failed', backend: 'codex', error: 'x', error_kind: 'auth' }),
      task(2),
      task(1),
    ],
    ...fields,
  };
}

function spendRow(backend: string | null, fields: Partial<SpendRow> = {}): SpendRow {
  return {
    day: '2027-01-15',
    backend,
    tasks: 0,
    cost_usd: 0,
    estimated_usd: 0,
    cost_unknown: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    ...fields,
  };
}

function view(fields: Partial<DashboardView> = {}): DashboardView {
  return {
    hub: '127.0.0.1:8765',
    now: NOW,
    connection: 'connected',
    problem: null,
    snapshot: snapshot(),
    filter: NO_FILTER,
    keys: null,
    ...fields,
  };
}

describe('dashboard render', () => {
  it('shows the hub, the state, the counters, the agents and the newest tasks', () => {
    const text = renderDashboard(view(), BIG).join('\n');
    const [header] = renderDashboard(view(), BIG);
    assert.match(header!, /^mittelö dashboard · hub 127\.0\.0\.1:8765 · \d\d:\d\d:\d\d · connected$/);
    assert.match(text, /^queued 2 · leased 1 · done 40 · failed 3 · canceled 0 · total 46$/m);
    assert.match(text, /^agents: 2 \(2 connected, 1 unhealthy\)$/m);
    assert.match(text, /^tasks, newest first: 3 of 46$/m);
    assert.match(text, /^3 +failed +codex .* auth: x$/m);
    assert.doesNotMatch(text, /STALE|not reachable|keys:/);
  });

  it('puts an unhealthy agent first, with its reason and fix', () => {
    const lines = renderDashboard(view(), BIG);
    const table = lines.findIndex((line) => line.startsWith('AGENT'));
    assert.match(lines[table + 1]!, /^w-2 +codex +connected +UNHEALTHY/);
    assert.match(lines[table + 2]!, /^w-1 +echo +connected +ok/);
    assert.equal(lines[table + 3], 'w-2: codex: not logged in');
    assert.equal(lines[table + 4], '  fix: run `codex login`');
  });

  it('shows a disconnected agent as disconnected since when, last, and not as healthy or unhealthy', () => {
    const agents = [
      agent('w-0', { connected: false, disconnected_at: NOW - 90, healthy: false, reason: 'old news' }),
      agent('w-1'),
      // A hub older than disconnected_at says only `connected`.
      agent('w-9', { connected: false, disconnected_at: undefined, last_contact: NOW - 5 }),
    ];
    const lines = renderDashboard(view({ snapshot: snapshot({ agents }) }), BIG);
    assert.ok(lines.includes('agents: 3 (1 connected, 0 unhealthy)'), lines.join('\n'));
    const table = lines.findIndex((line) => line.startsWith('AGENT'));
    assert.match(lines[table + 1]!, /^w-1 +echo +connected +ok/);
    assert.match(lines[table + 2]!, /^w-0 +echo +disconnected 1m ago +- /);
    assert.match(lines[table + 3]!, /^w-9 +echo +disconnected 5s ago +- /);
  });

  it('shows the filter, and counts only what the filter can count', () => {
    const filter = { status: 'failed' as const, backend: null, search: 'parser' };
    const text = renderDashboard(view({ filter, snapshot: snapshot({ filter }) }), BIG).join('\n');
    assert.match(text, /^filter: status failed · backend all · search "parser"$/m);
    assert.match(text, /^tasks, newest first: 3$/m, 'a search narrows beyond what the counts know');
    const none = renderDashboard(view({ filter, snapshot: snapshot({ filter, tasks: [] }) }), BIG);
    assert.ok(none.includes('tasks: none match the filter'));
    const changed = renderDashboard(view({ filter }), BIG).join('\n');
    assert.match(changed, /updating for the new filter/);
  });

  it('cuts every line to the width and the whole screen to the height, keeping the key line', () => {
    const many = Array.from({ length: 50 }, (_, i) => task(50 - i, { prompt: 'p'.repeat(200) }));
    const lines = renderDashboard(view({ snapshot: snapshot({ tasks: many }), keys: { search: null } }), {
      width: 40,
      height: 20,
    });
    assert.equal(lines.length, 20);
    for (const line of lines) assert.ok(line.length <= 40, `too wide: ${line}`);
    assert.ok(lines.some((line) => line.endsWith('…')));
    assert.match(lines.at(-1)!, /^keys: q quit · s status · b backend · \/…$/);
    assert.ok(lines.some((line) => /^tasks, newest first: \d+ of 46$/.test(line)));
    assert.ok(lines.includes('w-2: codex: not logged in'), 'the unhealthy agent stays in view');
  });

  it('shares a short screen: agents get half (more when tasks need less), problems first', () => {
    const agents = Array.from({ length: 30 }, (_, i) => agent(`w-${String(i).padStart(2, '0')}`));
    agents.push(agent('z-sick', { healthy: false, reason: 'broken', fix: 'mend it' }));
    const size = { width: 200, height: 30 };
    const few = renderDashboard(view({ snapshot: snapshot({ agents }) }), size);
    assert.equal(few.length, 30);
    const table = few.findIndex((line) => line.startsWith('AGENT'));
    assert.match(few[table + 1]!, /^z-sick/);
    assert.ok(few.includes('  fix: mend it'));
    assert.ok(few.some((line) => /^… \d+ more agent\(s\)$/.test(line)));
    assert.ok(few.includes('tasks, newest first: 3 of 46'), 'every task still shows');
    const tasks = Array.from({ length: 40 }, (_, i) => task(40 - i));
    const many = renderDashboard(view({ snapshot: snapshot({ agents, tasks }) }), size);
    assert.equal(many.length, 30);
    const agentRows = many.findIndex((line) => line.startsWith('tasks,')) - table;
    assert.ok(agentRows <= 12, `agents took ${agentRows} lines of 30`);
    assert.ok(many.some((line) => /^tasks, newest first: \d+ of 46$/.test(line)));
  });

  it('says the hub is not reachable, keeps the last snapshot and marks it stale', () => {
    const lines = renderDashboard(view({ connection: 'unreachable', now: NOW + 12 }), BIG);
    assert.match(lines[0]!, / · NOT REACHABLE$/);
    assert.equal(
      lines[1],
      'hub at 127.0.0.1:8765 is not reachable — retrying (start one with `mittelo hub`) · last snapshot 12s ago',
    );
    assert.match(lines[2]!, /^STALE: the snapshot below is from \d\d:\d\d:\d\d \(12s ago\)$/);
    assert.ok(lines.includes('queued 2 · leased 1 · done 40 · failed 3 · canceled 0 · total 46'));
  });

  it('before any snapshot: connecting, then not reachable with no snapshot yet', () => {
    const connecting = renderDashboard(view({ connection: 'connecting', snapshot: null }), BIG);
    assert.equal(connecting[1], 'connecting to the hub at 127.0.0.1:8765…');
    const down = renderDashboard(view({ connection: 'unreachable', snapshot: null }), BIG);
    assert.match(down[1]!, /not reachable — retrying .* · no snapshot yet$/);
    const error = renderDashboard(view({ connection: 'error', problem: 'no answer within 5s' }), BIG);
    assert.match(
      error[1]!,
      /^hub at 127\.0\.0\.1:8765: no answer within 5s — retrying · last snapshot 0s ago$/,
    );
  });

  it('says so when there are no agents or tasks, or the hub keeps no agent list', () => {
    const empty = renderDashboard(view({ snapshot: snapshot({ agents: [], tasks: [] }) }), BIG);
    assert.ok(empty.includes('agents: none — start one with `mittelo agent`'));
    assert.ok(empty.includes('tasks: none yet — add one with `mittelo enqueue`'));
    const old = renderDashboard(view({ snapshot: snapshot({ agents: null }) }), BIG);
    assert.ok(old.includes('agents: not reported (a v0.1 hub keeps no agent list)'));
  });

  it('names the routes with queued work and no healthy agent, with how to start one', () => {
    const queued = [
      { backend: null, queued: 4 },
      { backend: 'codex', queued: 3 },
      { backend: 'echo', queued: 1 },
      { backend: 'kimi', queued: 2 },
    ];
    const lines = renderDashboard(view({ snapshot: snapshot({ queued_by_backend: queued }) }), BIG);
    assert.ok(
      lines.includes('kimi: 2 queued, no agent connected — start one with `mittelo agent --backend kimi`'),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes(
        'codex: 3 queued, no healthy agent (1 unhealthy) — fix it, or start one with `mittelo agent --backend codex`',
      ),
    );
    // A healthy echo agent takes echo's tasks and the unrouted ones.
    assert.ok(!lines.some((line) => /^(echo|any backend): /.test(line)));
    const title = lines.indexOf('agents: 2 (2 connected, 1 unhealthy)');
    assert.match(lines[title + 1]!, /^codex: 3 queued/, 'right under the agents title');

    const alone = snapshot({ agents: [], queued_by_backend: [{ backend: null, queued: 4 }] });
    const none = renderDashboard(view({ snapshot: alone }), BIG);
    assert.ok(none.includes('any backend: 4 queued, no agent connected — start one with `mittelo agent`'));
    const gone = snapshot({
      agents: [agent('w-1', { connected: false })],
      queued_by_backend: [{ backend: 'echo', queued: 1 }],
    });
    assert.ok(
      renderDashboard(view({ snapshot: gone }), BIG).includes(
        'echo: 1 queued, no agent connected — start one with `mittelo agent --backend echo`',
      ),
      'a disconnected agent takes nothing',
    );
  });

  it('shows what is paused and how many queued tasks are scheduled under the counts, and scheduled rows', () => {
    const paused = snapshot({
      pauses: [
        { backend: null, paused_at: NOW - 60, until: null, reason: null },
        { backend: 'codex', paused_at: NOW - 30, until: NOW + 3600, reason: 'quota\nused up' },
      ],
      queued_by_backend: [
        { backend: null, queued: 2, scheduled: 1 },
        { backend: 'codex', queued: 3, scheduled: 0 },
      ],
      tasks: [
        task(5, { status: 'queued', worker_id: null, available_at: NOW + 90 }),
        task(4, { status: 'queued' }),
      ],
    });
    const lines = renderDashboard(view({ snapshot: paused }), BIG);
    const counts = lines.findIndex((line) => line.startsWith('queued 2 · '));
    const clock = (seconds: number) => shortClock(seconds, NOW);
    assert.match(clock(NOW), /^\d\d:\d\d$/, 'today: the time alone');
    assert.match(clock(NOW - 3 * 86_400), /^[A-Z][a-z]{2} \d{1,2} \d\d:\d\d$/, 'another day: with its date');
    assert.deepEqual(lines.slice(counts + 1, counts + 4), [
      `the whole queue paused, since ${clock(NOW - 60)}`,
      `codex paused until ${clock(NOW + 3600)} (quota used up), since ${clock(NOW - 30)}`,
      'scheduled: 1 of 5 queued tasks is not due yet',
    ]);
    assert.ok(
      lines.some((line) => /^5 +scheduled +- /.test(line)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((line) => /^4 +queued +- /.test(line)),
      lines.join('\n'),
    );
    const none = renderDashboard(view(), BIG);
    assert.ok(!none.some((line) => /^(paused|scheduled): /.test(line)), 'nothing is said when nothing waits');
  });

  it("shows each backend's spend today and its budget under the counts; an exhausted one says when leasing resumes", () => {
    const resets = NOW + 3 * 3600;
    const spent = snapshot({
      spend: {
        today: '2027-01-15',
        rows: [
          spendRow('claude_code', {
            tasks: 12,
            cost_usd: 12.4,
            estimated_usd: 0.4,
            cost_unknown: 1,
            input_tokens: 1_234_567,
            output_tokens: 45_000,
            cache_read_tokens: 80_000,
          }),
          spendRow('codex', { tasks: 2, cost_unknown: 2, input_tokens: 900, output_tokens: 120 }),
          spendRow(null, { tasks: 1, cost_usd: 0.001, input_tokens: 10, output_tokens: 5 }),
          // Yesterday's row (a `spend` with more days) is not today's spend.
          spendRow('gemini', { day: '2027-01-14', tasks: 99, cost_usd: 99 }),
        ],
      },
      budgets: [
        {
          backend: 'claude_code',
          usd_per_day: 20,
          spent_today_usd: 12.4,
          cost_unknown_today: 1,
          exhausted: false,
          resets_at: resets,
        },
        {
          backend: 'opencode',
          usd_per_day: 5,
          spent_today_usd: 5.25,
          cost_unknown_today: 0,
          exhausted: true,
          resets_at: resets,
        },
      ],
    });
    const lines = renderDashboard(view({ snapshot: spent }), BIG);
    const counts = lines.findIndex((line) => line.startsWith('queued 2 · '));
    assert.deepEqual(lines.slice(counts + 1, counts + 6), [
      'spend today: claude_code: 12 tasks, 1,359,567 tokens, $12.40 (estimated $0.40), 1 of unknown cost',
      'spend today: codex: 2 tasks, 1,020 tokens, $0.00, 2 of unknown cost',
      'spend today: no backend: 1 task, 15 tokens, $0.0010',
      'claude_code budget: $12.40 of $20.00 today, 1 of unknown cost not counted',
      `opencode budget spent: $5.25 of $5.00 today; leasing again at ${shortClock(resets, NOW)}`,
    ]);
    assert.ok(!lines.some((line) => line.includes('gemini')), lines.join('\n'));

    // A hub too old for spend and budgets (null), or a snapshot without the fields: no such lines.
    for (const old of [snapshot({ spend: null, budgets: null }), snapshot()]) {
      const text = renderDashboard(view({ snapshot: old }), BIG).join('\n');
      assert.doesNotMatch(text, /spend today|budget/);
    }
  });

  it('never lets text from the hub reach the terminal as control codes', () => {
    const evil = snapshot({
      agents: [agent('w-1', { healthy: false, reason: 'bad\x1b[2Jthing\x07', fix: null })],
    });
    for (const line of renderDashboard(view({ snapshot: evil }), BIG)) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none are left.
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]/);
    }
  });

  it('shows the search being typed on the key line', () => {
    const lines = renderDashboard(view({ keys: { search: 'pars' } }), BIG);
    assert.equal(lines.at(-1), 'search prompts: pars▏  (Enter apply · Esc cancel)');
  });
});

describe('dashboard keys', () => {
  const context = { draft: null, filter: NO_FILTER, backends: ['shell', 'codex'] };

  it('q and Ctrl-C quit; Ctrl-C also while typing a search', () => {
    assert.deepEqual(handleKey({ name: 'q', sequence: 'q' }, context).action, { type: 'quit' });
    assert.deepEqual(handleKey({ name: 'c', ctrl: true }, context).action, { type: 'quit' });
    assert.deepEqual(handleKey({ name: 'c', ctrl: true }, { ...context, draft: 'x' }).action, {
      type: 'quit',
    });
    assert.deepEqual(handleKey({ name: 'q', sequence: 'q' }, { ...context, draft: 'x' }), {
      draft: 'xq',
      action: { type: 'redraw' },
    });
  });

  it('s cycles the status filter through every status and back to all', () => {
    const seen: Array<string | null> = [];
    let status = nextStatus(null);
    while (status !== null) {
      seen.push(status);
      status = nextStatus(status);
    }
    assert.deepEqual(seen, ['queued', 'leased', 'done', 'failed', 'canceled']);
    const result = handleKey({ name: 's', sequence: 's' }, context);
    assert.deepEqual(result.action, { type: 'filter', filter: { ...NO_FILTER, status: 'queued' } });
  });

  it('b cycles the backends seen, in name order, then all', () => {
    assert.equal(nextBackend(null, ['shell', 'codex', 'shell']), 'codex');
    assert.equal(nextBackend('codex', ['shell', 'codex']), 'shell');
    assert.equal(nextBackend('shell', ['shell', 'codex']), null);
    assert.equal(nextBackend('gone', ['shell']), null);
    assert.equal(nextBackend(null, []), null);
    const result = handleKey({ name: 'b', sequence: 'b' }, context);
    assert.deepEqual(result.action, { type: 'filter', filter: { ...NO_FILTER, backend: 'codex' } });
  });

  it('/ starts a search, typing edits it, Enter applies it and Esc drops it', () => {
    let state = handleKey({ sequence: '/' }, context);
    assert.equal(state.draft, '');
    for (const ch of 'lexx')
      state = handleKey({ name: ch, sequence: ch }, { ...context, draft: state.draft });
    state = handleKey({ name: 'backspace', sequence: '\x7f' }, { ...context, draft: state.draft });
    assert.equal(state.draft, 'lex');
    const applied = handleKey({ name: 'return', sequence: '\r' }, { ...context, draft: state.draft });
    assert.deepEqual(applied, {
      draft: null,
      action: { type: 'filter', filter: { ...NO_FILTER, search: 'lex' } },
    });
    const canceled = handleKey({ name: 'escape', sequence: '\x1b' }, { ...context, draft: 'lex' });
    assert.deepEqual(canceled, { draft: null, action: { type: 'redraw' } });
    const cleared = handleKey(
      { name: 'return' },
      {
        ...context,
        filter: applied.action.type === 'filter' ? applied.action.filter : NO_FILTER,
        draft: '  ',
      },
    );
    assert.deepEqual(cleared.action, { type: 'filter', filter: NO_FILTER });
  });

  it('r refreshes; other keys do nothing', () => {
    assert.deepEqual(handleKey({ name: 'r', sequence: 'r' }, context).action, { type: 'refresh' });
    assert.deepEqual(handleKey({ name: 'x', sequence: 'x' }, context).action, { type: 'none' });
    assert.deepEqual(handleKey({ name: 'up', sequence: '\x1b[A' }, { ...context, draft: 'a' }).action, {
      type: 'none',
    });
  });
});

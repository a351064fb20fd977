// What each backend spent today (UTC day, by the hub's store clock) and its daily budget
// (docs/REST.md, "Spend and budgets"): tasks acked, tokens, known cost and how much of it is
// estimated from prices or unknown, and "budget spent — leasing again at 00:00" once a budget is
// used up. `mittelo stats` and `mittelo status` say the same (src/cli/budget-flags.ts).
import { useEffect, useState } from 'preact/hooks';
import { count } from './format.js';
import { html } from './html.js';
import { useLive, useThrottled } from './live.js';
import { compactCount } from './usage-tokens.js';

/** A budget set through the CLI sends no event, and a new UTC day starts without one: a poll catches both. */
const POLL_MS = 5000;
/** Spend changes with every ack: reloaded at most this often while tasks finish. */
const REFRESH_MS = 3000;
/** The events of an accepted ack, each of which adds to the day's spend. */
const ACK_EVENTS = new Set(['task.done', 'task.failed', 'task.requeued']);

/** `{today, rows, budgets}` from GET /spend?days=1 and GET /budgets; null until loaded or from an older hub. */
export function useSpend(api, live) {
  const [spend, setSpend] = useState(null);
  const load = () =>
    Promise.all([api.spend(1), api.budgets()]).then(
      ([answer, budgets]) => setSpend({ today: answer.today, rows: answer.rows, budgets }),
      () => {
        // an older hub (404), or the connection state says why: keep what is shown
      },
    );
  const refresh = useThrottled(load, REFRESH_MS);
  useEffect(() => {
    load();
    const timer = setInterval(load, POLL_MS);
    return () => clearInterval(timer);
  }, []);
  useLive(live, ({ events, reload }) => {
    if (reload || events.some((event) => ACK_EVENTS.has(event.event))) refresh();
  });
  return spend;
}

/** `$12.40`, `$0.0042` (small amounts keep two significant digits), `$1,204.50`: as formatUsd in src/cli/budget-flags.ts. */
export function usd(value) {
  if (value !== 0 && Math.abs(value) < 0.01) return `$${value.toPrecision(2)}`;
  return `$${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** `$1.23 est. · 2 unknown`; only `2 unknown` when no ack of the day had a known cost. */
export function describeCost(row) {
  if (row.tasks > 0 && row.cost_unknown === row.tasks) return `${count(row.cost_unknown)} unknown`;
  const estimated = row.estimated_usd > 0 ? ' est.' : '';
  const unknown = row.cost_unknown > 0 ? ` · ${count(row.cost_unknown)} unknown` : '';
  return `${usd(row.cost_usd)}${estimated}${unknown}`;
}

/** `12.3k in / 4.5k out`, with the cache counts only when there are any; `—` when none were reported. */
export function describeTokens(row) {
  const total = row.input_tokens + row.output_tokens + row.cache_read_tokens + row.cache_write_tokens;
  if (total === 0) return '—';
  const parts = [`${compactCount(row.input_tokens)} in`, `${compactCount(row.output_tokens)} out`];
  const cache = row.cache_read_tokens + row.cache_write_tokens;
  return cache > 0 ? `${parts.join(' / ')} (+${compactCount(cache)} cache)` : parts.join(' / ');
}

/** `16:00`: when an exhausted budget lets leasing start again, in the browser's time zone. */
function resetTime(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
}

/** `$12.40 of $20.00 today`, or that it is spent and when leasing starts again. */
export function describeBudget(budget) {
  if (budget.exhausted) return `budget spent — leasing again at ${resetTime(budget.resets_at)}`;
  return `${usd(budget.spent_today_usd)} of ${usd(budget.usd_per_day)} today`;
}

const EMPTY_ROW = {
  tasks: 0,
  cost_usd: 0,
  estimated_usd: 0,
  cost_unknown: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
};

/** One line per backend that spent today or has a budget, by name (no backend last). */
function backendLines(spend) {
  const lines = new Map();
  for (const row of spend.rows) {
    if (row.day === spend.today) lines.set(row.backend, { backend: row.backend, row, budget: null });
  }
  for (const budget of spend.budgets) {
    const line = lines.get(budget.backend) ?? { backend: budget.backend, row: EMPTY_ROW, budget: null };
    lines.set(budget.backend, { ...line, budget });
  }
  return [...lines.values()].sort((a, b) =>
    a.backend === null ? 1 : b.backend === null ? -1 : a.backend.localeCompare(b.backend),
  );
}

function BudgetCell({ budget }) {
  if (!budget) return html`<td class="budget muted">no budget</td>`;
  // Past the budget the bar stays full: a task that was running when it ran out may add more.
  const value = Math.min(budget.spent_today_usd, budget.usd_per_day);
  return html`
    <td class=${`budget${budget.exhausted ? ' exhausted' : ''}`}>
      <span class="budget-text">${describeBudget(budget)}</span>
      <meter
        min="0"
        max=${budget.usd_per_day}
        value=${value}
        high=${budget.usd_per_day * 0.8}
        optimum="0"
        title=${`${usd(budget.spent_today_usd)} of ${usd(budget.usd_per_day)} a day`}
      ></meter>
    </td>
  `;
}

/** Under the counters and throughput: today's spend per backend, and the budgets. Hidden by a hub without spend. */
export function Spend({ spend }) {
  if (!spend) return null;
  const lines = backendLines(spend);
  return html`
    <section class="panel spend" aria-label="Spend">
      <header class="panel-head">
        <h2>Spend</h2>
        <span class="muted" data-testid="spend-day">today (UTC ${spend.today})</span>
      </header>
      ${
        lines.length === 0
          ? html`<p class="muted">Nothing acked today.</p>`
          : html`
            <div class="table-wrap">
              <table class="spend-table">
                <thead>
                  <tr><th>Backend</th><th class="num">Tasks</th><th>Tokens</th><th>Cost</th><th>Budget</th></tr>
                </thead>
                <tbody>
                  ${lines.map(
                    ({ backend, row, budget }) => html`
                      <tr key=${backend ?? ''} data-backend=${backend ?? ''}>
                        <td class="backend">${backend ?? 'no backend'}</td>
                        <td class="tasks num">${count(row.tasks)}</td>
                        <td
                          class="tokens"
                          title=${`${count(row.input_tokens)} in, ${count(row.output_tokens)} out, ${count(row.cache_read_tokens)} cache read, ${count(row.cache_write_tokens)} cache write`}
                        >
                          ${describeTokens(row)}
                        </td>
                        <td class="cost" title=${row.estimated_usd > 0 ? `${usd(row.estimated_usd)} of it estimated from list prices` : ''}>
                          ${describeCost(row)}
                        </td>
                        <${BudgetCell} budget=${budget} />
                      </tr>
                    `,
                  )}
                </tbody>
              </table>
            </div>
          `
      }
    </section>
  `;
}

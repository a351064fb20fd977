// Task counts per status: loaded from GET /stats, refreshed (throttled) as task events arrive.
import { useEffect, useState } from 'preact/hooks';
import { count } from './format.js';
import { html } from './html.js';
import { useLive, useThrottled } from './live.js';

export const STATUSES = ['queued', 'leased', 'done', 'failed', 'canceled'];

/** Some changes send no event (retry_failed): a slow poll catches those. */
const POLL_MS = 10_000;

export function useLiveStats(api, live) {
  const [stats, setStats] = useState(null);
  const load = () =>
    api.stats().then(setStats, () => {
      // the connection state says why; the last counts stay on screen
    });
  const refresh = useThrottled(load, 500);
  useEffect(() => {
    load();
    const timer = setInterval(load, POLL_MS);
    return () => clearInterval(timer);
  }, []);
  useLive(live, ({ events, reload }) => {
    if (reload || events.some((event) => event.task)) refresh();
  });
  return stats;
}

/** One card per status; clicking one filters the task list by it (again: shows all). */
export function Counters({ stats, selected, onPick }) {
  const total = stats ? STATUSES.reduce((sum, status) => sum + (stats[status] ?? 0), 0) : null;
  return html`
    <section class="counters" aria-label="Tasks by status">
      ${STATUSES.map(
        (status) => html`
          <button
            type="button"
            class=${`counter counter-${status}${selected === status ? ' selected' : ''}`}
            data-status=${status}
            aria-pressed=${selected === status}
            title=${`Show ${status} tasks`}
            onClick=${() => onPick(selected === status ? '' : status)}
          >
            <span class="counter-value">${stats ? count(stats[status]) : '…'}</span>
            <span class="counter-label">${status}</span>
          </button>
        `,
      )}
      <button
        type="button"
        class=${`counter counter-total${selected ? '' : ' selected'}`}
        data-status="total"
        title="Show all tasks"
        onClick=${() => onPick('')}
      >
        <span class="counter-value">${total === null ? '…' : count(total)}</span>
        <span class="counter-label">total</span>
      </button>
    </section>
  `;
}

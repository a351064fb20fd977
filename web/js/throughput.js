// Tasks finished (and failed) per minute over the last hour or day, from the hub's own history
// (GET /stats/history: the hub counts per minute in memory), so the chart shows what happened
// before the page opened. Task events that arrive later are counted on top until the history is
// read again (throttled after events, and every minute), by the hub's clock (the events' `time`),
// so the browser's clock need not agree with the hub's. Drawn as a small inline SVG.
import { useEffect, useRef, useState } from 'preact/hooks';
import { clockTime, count } from './format.js';
import { html } from './html.js';
import { useLive, useNow, useThrottled } from './live.js';

const RANGES = {
  hour: { label: '1 h', minutes: 60, bucketMinutes: 1, from: '60 min ago', per: 'min' },
  day: { label: '24 h', minutes: 24 * 60, bucketMinutes: 15, from: '24 h ago', per: '15 min' },
};
/** Which history counter a task event moves (as the hub counts, src/hub/throughput-history.ts). */
const COUNTER_OF = { 'task.done': 'done', 'task.failed': 'failed', 'task.enqueued': 'enqueued' };
const RELOAD_MS = 60_000;
const RELOAD_AFTER_EVENTS_MS = 5000;
const WIDTH = 600;
const HEIGHT = 100;

const empty = () => ({ done: 0, failed: 0, enqueued: 0 });

/** The hub's history, and the events since it was read: `{history, later, receivedAt}`. */
function useHistory(api, live) {
  const [state, setState] = useState({ history: null, receivedAt: 0 });
  // Events newer than the history answer: [time (hub's Unix seconds), counter].
  const later = useRef([]);
  const [, setVersion] = useState(0);
  const load = () =>
    api.statsHistory().then(
      (history) => {
        later.current = later.current.filter(([time]) => time > history.now);
        setState({ history, receivedAt: Date.now() });
      },
      () => {
        // the connection state says why; the chart keeps what it has
      },
    );
  const refresh = useThrottled(load, RELOAD_AFTER_EVENTS_MS);
  useEffect(() => {
    load();
    const timer = setInterval(load, RELOAD_MS);
    return () => clearInterval(timer);
  }, []);
  useLive(live, ({ events, reload }) => {
    if (reload) return refresh();
    let counted = false;
    for (const event of events) {
      const counter = COUNTER_OF[event.event];
      if (!counter) continue;
      later.current.push([event.time, counter]);
      counted = true;
    }
    if (!counted) return;
    setVersion((v) => v + 1);
    refresh();
  });
  return { ...state, later: later.current };
}

/** Per-bucket counts, oldest first, ending with the bucket of `nowSeconds` (hub clock). */
function bucketsOf(history, later, range, nowSeconds) {
  const size = range.bucketMinutes * 60;
  const last = Math.floor(nowSeconds / size);
  const first = last - range.minutes / range.bucketMinutes + 1;
  const buckets = Array.from({ length: last - first + 1 }, empty);
  const add = (seconds, counter, n) => {
    const index = Math.floor(seconds / size) - first;
    if (index >= 0 && index < buckets.length) buckets[index][counter] += n;
  };
  for (const minute of history?.minutes ?? []) {
    for (const counter of ['done', 'failed', 'enqueued']) add(minute.start, counter, minute[counter]);
  }
  for (const [time, counter] of later) add(time, counter, 1);
  return buckets;
}

export function Throughput({ api, live }) {
  const [rangeName, setRangeName] = useState('hour');
  const range = RANGES[rangeName];
  const { history, receivedAt, later } = useHistory(api, live);
  const now = useNow(5000);
  // The hub's clock now: its answer's time plus what passed here since.
  const hubNow = history ? history.now + (Math.max(now, Date.now()) - receivedAt) / 1000 : Date.now() / 1000;
  const buckets = bucketsOf(history, later, range, hubNow);
  const finished = (b) => b.done + b.failed;
  const peak = Math.max(1, ...buckets.map(finished));
  const line = (pick) =>
    buckets
      .map(
        (b, i) =>
          `${((i / Math.max(1, buckets.length - 1)) * WIDTH).toFixed(1)},${(HEIGHT - (pick(b) / peak) * HEIGHT).toFixed(1)}`,
      )
      .join(' ');
  const total = buckets.reduce((sum, b) => sum + finished(b), 0);
  const failed = buckets.reduce((sum, b) => sum + b.failed, 0);
  const enqueued = buckets.reduce((sum, b) => sum + b.enqueued, 0);
  const windowStart = hubNow - range.minutes * 60;
  const whose =
    history?.scope === 'fleet' ? 'this hub (with what the other hubs on its database told it)' : 'the hub';

  return html`
    <section class="panel throughput" aria-label="Throughput">
      <header class="panel-head">
        <h2>Throughput</h2>
        <span class="muted">
          <span data-testid="finished">${count(total)}</span> finished (${count(failed)} failed),
          ${' '}${count(enqueued)} enqueued in the last ${range.label}
        </span>
        <span class="spacer"></span>
        <span class="range" role="group" aria-label="Time range">
          ${Object.entries(RANGES).map(
            ([name, r]) => html`<button
              type="button"
              class=${`small${name === rangeName ? ' selected' : ''}`}
              aria-pressed=${name === rangeName}
              data-range=${name}
              onClick=${() => setRangeName(name)}
            >
              ${r.label}
            </button>`,
          )}
        </span>
      </header>
      <div class="chart">
        <span class="chart-peak muted">${count(peak)} / ${range.per}</span>
        <svg
          viewBox=${`0 0 ${WIDTH} ${HEIGHT}`}
          preserveAspectRatio="none"
          role="img"
          aria-label=${`Tasks finished per ${range.per}, last ${range.label}`}
        >
          <line class="grid" x1="0" y1=${HEIGHT / 2} x2=${WIDTH} y2=${HEIGHT / 2} vector-effect="non-scaling-stroke" />
          <polyline class="line-total" points=${line(finished)} vector-effect="non-scaling-stroke" />
          <polyline class="line-failed" points=${line((b) => b.failed)} vector-effect="non-scaling-stroke" />
        </svg>
        <div class="chart-axis muted">
          <span>${range.from}</span>
          <span class="legend"><i class="swatch swatch-total"></i>finished <i class="swatch swatch-failed"></i>failed</span>
          <span>now</span>
        </div>
      </div>
      ${
        history &&
        history.since > windowStart &&
        html`<p class="hint" data-testid="history-since">
          Counted by ${whose} since it started at ${clockTime(history.since)}.
        </p>`
      }
    </section>
  `;
}

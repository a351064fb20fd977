// Tasks finished per 5 s over the last minutes, counted from task.done / task.failed events as
// they arrive, drawn as a small inline SVG (no chart library).
import { useRef, useState } from 'preact/hooks';
import { count } from './format.js';
import { html } from './html.js';
import { useLive, useNow } from './live.js';

const BUCKET_MS = 5000;
const BUCKETS = 120; // 10 minutes
const WIDTH = 600;
const HEIGHT = 100;

export function Throughput({ live }) {
  // bucket number (ms / BUCKET_MS) -> {done, failed}; bucketed by arrival time, so the browser's
  // clock and the hub's need not agree.
  const buckets = useRef(new Map());
  const openedAt = useRef(Date.now());
  const [, setVersion] = useState(0);
  const now = useNow(BUCKET_MS);

  useLive(live, ({ events }) => {
    let changed = false;
    const bucket = Math.floor(Date.now() / BUCKET_MS);
    for (const event of events) {
      if (event.event !== 'task.done' && event.event !== 'task.failed') continue;
      const counts = buckets.current.get(bucket) ?? { done: 0, failed: 0 };
      counts[event.event === 'task.done' ? 'done' : 'failed'] += 1;
      buckets.current.set(bucket, counts);
      changed = true;
    }
    if (!changed) return;
    for (const key of buckets.current.keys()) if (key <= bucket - BUCKETS) buckets.current.delete(key);
    setVersion((v) => v + 1);
  });

  const last = Math.floor(Math.max(now, Date.now()) / BUCKET_MS);
  const series = [];
  for (let i = BUCKETS - 1; i >= 0; i--) series.push(buckets.current.get(last - i) ?? { done: 0, failed: 0 });
  const peak = Math.max(1, ...series.map((b) => b.done + b.failed));
  const line = (pick) =>
    series
      .map(
        (b, i) =>
          `${((i / (BUCKETS - 1)) * WIDTH).toFixed(1)},${(HEIGHT - (pick(b) / peak) * HEIGHT).toFixed(1)}`,
      )
      .join(' ');
  const lastMinute = series.slice(-60_000 / BUCKET_MS).reduce((sum, b) => sum + b.done + b.failed, 0);
  const watchedMinutes = Math.min(10, Math.ceil((Date.now() - openedAt.current) / 60_000));

  return html`
    <section class="panel throughput" aria-label="Throughput">
      <header class="panel-head">
        <h2>Throughput</h2>
        <span class="muted" data-testid="rate">${count(lastMinute)} finished in the last minute</span>
      </header>
      <div class="chart">
        <span class="chart-peak muted">${count(peak)} / 5 s</span>
        <svg viewBox=${`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label="Tasks finished per 5 seconds, last 10 minutes">
          <line class="grid" x1="0" y1=${HEIGHT / 2} x2=${WIDTH} y2=${HEIGHT / 2} vector-effect="non-scaling-stroke" />
          <polyline class="line-total" points=${line((b) => b.done + b.failed)} vector-effect="non-scaling-stroke" />
          <polyline class="line-failed" points=${line((b) => b.failed)} vector-effect="non-scaling-stroke" />
        </svg>
        <div class="chart-axis muted">
          <span>10 min ago</span>
          <span class="legend"><i class="swatch swatch-total"></i>finished <i class="swatch swatch-failed"></i>failed</span>
          <span>now</span>
        </div>
      </div>
      ${watchedMinutes < 10 && html`<p class="hint">Counted since this page opened (${watchedMinutes} min).</p>`}
    </section>
  `;
}

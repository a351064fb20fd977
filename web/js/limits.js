// Caps on leasing (docs/REST.md, "Limits"): per backend or tag, how many tasks are leased under
// the cap and how many wait for a slot. The words are those of `mittelo status`
// (src/cli/limit-flags.ts).
import { useEffect, useState } from 'preact/hooks';
import { count } from './format.js';
import { html } from './html.js';
import { useLive, useThrottled } from './live.js';

/** A cap changed elsewhere (the CLI, another hub) sends no event: a poll catches it. */
const POLL_MS = 3000;

/** The caps with their use (GET /limits), null until loaded or from a hub without caps. */
export function useLimits(api, live) {
  const [limits, setLimits] = useState(null);
  const load = () =>
    api.limits().then(setLimits, () => {
      // an older hub (404), or the connection state says why: keep what is shown
    });
  const refresh = useThrottled(load, 500);
  useEffect(() => {
    load();
    const timer = setInterval(load, POLL_MS);
    return () => clearInterval(timer);
  }, []);
  useLive(live, () => refresh());
  return limits;
}

/** `claude_code: 3/3 leased (cap 3), 12 wait for a slot` */
export function describeLimit(cap) {
  const leased =
    cap.concurrency === null
      ? `${count(cap.leased)} leased`
      : `${count(cap.leased)}/${count(cap.concurrency)} leased`;
  const rate = cap.rate_per_min === null ? '' : `, ${count(cap.started_last_min)} started in the last minute`;
  const caps = [
    cap.concurrency !== null && `cap ${cap.concurrency}`,
    cap.rate_per_min !== null && `${cap.rate_per_min}/min`,
  ];
  const full =
    (cap.concurrency !== null && cap.leased >= cap.concurrency) ||
    (cap.rate_per_min !== null && cap.started_last_min >= Math.floor(cap.rate_per_min));
  const waiting =
    cap.waiting === 0
      ? ''
      : full
        ? `, ${count(cap.waiting)} wait for a slot`
        : `, ${count(cap.waiting)} queued`;
  return `${cap.scope}: ${leased}${rate} (${caps.filter(Boolean).join(', ')})${waiting}`;
}

/** Above the counters, only when a cap is set. */
export function Limits({ limits }) {
  if (!limits || limits.length === 0) return null;
  return html`
    <section class="panel queue-control" aria-label="Caps on leasing" role="status">
      <ul class="limits">
        ${limits.map((cap) => html`<li class="limit" key=${cap.scope} data-limit=${cap.scope}>${describeLimit(cap)}</li>`)}
      </ul>
    </section>
  `;
}

// Pauses and scheduled tasks (docs/REST.md, "Pause and resume"): what is paused, since when and
// why, with a Resume button; how many queued tasks are not due yet; and the status a task is shown
// with (a queued task not due yet is "scheduled"). The words are those of `mittelo status`
// (src/cli/queue-control-lines.ts).
import { useEffect, useState } from 'preact/hooks';
import { clock, count } from './format.js';
import { html } from './html.js';
import { useLive, useThrottled } from './live.js';

/** A pause given elsewhere (the CLI, another hub) sends no event: a poll catches it. */
const POLL_MS = 3000;

/** `scheduled` for a queued task not due yet (a not_before or delay, a retry backoff), else its status. */
export function shownStatus(task, nowMs) {
  return task.status === 'queued' && task.available_at * 1000 > nowMs ? 'scheduled' : task.status;
}

/** The pauses in force (GET /pauses), null until loaded or from a hub that cannot pause. */
export function usePauses(api, live) {
  const [pauses, setPauses] = useState(null);
  const load = () =>
    api.pauses().then(setPauses, () => {
      // an older hub (404), or the connection state says why: keep what is shown
    });
  const refresh = useThrottled(load, 500);
  useEffect(() => {
    load();
    const timer = setInterval(load, POLL_MS);
    return () => clearInterval(timer);
  }, []);
  useLive(live, ({ reload }) => {
    if (reload) refresh();
  });
  return { pauses, reload: refresh };
}

/** `HH:MM` today, with the date another day. */
function shortClock(seconds) {
  const at = new Date(seconds * 1000);
  const time = at.toTimeString().slice(0, 5);
  return at.toDateString() === new Date().toDateString()
    ? time
    : `${at.toLocaleDateString('en', { month: 'short', day: 'numeric' })} ${time}`;
}

function PauseLine({ pause, api, notify, onResumed }) {
  const [busy, setBusy] = useState(false);
  const name = pause.backend ?? 'the whole queue';
  const resume = async () => {
    setBusy(true);
    try {
      await api.resume(pause.backend);
      notify('ok', `Resumed ${name}`);
      onResumed();
    } catch (error) {
      notify('error', `Could not resume ${name}: ${error.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <li class="pause" data-pause=${pause.backend ?? ''}>
      <span>
        <strong>${name} paused</strong>
        ${pause.until !== null && html`<span title=${clock(pause.until)}> until ${shortClock(pause.until)}</span>`}
        ${pause.reason && html`<span class="reason"> (${pause.reason})</span>`}
        <span class="muted" title=${clock(pause.paused_at)}>, since ${shortClock(pause.paused_at)}</span>
      </span>
      <button type="button" class="small" disabled=${busy} onClick=${resume}>Resume</button>
    </li>
  `;
}

/** Above the counters, only when something is paused or scheduled. */
export function QueueControl({ pauses, scheduled, api, notify, onResumed }) {
  const list = pauses ?? [];
  if (list.length === 0 && !scheduled) return null;
  return html`
    <section class="panel queue-control" aria-label="Paused and scheduled" role="status">
      ${
        list.length > 0 &&
        html`<ul class="pauses">
          ${list.map(
            (pause) =>
              html`<${PauseLine} key=${pause.backend ?? ''} pause=${pause} api=${api} notify=${notify} onResumed=${onResumed} />`,
          )}
        </ul>`
      }
      ${
        scheduled > 0 &&
        html`<p class="scheduled" data-testid="scheduled">
          ${count(scheduled)} queued task${scheduled === 1 ? ' is' : 's are'} scheduled: not due yet
        </p>`
      }
    </section>
  `;
}

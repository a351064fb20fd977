// The task list: filtered and searched on the hub, a page at a time (newest first, paged by
// before_id), so a hub with 100,000 tasks sends 50. Events update the rows shown at once; the
// first page is also reloaded (throttled) so new tasks appear at the top.
import { useEffect, useRef, useState } from 'preact/hooks';
import { TaskActions } from './actions.js';
import { STATUSES } from './counters.js';
import { ago, count, firstLine } from './format.js';
import { html } from './html.js';
import { useDebounced, useLive, useNow, useThrottled } from './live.js';
import { shownStatus } from './queue-control.js';
import { DiffBadge } from './task-diff.js';

const PAGE = 50;
const POLL_MS = 10_000;

export function StatusBadge({ status }) {
  return html`<span class=${`status status-${status}`}>${status}</span>`;
}

export function TaskList({ api, live, stats, query, onQuery, selectedId, onSelect, notify, onDone }) {
  const key = JSON.stringify(query);
  // before_id of each page after the first; a new filter starts again at the first page.
  const [paging, setPaging] = useState({ key, cursors: [] });
  const cursors = paging.key === key ? paging.cursors : [];
  const beforeId = cursors.at(-1);
  // The rows shown and the query + page they answer: until the answer to a new one arrives, the
  // old rows stay (marked busy) and the pager waits, so "Older" never pages from stale rows.
  const [page, setPage] = useState({ shows: null, tasks: null, hasOlder: false, error: null });
  const shows = `${key}|${beforeId ?? ''}`;
  const busy = page.shows !== shows;
  const latestRequest = useRef(0);
  const now = useNow(5000);

  const load = () => {
    const request = ++latestRequest.current;
    const asked = shows;
    api.listTasks({ ...query, before_id: beforeId, limit: PAGE + 1 }).then(
      (answer) => {
        if (request !== latestRequest.current) return;
        setPage({
          shows: asked,
          tasks: answer.tasks.slice(0, PAGE),
          hasOlder: answer.tasks.length > PAGE,
          error: null,
        });
      },
      (error) => {
        if (request !== latestRequest.current) return;
        setPage((current) => ({ ...current, error: error.message }));
      },
    );
  };
  const refresh = useThrottled(load, 1000);
  useEffect(load, [key, beforeId]);
  // Some changes send no event (retry_failed from another client): a slow poll catches those.
  useEffect(() => {
    const timer = setInterval(refresh, POLL_MS);
    return () => clearInterval(timer);
  }, []);

  useLive(live, ({ events, reload }) => {
    if (reload) return refresh();
    const changed = new Map();
    for (const event of events) if (event.task) changed.set(event.task.task_id, event.task);
    if (changed.size === 0) return;
    setPage((current) =>
      current.tasks
        ? { ...current, tasks: current.tasks.map((task) => changed.get(task.task_id) ?? task) }
        : current,
    );
    if (cursors.length === 0) refresh();
  });

  const filtered = Boolean(query.backend || query.search);
  const total =
    stats && !filtered
      ? query.status
        ? stats[query.status]
        : STATUSES.reduce((sum, status) => sum + (stats[status] ?? 0), 0)
      : null;
  const first = cursors.length * PAGE + 1;
  const shown = page.tasks?.length ?? 0;
  // The Change column only when a task shown ran in a worktree (most queues never do).
  const changes = (page.tasks ?? []).some((task) => task.worktree);

  return html`
    <section class="panel tasks" aria-label="Tasks" aria-busy=${busy ? 'true' : 'false'}>
      <header class="panel-head">
        <h2>Tasks</h2>
        <${Filters} query=${query} onQuery=${onQuery} />
      </header>
      ${page.error && html`<p class="error" role="alert">Could not load the tasks: ${page.error}</p>`}
      ${
        page.tasks === null
          ? html`<p class="muted">Loading…</p>`
          : shown === 0
            ? html`<p class="muted empty">
                ${filtered || query.status ? 'No task matches these filters.' : 'No tasks yet: enqueue one above.'}
              </p>`
            : html`
                <div class="table-wrap">
                  <table class=${`task-table${busy ? ' stale' : ''}`}>
                    <thead>
                      <tr>
                        <th class="num">#</th>
                        <th>Status</th>
                        <th>Backend</th>
                        ${changes && html`<th>Change</th>`}
                        <th>Prompt</th>
                        <th>Worker</th>
                        <th class="num">Attempts</th>
                        <th>Updated</th>
                        <th></th>
                      </tr>
                    </thead>
                    <tbody>
                      ${page.tasks.map(
                        (task) => html`
                          <tr
                            key=${task.task_id}
                            data-task-id=${task.task_id}
                            class=${`clickable${task.task_id === selectedId ? ' selected' : ''}`}
                            onClick=${() => onSelect(task.task_id)}
                          >
                            <td class="num">${task.task_id}</td>
                            <td><${StatusBadge} status=${shownStatus(task, now)} /></td>
                            <td>${task.backend ?? html`<span class="muted">any</span>`}</td>
                            ${
                              changes &&
                              html`<td class="change nowrap">
                                <${DiffBadge} task=${task} onOpen=${() => onSelect(task.task_id, { section: 'diff' })} />
                              </td>`
                            }
                            <td class="prompt" title=${firstLine(task.prompt, 500)}>${firstLine(task.prompt)}</td>
                            <td class="nowrap">${task.worker_id ?? ''}</td>
                            <td class="num">${task.attempts}/${task.max_attempts}</td>
                            <td class="nowrap" title=${new Date(task.updated_at * 1000).toLocaleString()}>${ago(task.updated_at, now)}</td>
                            <td class="row-actions">
                              <${TaskActions} api=${api} task=${task} notify=${notify} onDone=${onDone} />
                            </td>
                          </tr>
                        `,
                      )}
                    </tbody>
                  </table>
                </div>
              `
      }
      <footer class="pager">
        <button
          type="button"
          disabled=${busy || cursors.length === 0}
          onClick=${() => setPaging({ key, cursors: cursors.slice(0, -1) })}
        >
          ← Newer
        </button>
        <span class="muted" data-testid="page-info">
          ${shown > 0 ? `${count(first)}–${count(first + shown - 1)}` : 'none'}${total === null ? '' : ` of ${count(total)}`}
        </span>
        <button
          type="button"
          disabled=${busy || !page.hasOlder}
          onClick=${() => setPaging({ key, cursors: [...cursors, page.tasks.at(-1).task_id] })}
        >
          Older →
        </button>
      </footer>
    </section>
  `;
}

/** Status, backend and prompt search; typed text reaches the hub 300 ms after typing stops. */
function Filters({ query, onQuery }) {
  const [text, setText] = useState({ backend: query.backend, search: query.search });
  const settled = useDebounced(text, 300);
  useEffect(() => {
    if (settled.backend !== query.backend || settled.search !== query.search)
      onQuery({ ...query, ...settled });
  }, [settled]);
  return html`
    <div class="filters" role="search">
      <label>
        <span class="sr-only">Status</span>
        <select name="status" value=${query.status} onChange=${(e) => onQuery({ ...query, status: e.currentTarget.value })}>
          <option value="">all statuses</option>
          ${STATUSES.map((status) => html`<option value=${status}>${status}</option>`)}
        </select>
      </label>
      <label>
        <span class="sr-only">Backend</span>
        <input
          name="backend-filter"
          list="known-backends"
          placeholder="any backend"
          value=${text.backend}
          onInput=${(e) => setText({ ...text, backend: e.currentTarget.value.trim() })}
        />
      </label>
      <label>
        <span class="sr-only">Search prompts</span>
        <input
          name="search"
          type="search"
          placeholder="search prompts"
          value=${text.search}
          onInput=${(e) => setText({ ...text, search: e.currentTarget.value })}
        />
      </label>
    </div>
  `;
}

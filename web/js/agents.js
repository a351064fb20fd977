// The agents the hub knows (GET /agents): agent events update them at once; their counters and
// last contact change without events, so they are reloaded after task events and every few seconds.
// The same answer counts queued tasks per backend: routes with work and no healthy agent are shown
// above the table (as `mittelo status` does, src/cli/idle-routes.ts), worked out from one answer
// (agents and counts of the same moment), so an agent event alone never shows a stale route.
import { useEffect, useState } from 'preact/hooks';
import { ago, clock, clockTime, count } from './format.js';
import { html } from './html.js';
import { useLive, useNow, useThrottled } from './live.js';

const POLL_MS = 5000;
/** An agent that never said hello (v0.1) counts as there while it keeps polling. */
const HELLO_LESS_PRESENT_S = 60;

/**
 * `{agents, idle, scheduled}`: the agents (null until loaded), the routes with queued work and no
 * healthy agent, and how many queued tasks are not due yet (queue-control.js shows them).
 */
export function useLiveAgents(api, live) {
  const [agents, setAgents] = useState(null);
  const [idle, setIdle] = useState([]);
  const [scheduled, setScheduled] = useState(0);
  const load = () =>
    api.agentsReport().then(
      (answer) => {
        setAgents(answer.agents);
        // An older hub does not count queued tasks per backend: then nothing is said.
        const queued = answer.queued_by_backend ?? [];
        setIdle(idleRoutes(queued, answer.agents, Date.now() / 1000));
        setScheduled(queued.reduce((sum, route) => sum + (route.scheduled ?? 0), 0));
      },
      () => {
        // the connection state says why; keep what is shown
      },
    );
  const refresh = useThrottled(load, 1000);
  useEffect(() => {
    load();
    const timer = setInterval(load, POLL_MS);
    return () => clearInterval(timer);
  }, []);
  useLive(live, ({ events, reload }) => {
    if (reload) return refresh();
    const updates = events.filter((event) => event.agent);
    if (updates.length > 0) {
      setAgents((current) => {
        const byId = new Map((current ?? []).map((agent) => [agent.worker_id, agent]));
        for (const { agent } of updates) byId.set(agent.worker_id, agent);
        return [...byId.values()];
      });
    }
    // Any task event (enqueued too) changes the queued counts; an agent event who can take them.
    if (updates.length > 0 || events.some((event) => event.task)) refresh();
  });
  return { agents, idle, scheduled };
}

/** Routes with queued tasks that no healthy agent there can take (see src/cli/idle-routes.ts). */
export function idleRoutes(queued, agents, nowSeconds) {
  const present = (agent) =>
    agent.connected || (agent.client === null && nowSeconds - agent.last_contact < HELLO_LESS_PRESENT_S);
  const idle = [];
  for (const route of queued) {
    if (route.queued <= 0) continue;
    const able = agents.filter(
      (agent) => present(agent) && (route.backend === null || agent.backend === route.backend),
    );
    if (able.some((agent) => agent.healthy)) continue;
    idle.push({ backend: route.backend, queued: route.queued, unhealthy: able.length });
  }
  return idle;
}

function IdleRoutes({ routes }) {
  if (routes.length === 0) return null;
  return html`
    <ul class="idle-routes" aria-label="Queued work no agent takes">
      ${routes.map((route) => {
        const name = route.backend ?? 'any backend';
        const command = route.backend === null ? 'mittelo agent' : `mittelo agent --backend ${route.backend}`;
        const why =
          route.unhealthy === 0
            ? 'no agent connected — start one with '
            : `no healthy agent (${route.unhealthy} unhealthy) — fix it, or start one with `;
        return html`<li key=${name} class="idle-route" data-route=${route.backend ?? ''}>
          ${name}: ${count(route.queued)} queued, ${why}<code>${command}</code>
        </li>`;
      })}
    </ul>
  `;
}

/**
 * Since when the agent is gone (the hub's Unix seconds), null while it is there: its connection
 * closed, or (no hello) it went quiet for longer than its lease allows. Hubs older than
 * `disconnected_at` say only `connected`.
 */
export function goneSince(agent) {
  if (agent.disconnected_at !== undefined) return agent.disconnected_at;
  return agent.connected ? null : agent.last_contact;
}

function order(a, b) {
  const aGone = goneSince(a) !== null;
  const bGone = goneSince(b) !== null;
  if (aGone !== bGone) return aGone ? 1 : -1;
  return a.worker_id.localeCompare(b.worker_id);
}

/** Health while the agent is there; a gone agent is "disconnected", whatever it last reported. */
function Health({ agent, now }) {
  const since = goneSince(agent);
  if (since !== null) {
    return html`
      <span class="health gone">disconnected</span>
      <div class="since" title=${clock(since)}>since ${clockTime(since)} (${ago(since, now)})</div>
    `;
  }
  if (agent.healthy) return html`<span class="health ok">healthy</span>`;
  return html`
    <span class="health bad">unhealthy</span>
    ${agent.reason && html`<div class="reason">${agent.reason}</div>`}
    ${agent.fix && html`<div class="fix">Fix: ${agent.fix}</div>`}
  `;
}

export function AgentsTable({ agents, idle, onSelectTask }) {
  const now = useNow(1000);
  const list = agents ? [...agents].sort(order) : null;
  return html`
    <section class="panel agents" aria-label="Agents">
      <header class="panel-head">
        <h2>Agents</h2>
        ${list && html`<span class="muted">${list.filter((a) => goneSince(a) === null).length} connected</span>`}
      </header>
      <${IdleRoutes} routes=${idle} />
      ${
        list === null
          ? html`<p class="muted">Loading…</p>`
          : list.length === 0
            ? html`<p class="muted empty">
                No agents yet. Start one with <code>mittelo agent --backend echo</code> (add
                <code>--token</code> when the hub has one).
              </p>`
            : html`
                <div class="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th>Worker</th>
                        <th>Backend</th>
                        <th>State</th>
                        <th>Current task</th>
                        <th>Last contact</th>
                        <th class="num">Done</th>
                        <th class="num">Failed</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${list.map(
                        (agent) => html`
                          <tr key=${agent.worker_id} data-worker-id=${agent.worker_id} class=${goneSince(agent) === null ? '' : 'gone'}>
                            <td>
                              <span class=${`dot ${goneSince(agent) === null ? 'on' : 'off'}`} title=${goneSince(agent) === null ? 'connected' : 'disconnected'}></span>
                              ${agent.worker_id}
                            </td>
                            <td>${agent.backend ?? '—'}</td>
                            <td><${Health} agent=${agent} now=${now} /></td>
                            <td>
                              ${
                                agent.current_tasks.length === 0
                                  ? html`<span class="muted">idle</span>`
                                  : agent.current_tasks.map(
                                      (id) =>
                                        html`<button type="button" class="link" onClick=${() => onSelectTask(id)}>#${id}</button> `,
                                    )
                              }
                            </td>
                            <td title=${new Date(agent.last_contact * 1000).toLocaleString()}>
                              ${ago(agent.last_contact, now)}
                            </td>
                            <td class="num" data-col="done">${count(agent.tasks_done)}</td>
                            <td class="num" data-col="failed">${count(agent.tasks_failed)}</td>
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

// The agents the hub knows (GET /agents): agent events update them at once; their counters and
// last contact change without events, so they are reloaded after task events and every few seconds.
import { useEffect, useState } from 'preact/hooks';
import { ago, count } from './format.js';
import { html } from './html.js';
import { useLive, useNow, useThrottled } from './live.js';

const POLL_MS = 5000;

export function useLiveAgents(api, live) {
  const [agents, setAgents] = useState(null);
  const load = () =>
    api.agents().then(setAgents, () => {
      // the connection state says why; keep what is shown
    });
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
    if (events.some((event) => event.task && event.event !== 'task.enqueued')) refresh();
  });
  return agents;
}

function order(a, b) {
  if (a.connected !== b.connected) return a.connected ? -1 : 1;
  return a.worker_id.localeCompare(b.worker_id);
}

function Health({ agent }) {
  if (agent.healthy) return html`<span class="health ok">healthy</span>`;
  return html`
    <span class="health bad">unhealthy</span>
    ${agent.reason && html`<div class="reason">${agent.reason}</div>`}
    ${agent.fix && html`<div class="fix">Fix: ${agent.fix}</div>`}
  `;
}

export function AgentsTable({ agents, onSelectTask }) {
  const now = useNow(1000);
  const list = agents ? [...agents].sort(order) : null;
  return html`
    <section class="panel agents" aria-label="Agents">
      <header class="panel-head">
        <h2>Agents</h2>
        ${list && html`<span class="muted">${list.filter((a) => a.connected).length} connected</span>`}
      </header>
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
                        <th>Health</th>
                        <th>Current task</th>
                        <th>Last contact</th>
                        <th class="num">Done</th>
                        <th class="num">Failed</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${list.map(
                        (agent) => html`
                          <tr key=${agent.worker_id} data-worker-id=${agent.worker_id} class=${agent.connected ? '' : 'gone'}>
                            <td>
                              <span class=${`dot ${agent.connected ? 'on' : 'off'}`} title=${agent.connected ? 'connected' : 'disconnected'}></span>
                              ${agent.worker_id}
                            </td>
                            <td>${agent.backend ?? '—'}</td>
                            <td><${Health} agent=${agent} /></td>
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
                              ${ago(agent.last_contact, now)}${agent.connected ? '' : ' (disconnected)'}
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

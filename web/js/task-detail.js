// One task in full (GET /tasks/:id), kept current by its events: prompt, result, error with its
// kind and fix, attempts, duration, its cost (reported by the CLI, estimated from prices, or
// unknown) and tokens, where it runs (workspace, permissions, resumed session), its live output,
// what its worktree run changed with the diff, and the usage as the backend reported it.
import { useEffect, useState } from 'preact/hooks';
import { TaskActions } from './actions.js';
import { clock, count, duration, usageValue } from './format.js';
import { html } from './html.js';
import { useLive } from './live.js';
import { shownStatus } from './queue-control.js';
import { DiffSection, diffSectionId, WorktreeFields } from './task-diff.js';
import { TaskOutput } from './task-output.js';
import { StatusBadge } from './tasks.js';
import { compactCount, tokensOf } from './usage-tokens.js';

/** `focus` ({section: 'diff'}, a new object each time) scrolls to that section once the task is shown. */
export function TaskDetail({ api, live, taskId, focus, onClose, notify, onDone }) {
  const [state, setState] = useState({ task: null, error: null });
  const load = () =>
    api.getTask(taskId).then(
      (task) => setState({ task, error: null }),
      (error) => setState({ task: null, error: error.message }),
    );
  useEffect(() => {
    setState({ task: null, error: null });
    load();
  }, [taskId]);
  useLive(live, ({ events, reload }) => {
    if (reload) return load();
    const latest = events.findLast((event) => event.task?.task_id === taskId);
    if (latest) setState({ task: latest.task, error: null });
  });

  const { task, error } = state;
  const shown = task !== null;
  useEffect(() => {
    if (!shown || focus?.section !== 'diff') return;
    const section = document.getElementById(diffSectionId(taskId));
    if (!section) return;
    section.open = true;
    section.scrollIntoView({ block: 'start' });
  }, [shown, focus]);
  return html`
    <aside class="panel detail" aria-label=${`Task ${taskId}`} data-task-id=${taskId}>
      <header class="panel-head">
        <h2>Task #${taskId}</h2>
        ${task && html`<${StatusBadge} status=${shownStatus(task, Date.now())} />`}
        <span class="spacer"></span>
        ${task && html`<${TaskActions} api=${api} task=${task} notify=${notify} onDone=${onDone} />`}
        <button type="button" class="small" onClick=${onClose} aria-label="Close the task detail">✕</button>
      </header>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${!task && !error && html`<p class="muted">Loading…</p>`}
      ${task && html`<${Fields} api=${api} task=${task} />`}
    </aside>
  `;
}

/** `$0.0123 (reported)`, `$0.0040 (estimated)`, `unknown`: where the number comes from, always. */
function describeTaskCost(task) {
  if (task.cost_basis === 'unknown' || task.cost_usd === null) return 'unknown';
  return `${usageValue('cost_usd', task.cost_usd)} (${task.cost_basis})`;
}

/** `12.3k in · 450 out · 80k cache read`, null when the usage carries no token counts. */
function describeTokens(usage) {
  const t = tokensOf(usage);
  const parts = [
    [t.input_tokens, 'in'],
    [t.output_tokens, 'out'],
    [t.cache_read_tokens, 'cache read'],
    [t.cache_write_tokens, 'cache write'],
  ].filter(([n]) => n > 0);
  if (parts.length === 0) return null;
  return {
    text: parts.map(([n, label]) => `${compactCount(n)} ${label}`).join(' · '),
    exact: parts.map(([n, label]) => `${count(n)} ${label}`).join(', '),
  };
}

/** `worktree from main`, `shared`; null when the task says nothing and ran in no worktree. */
function describeWorkspace(task) {
  const mode = task.workspace ?? (task.worktree ? 'worktree' : null);
  if (mode === null) return task.base_ref ? `from ${task.base_ref}` : null;
  return mode === 'worktree' && task.base_ref ? `worktree from ${task.base_ref}` : mode;
}

function Fields({ api, task }) {
  const workspace = describeWorkspace(task);
  const tokens = describeTokens(task.usage);
  const waitingUntil = task.available_at * 1000 > Date.now() ? clock(task.available_at) : null;
  return html`
    <dl class="fields">
      <dt>Backend</dt><dd>${task.backend ?? 'any'}</dd>
      <dt>Worker</dt><dd>${task.worker_id ?? '—'}</dd>
      <dt>Attempts</dt><dd data-field="attempts">${task.attempts} of ${task.max_attempts}${task.lease_expirations ? `, ${task.lease_expirations} lease expired` : ''}</dd>
      <dt>Duration</dt><dd data-field="duration">${duration(task.duration_ms)}</dd>
      ${task.cost_basis && html`<dt>Cost</dt><dd data-field="cost">${describeTaskCost(task)}</dd>`}
      ${task.max_cost_usd !== null && task.max_cost_usd !== undefined && html`<dt>Cost cap</dt><dd>${usageValue('cost_usd', task.max_cost_usd)}</dd>`}
      ${tokens && html`<dt>Tokens</dt><dd data-field="tokens" title=${tokens.exact}>${tokens.text}</dd>`}
      ${workspace && html`<dt>Workspace</dt><dd data-field="workspace">${workspace}</dd>`}
      ${task.permissions && html`<dt>Permissions</dt><dd data-field="permissions">${task.permissions}</dd>`}
      ${task.resume && html`<dt>Resume</dt><dd data-field="resume">continues its last session</dd>`}
      ${task.session_id && html`<dt>Session</dt><dd data-field="session-id"><code>${task.session_id}</code></dd>`}
      ${task.worktree && html`<${WorktreeFields} worktree=${task.worktree} />`}
      <dt>Priority</dt><dd>${task.priority}</dd>
      ${task.tags.length > 0 && html`<dt>Tags</dt><dd>${task.tags.join(', ')}</dd>`}
      ${task.timeout_s !== null && html`<dt>Timeout</dt><dd>${task.timeout_s} s</dd>`}
      <dt>Created</dt><dd>${clock(task.created_at)}</dd>
      <dt>Updated</dt><dd>${clock(task.updated_at)}</dd>
      ${task.status === 'leased' && task.leased_until !== null && html`<dt>Lease until</dt><dd>${clock(task.leased_until)}</dd>`}
      ${waitingUntil && html`<dt>Retry after</dt><dd>${waitingUntil}</dd>`}
    </dl>
    <h3>Prompt</h3>
    <pre class="text" data-field="prompt">${task.prompt}</pre>
    ${task.result !== null && html`<h3>Result</h3><pre class="text" data-field="result">${task.result}</pre>`}
    ${(task.error !== null || task.error_kind) && html`<${Failure} task=${task} />`}
    <${TaskOutput} key=${task.task_id} api=${api} taskId=${task.task_id} status=${task.status} />
    ${task.worktree && html`<${DiffSection} taskId=${task.task_id} worktree=${task.worktree} />`}
    ${task.usage && Object.keys(task.usage).length > 0 && html`<${Usage} usage=${task.usage} />`}
    ${task.metadata && html`<h3>Metadata</h3><pre class="text">${JSON.stringify(task.metadata, null, 2)}</pre>`}
  `;
}

function Failure({ task }) {
  return html`
    <h3>Error ${task.error_kind && html`<span class="kind" data-field="error-kind">${task.error_kind}</span>`}</h3>
    ${task.error !== null && html`<pre class="text error-text" data-field="error">${task.error}</pre>`}
    ${task.error_fix && html`<p class="fix" data-field="fix"><strong>Fix:</strong> ${task.error_fix}</p>`}
  `;
}

function Usage({ usage }) {
  return html`
    <h3>Usage</h3>
    <table class="usage" data-field="usage">
      <tbody>
        ${Object.entries(usage).map(
          ([key, value]) =>
            html`<tr><th>${key.replaceAll('_', ' ')}</th><td>${usageValue(key, value)}</td></tr>`,
        )}
      </tbody>
    </table>
  `;
}

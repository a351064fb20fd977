// What the page can change: enqueue a prompt, put failed tasks back in the queue, cancel a task.
// Each reports through `notify` and then calls `onDone` (the page reloads what it shows: a retry
// sends no event).
import { useEffect, useState } from 'preact/hooks';
import { count } from './format.js';
import { html } from './html.js';

const CONFIRM_MS = 4000;

/**
 * One page action: busy while it runs; `work` returns the [kind, message] to tell the user, then
 * the page reloads (`onDone`); a failure is told as "<failedTo>: <error>".
 */
function useAction(notify, onDone) {
  const [busy, setBusy] = useState(false);
  const run = async (work, failedTo) => {
    setBusy(true);
    try {
      const [kind, message] = await work();
      notify(kind, message);
      onDone();
    } catch (error) {
      notify('error', `${failedTo}: ${error.message}`);
    } finally {
      setBusy(false);
    }
  };
  return [busy, run];
}

export function EnqueueForm({ api, notify, onDone }) {
  const [prompt, setPrompt] = useState('');
  const [backend, setBackend] = useState('');
  const [priority, setPriority] = useState('');
  const [busy, run] = useAction(notify, onDone);

  const submit = async (event) => {
    event.preventDefault();
    if (!prompt.trim()) return notify('error', 'Write a prompt first.');
    const task = { prompt };
    if (backend.trim()) task.backend = backend.trim();
    if (priority.trim()) task.priority = Number(priority);
    await run(async () => {
      const taskId = await api.enqueue(task);
      setPrompt('');
      return ['ok', `Task #${taskId} enqueued${task.backend ? ` for ${task.backend}` : ''}.`];
    }, 'Could not enqueue');
  };

  return html`
    <form class="enqueue" onSubmit=${submit} aria-label="Enqueue a task">
      <label class="grow">
        <span>Prompt</span>
        <textarea
          name="prompt"
          rows="2"
          placeholder="What should an agent do?"
          value=${prompt}
          onInput=${(e) => setPrompt(e.currentTarget.value)}
        ></textarea>
      </label>
      <label>
        <span>Backend</span>
        <input
          name="backend"
          list="known-backends"
          placeholder="any"
          value=${backend}
          onInput=${(e) => setBackend(e.currentTarget.value)}
        />
      </label>
      <label class="narrow">
        <span>Priority</span>
        <input
          name="priority"
          type="number"
          step="1"
          placeholder="0"
          value=${priority}
          onInput=${(e) => setPriority(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="primary" disabled=${busy}>Enqueue</button>
    </form>
  `;
}

export function RetryAllButton({ api, failed, notify, onDone }) {
  const [busy, run] = useAction(notify, onDone);
  const retry = () =>
    run(async () => {
      const retried = await api.retryFailed();
      return [
        'ok',
        retried === 0 ? 'No failed tasks to retry.' : `${count(retried)} failed tasks back in the queue.`,
      ];
    }, 'Could not retry');
  return html`
    <button type="button" class="retry-all" disabled=${busy || !failed} onClick=${retry}>
      Retry all failed${failed ? ` (${count(failed)})` : ''}
    </button>
  `;
}

/** Retry one failed task. */
export function RetryButton({ api, task, notify, onDone }) {
  const [busy, run] = useAction(notify, onDone);
  const retry = (event) => {
    event.stopPropagation();
    return run(async () => {
      const retried = await api.retryFailed([task.task_id]);
      return retried
        ? ['ok', `Task #${task.task_id} back in the queue.`]
        : ['error', `Task #${task.task_id} is no longer failed.`];
    }, `Could not retry task #${task.task_id}`);
  };
  return html`<button type="button" class="small" data-action="retry" disabled=${busy} onClick=${retry}>Retry</button>`;
}

/** Cancel a queued or leased task; the first click arms it, a second within 4 s cancels. */
export function CancelButton({ api, task, notify, onDone }) {
  const [armed, setArmed] = useState(false);
  const [busy, run] = useAction(notify, onDone);
  useEffect(() => {
    if (!armed) return;
    const timer = setTimeout(() => setArmed(false), CONFIRM_MS);
    return () => clearTimeout(timer);
  }, [armed]);

  const click = async (event) => {
    event.stopPropagation();
    if (!armed) return setArmed(true);
    setArmed(false);
    await run(async () => {
      await api.cancel(task.task_id);
      return ['ok', `Task #${task.task_id} canceled.`];
    }, `Could not cancel task #${task.task_id}`);
  };
  return html`
    <button
      type="button"
      class=${`small danger${armed ? ' armed' : ''}`}
      data-action="cancel"
      disabled=${busy}
      onClick=${click}
    >
      ${armed ? 'Confirm cancel' : 'Cancel'}
    </button>
  `;
}

/** The action a task allows now, if any. */
export function TaskActions(props) {
  const { status } = props.task;
  if (status === 'queued' || status === 'leased') return html`<${CancelButton} ...${props} />`;
  if (status === 'failed') return html`<${RetryButton} ...${props} />`;
  return null;
}

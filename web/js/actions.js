// What the page can change: enqueue a prompt, put failed tasks back in the queue, cancel a task.
// Each reports through `notify` and then calls `onDone` (the page reloads what it shows: a retry
// sends no event).
import { useEffect, useState } from 'preact/hooks';
import { count } from './format.js';
import { html } from './html.js';

const CONFIRM_MS = 4000;

export function EnqueueForm({ api, notify, onDone }) {
  const [prompt, setPrompt] = useState('');
  const [backend, setBackend] = useState('');
  const [priority, setPriority] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    event.preventDefault();
    if (!prompt.trim()) return notify('error', 'Write a prompt first.');
    const task = { prompt };
    if (backend.trim()) task.backend = backend.trim();
    if (priority.trim()) task.priority = Number(priority);
    setBusy(true);
    try {
      const taskId = await api.enqueue(task);
      notify('ok', `Task #${taskId} enqueued${task.backend ? ` for ${task.backend}` : ''}.`);
      setPrompt('');
      onDone();
    } catch (error) {
      notify('error', `Could not enqueue: ${error.message}`);
    } finally {
      setBusy(false);
    }
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
  const [busy, setBusy] = useState(false);
  const retry = async () => {
    setBusy(true);
    try {
      const retried = await api.retryFailed();
      notify(
        'ok',
        retried === 0 ? 'No failed tasks to retry.' : `${count(retried)} failed tasks back in the queue.`,
      );
      onDone();
    } catch (error) {
      notify('error', `Could not retry: ${error.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <button type="button" class="retry-all" disabled=${busy || !failed} onClick=${retry}>
      Retry all failed${failed ? ` (${count(failed)})` : ''}
    </button>
  `;
}

/** Retry one failed task. */
export function RetryButton({ api, task, notify, onDone }) {
  const [busy, setBusy] = useState(false);
  const retry = async (event) => {
    event.stopPropagation();
    setBusy(true);
    try {
      const retried = await api.retryFailed([task.task_id]);
      notify(
        retried ? 'ok' : 'error',
        retried ? `Task #${task.task_id} back in the queue.` : `Task #${task.task_id} is no longer failed.`,
      );
      onDone();
    } catch (error) {
      notify('error', `Could not retry task #${task.task_id}: ${error.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<button type="button" class="small" data-action="retry" disabled=${busy} onClick=${retry}>Retry</button>`;
}

/** Cancel a queued or leased task; the first click arms it, a second within 4 s cancels. */
export function CancelButton({ api, task, notify, onDone }) {
  const [armed, setArmed] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const timer = setTimeout(() => setArmed(false), CONFIRM_MS);
    return () => clearTimeout(timer);
  }, [armed]);

  const click = async (event) => {
    event.stopPropagation();
    if (!armed) return setArmed(true);
    setArmed(false);
    setBusy(true);
    try {
      await api.cancel(task.task_id);
      notify('ok', `Task #${task.task_id} canceled.`);
      onDone();
    } catch (error) {
      notify('error', `Could not cancel task #${task.task_id}: ${error.message}`);
    } finally {
      setBusy(false);
    }
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

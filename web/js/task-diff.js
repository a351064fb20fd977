// What a task's run in its own git worktree changed (the task's `worktree` field): the size
// badge in the task list, and in the task detail the branch, commit, counts and the diff itself.
// The diff is the agent's text, untrusted: it is only rendered as text nodes, never as HTML.
import { bytes, count } from './format.js';
import { html } from './html.js';

/** The id of a task detail's Diff section, which the list's badge opens. */
export const diffSectionId = (taskId) => `task-${taskId}-diff`;

/** `+12 −3`, or null for a task that never ran in a worktree. */
export function changeSize(worktree) {
  if (!worktree) return null;
  return `+${count(worktree.insertions)} −${count(worktree.deletions)}`;
}

/** `+12 −3 in 2 files` (`no changes` when the run changed nothing). */
function changeSummary(worktree) {
  if (worktree.commit === null || worktree.files_changed === 0) return 'no changes';
  const files = worktree.files_changed === 1 ? 'file' : 'files';
  return `${changeSize(worktree)} in ${count(worktree.files_changed)} ${files}`;
}

/** In a task row: the size of the change; a click opens the task at its Diff section. */
export function DiffBadge({ task, onOpen }) {
  const size = changeSize(task.worktree);
  if (!size) return null;
  const { worktree } = task;
  return html`
    <button
      type="button"
      class="diff-badge"
      data-action="diff"
      title=${`${changeSummary(worktree)} (${bytes(worktree.diff_bytes)}): show the diff`}
      onClick=${(event) => {
        event.stopPropagation();
        onOpen();
      }}
    >
      <span class="ins">+${count(worktree.insertions)}</span>
      ${' '}
      <span class="del">−${count(worktree.deletions)}</span>
    </button>
  `;
}

/** Rows for the detail's field list: the branch, the commit, the counts and the diff's size. */
export function WorktreeFields({ worktree }) {
  const cut = worktree.diff_truncated;
  return html`
    <dt>Branch</dt><dd data-field="branch"><code>${worktree.branch}</code></dd>
    <dt>Commit</dt>
    <dd data-field="commit">
      ${worktree.commit === null ? html`<span class="muted">none: nothing changed</span>` : html`<code title=${worktree.commit}>${worktree.commit.slice(0, 12)}</code>`}
      <span class="muted"> on ${worktree.base_ref} (<code title=${worktree.base_commit}>${worktree.base_commit.slice(0, 12)}</code>)</span>
    </dd>
    <dt>Change</dt><dd data-field="change">${changeSummary(worktree)}</dd>
    <dt>Diff size</dt>
    <dd data-field="diff-size">
      ${bytes(worktree.diff_bytes)}
      ${cut && html`<span class="diff-cut" data-field="diff-cut"> — cut: the hub keeps the first ${bytes(worktree.diff_cap_bytes)}</span>`}
    </dd>
    <dt>Worktree</dt>
    <dd data-field="worktree-path">
      <code>${worktree.path}</code>
      <span class="muted">${worktree.kept ? ' (kept)' : ' (removed; the branch is kept)'}</span>
    </dd>
  `;
}

/** How a diff line is coloured: file headers, hunk headers, added and removed lines. */
function lineClass(line) {
  if (line.startsWith('diff --git') || line.startsWith('+++ ') || line.startsWith('--- ')) return 'diff-file';
  if (line.startsWith('@@')) return 'diff-hunk';
  if (line.startsWith('+')) return 'diff-add';
  if (line.startsWith('-')) return 'diff-del';
  return 'diff-context';
}

/** The collapsible Diff section (open at first), each line in its colour. */
export function DiffSection({ taskId, worktree }) {
  const text = worktree.diff ?? '';
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  return html`
    <details class="diff-section" id=${diffSectionId(taskId)} data-field="diff-section" open>
      <summary><h3>Diff</h3> <span class="muted">${changeSummary(worktree)}</span></summary>
      ${
        lines.length === 0
          ? html`<p class="muted" data-field="diff-empty">The run changed nothing.</p>`
          : html`<pre class="diff" data-field="diff">${lines.map(
              (line) => html`<span class=${lineClass(line)}>${line}${'\n'}</span>`,
            )}</pre>`
      }
      ${
        worktree.diff_truncated &&
        html`<p class="diff-cut" data-field="diff-cut-note">
          The diff is ${bytes(worktree.diff_bytes)}; only its first ${bytes(worktree.diff_cap_bytes)} are kept
          with the task. The whole change is on the branch <code>${worktree.branch}</code>.
        </p>`
      }
    </details>
  `;
}

// The task detail's live "Output" panel: the lines the hub keeps of a task's output (GET
// /tasks/:id/output), then, while the task may still run, the new ones as `task.output` events
// arrive on a stream of its own (GET /events?events=task&output=1, opened only while a detail is
// open, so a page with no task open never receives the swarm's output). Newest at the bottom;
// it keeps to the bottom unless the person scrolled up. The text is the agent's, untrusted: it is
// only ever rendered as text nodes (Preact escapes it), never as HTML.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { followEvents } from './events.js';
import { clockTime, count } from './format.js';
import { html } from './html.js';

/** The kinds a line may have (OUTPUT_KINDS in src/protocol/model.ts); each has its own colour. */
const KINDS = new Set(['text', 'tool', 'edit', 'usage', 'stdout', 'stderr', 'status']);
/** The most lines the panel holds; older ones are dropped (and counted as not kept). */
const MAX_LINES = 2000;
/** Pages of the first load, at most (the hub answers a bounded tail, so this is a guard). */
const MAX_PAGES = 20;
/** Within this many pixels of the bottom counts as "at the bottom" (keep following). */
const STICK_PX = 24;

/**
 * `current` and `incoming` as one list ordered by seq, each seq once (the tail and the events
 * overlap around the moment the stream opened), cut to the newest MAX_LINES.
 */
function mergeLines(current, incoming) {
  if (incoming.length === 0) return current;
  const last = current.at(-1)?.seq ?? 0;
  let merged;
  if (incoming.every((line) => line.seq > last)) {
    merged = [...current, ...incoming.toSorted((a, b) => a.seq - b.seq)];
  } else {
    const bySeq = new Map(current.map((line) => [line.seq, line]));
    for (const line of incoming) bySeq.set(line.seq, line);
    merged = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }
  // Equal seqs cannot remain (the map above), but an all-new batch may repeat one of its own.
  merged = merged.filter((line, index) => index === 0 || line.seq !== merged[index - 1].seq);
  return merged.length > MAX_LINES ? merged.slice(-MAX_LINES) : merged;
}

/** The task may still produce output: queued (it may be leased any moment) or leased. */
function mayRun(status) {
  return status === 'queued' || status === 'leased';
}

export function TaskOutput({ api, taskId, status }) {
  // lines: kept lines, oldest first; lost: lines before them that are kept no more; state: 'loading' | 'ready' | 'unsupported' (a hub without live output) | 'error'.
  const [output, setOutput] = useState({ lines: [], lost: 0, state: 'loading', error: null });
  const latest = useRef(output);
  latest.current = output;
  const following = mayRun(status);

  const add = (answer) => {
    const incoming = answer.lines ?? [];
    setOutput((current) => {
      const lines = mergeLines(current.lines, incoming);
      // Seqs count from 1 without gaps, so the lines before the first one shown are the ones
      // neither the hub (its tail is bounded) nor the page (MAX_LINES) keeps; with none shown,
      // the hub's own count says it.
      const lost = lines.length > 0 ? lines[0].seq - 1 : Math.max(current.lost, answer.lost ?? 0);
      return { lines, lost, state: 'ready', error: null };
    });
  };

  /** The lines after the newest one shown, a page at a time up to the hub's last_seq. */
  const catchUp = async (isCurrent) => {
    let after = latest.current.lines.at(-1)?.seq ?? null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const answer = await api.taskOutput(taskId, after);
      if (!isCurrent()) return;
      add(answer);
      const newest = answer.lines?.at(-1)?.seq ?? null;
      if (newest === null || newest >= (answer.last_seq ?? newest)) return;
      after = newest;
    }
  };

  useEffect(() => {
    let current = true;
    const isCurrent = () => current;
    setOutput({ lines: [], lost: 0, state: 'loading', error: null });
    catchUp(isCurrent).catch((error) => {
      if (!current) return;
      // The task itself was found (the detail shows it), so a 404 is an older hub without the
      // route: it keeps no live output.
      const unsupported = error.status === 404;
      setOutput((now) => ({ ...now, state: unsupported ? 'unsupported' : 'error', error: error.message }));
    });
    return () => {
      current = false;
    };
  }, [taskId]);

  const ready = output.state === 'ready';
  useEffect(() => {
    if (!ready) return;
    let current = true;
    const isCurrent = () => current;
    if (!following) {
      // It has just finished: fetch what it printed since the last event.
      catchUp(isCurrent).catch(() => {});
      return () => {
        current = false;
      };
    }
    const stop = followEvents({
      path: '/events?events=task&output=1',
      // After every (re)connect: what was printed while no stream was open.
      onOpen: () => catchUp(isCurrent).catch(() => {}),
      onEvent: (event) => {
        if (event.event === 'task.output' && event.task_id === taskId && Array.isArray(event.lines)) {
          add({ lines: event.lines, lost: 0 });
        }
      },
      // The page's own stream says when the token is refused; this one just stops.
      onUnauthorized: () => {},
    });
    return () => {
      current = false;
      stop();
    };
  }, [taskId, ready, following]);

  return html`
    <section class="output-panel" data-field="output" aria-label="Output">
      <h3>Output ${following && ready && html`<span class="live-dot" title="following live">live</span>`}</h3>
      <${OutputBody} output=${output} following=${following} />
    </section>
  `;
}

function OutputBody({ output, following }) {
  const box = useRef(null);
  // Whether the box was scrolled to the bottom before this render: only then follow new lines.
  const stick = useRef(true);
  useLayoutEffect(() => {
    const element = box.current;
    if (element && stick.current) element.scrollTop = element.scrollHeight;
  }, [output.lines]);
  const onScroll = (event) => {
    const element = event.currentTarget;
    stick.current = element.scrollHeight - element.scrollTop - element.clientHeight <= STICK_PX;
  };

  if (output.state === 'loading') return html`<p class="muted">Loading the output…</p>`;
  if (output.state === 'unsupported') {
    return html`<p class="muted" data-testid="output-unsupported">This hub keeps no live output (it is older than live output).</p>`;
  }
  if (output.state === 'error') {
    return html`<p class="error" role="alert">Could not load the output: ${output.error}</p>`;
  }
  return html`
    ${
      output.lost > 0 &&
      html`<p class="muted output-lost" data-testid="output-lost">
        ${count(output.lost)} earlier ${output.lost === 1 ? 'line' : 'lines'} not kept
      </p>`
    }
    ${
      output.lines.length === 0
        ? html`<p class="muted" data-testid="output-empty">
            ${following ? 'No output yet.' : 'No output kept for this task.'}
          </p>`
        : html`
            <div class="output-lines" ref=${box} onScroll=${onScroll} role="log" aria-live="off">
              ${output.lines.map(
                (line) => html`
                  <div key=${line.seq} class=${`output-line kind-${KINDS.has(line.kind) ? line.kind : 'other'}`} data-seq=${line.seq}>
                    <span class="output-kind" title=${clockTime(line.at)}>${line.kind}</span>
                    <span class="output-text">${line.text}</span>
                  </div>
                `,
              )}
            </div>
          `
    }
  `;
}

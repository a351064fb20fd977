// The dashboard page: asks for the token when the hub wants one, then shows the hub live.
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { EnqueueForm, RetryAllButton } from './actions.js';
import { AgentsTable, useLiveAgents } from './agents.js';
import { createApi } from './api.js';
import { Counters, useLiveStats } from './counters.js';
import { followEvents } from './events.js';
import { html } from './html.js';
import { HubIdentity } from './hub-info.js';
import { Limits, useLimits } from './limits.js';
import { createLive } from './live.js';
import { QueueControl, usePauses } from './queue-control.js';
import { Spend, useSpend } from './spend.js';
import { TaskDetail } from './task-detail.js';
import { TaskList } from './tasks.js';
import { Throughput } from './throughput.js';
import { clearToken, currentToken, saveToken } from './token.js';
import { TokenPrompt } from './token-prompt.js';

const NOTICE_MS = 6000;

function App() {
  // 'checking' | 'needed' (ask for the token) | 'unreachable' | 'ok'
  const [auth, setAuth] = useState({ state: 'checking', message: '' });
  const onUnauthorized = (hadToken) => {
    clearToken();
    setAuth({
      state: 'needed',
      message: hadToken ? 'The hub did not accept that token: enter the token the hub was started with.' : '',
    });
  };
  const api = useMemo(() => createApi({ onUnauthorized }), []);

  useEffect(() => {
    if (auth.state !== 'checking') return;
    api.stats().then(
      () => setAuth({ state: 'ok', message: '' }),
      (error) => {
        if (error.status !== 401) setAuth({ state: 'unreachable', message: error.message });
      },
    );
  }, [auth.state]);

  if (auth.state === 'needed') {
    return html`<${TokenPrompt}
      message=${auth.message}
      onSubmit=${(token) => {
        saveToken(token);
        setAuth({ state: 'checking', message: '' });
      }}
    />`;
  }
  if (auth.state === 'unreachable') {
    return html`
      <main class="token-page">
        <div class="panel token-form">
          <h1>Mittelö dashboard</h1>
          <p class="error" role="alert">Could not reach the hub: ${auth.message}</p>
          <button type="button" class="primary" onClick=${() => setAuth({ state: 'checking', message: '' })}>
            Try again
          </button>
        </div>
      </main>
    `;
  }
  if (auth.state === 'checking') return html`<p class="loading">Connecting to the hub…</p>`;
  return html`<${Dashboard}
    api=${api}
    onUnauthorized=${() => onUnauthorized(true)}
    onSignOut=${() => {
      clearToken();
      setAuth({ state: 'checking', message: '' });
    }}
  />`;
}

const CONNECTION_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  stopping: 'hub stopped: reconnecting…',
};

function Dashboard({ api, onUnauthorized, onSignOut }) {
  const live = useMemo(createLive, []);
  const [connection, setConnection] = useState('connecting');
  const [query, setQuery] = useState({ status: '', backend: '', search: '' });
  // The task open in the detail, and the section to show (the list's diff badge opens 'diff').
  const [selected, setSelected] = useState({ id: null, focus: null });
  const selectedId = selected.id;
  const setSelectedId = (id, focus = null) => setSelected({ id, focus });
  const [notices, setNotices] = useState([]);
  const stats = useLiveStats(api, live);
  const { agents, idle, scheduled } = useLiveAgents(api, live);
  const pauses = usePauses(api, live);
  const limits = useLimits(api, live);
  const spend = useSpend(api, live);

  useEffect(
    () =>
      followEvents({
        onEvent: live.push,
        onOpen: live.reload,
        onState: setConnection,
        onUnauthorized,
      }),
    [],
  );

  const notify = (kind, text) => {
    const notice = { id: Math.random(), kind, text };
    setNotices((current) => [...current.slice(-3), notice]);
    setTimeout(() => setNotices((current) => current.filter((n) => n !== notice)), NOTICE_MS);
  };
  const backends = [...new Set((agents ?? []).map((agent) => agent.backend).filter(Boolean))].sort();
  const shared = { api, notify, onDone: live.reload };

  return html`
    <header class="top">
      <h1>Mittelö</h1>
      <${HubIdentity} api=${api} live=${live} />
      <span class=${`connection connection-${connection}`} role="status" data-testid="connection">
        ${CONNECTION_TEXT[connection]}
      </span>
      <span class="spacer"></span>
      ${currentToken() && html`<button type="button" class="small" onClick=${onSignOut}>Forget token</button>`}
    </header>
    <main class="dashboard">
      <${QueueControl}
        pauses=${pauses.pauses}
        scheduled=${scheduled}
        api=${api}
        notify=${notify}
        onResumed=${() => {
          pauses.reload();
          live.reload();
        }}
      />
      <${Limits} limits=${limits} />
      <div class="overview">
        <${Counters}
          stats=${stats}
          selected=${query.status}
          onPick=${(status) => setQuery({ ...query, status })}
        />
        <${Throughput} api=${api} live=${live} />
      </div>
      <${Spend} spend=${spend} />
      <${AgentsTable} agents=${agents} idle=${idle} onSelectTask=${setSelectedId} />
      <section class="panel actions" aria-label="Actions">
        <${EnqueueForm} ...${shared} />
        <${RetryAllButton} ...${shared} failed=${stats?.failed ?? 0} />
      </section>
      <div class=${`task-area${selectedId === null ? '' : ' with-detail'}`}>
        <${TaskList}
          ...${shared}
          live=${live}
          stats=${stats}
          query=${query}
          onQuery=${setQuery}
          selectedId=${selectedId}
          onSelect=${setSelectedId}
        />
        ${
          selectedId !== null &&
          html`<${TaskDetail}
            ...${shared}
            live=${live}
            taskId=${selectedId}
            focus=${selected.focus}
            onClose=${() => setSelectedId(null)}
          />`
        }
      </div>
      <datalist id="known-backends">
        ${backends.map((name) => html`<option value=${name}></option>`)}
      </datalist>
    </main>
    <div class="notices" aria-live="polite">
      ${notices.map((notice) => html`<p key=${notice.id} class=${`notice notice-${notice.kind}`}>${notice.text}</p>`)}
    </div>
  `;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);

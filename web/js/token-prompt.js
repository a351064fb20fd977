// Asks for the hub's token when the API answers 401. The input has no name and the form never
// submits, so the token cannot end up in a URL; it is kept in sessionStorage (token.js).
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';

export function TokenPrompt({ message, onSubmit }) {
  const [value, setValue] = useState('');
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);
  const submit = (event) => {
    event.preventDefault();
    if (value.trim()) onSubmit(value.trim());
  };
  return html`
    <main class="token-page">
      <form class="panel token-form" onSubmit=${submit} aria-label="Hub token">
        <h1>Mittelö dashboard</h1>
        <p>
          This hub requires a token: the one it was started with (<code>mittelo hub --token</code> or
          <code>MITTELO_TOKEN</code>).
        </p>
        ${message && html`<p class="error" role="alert">${message}</p>`}
        <label>
          <span>Token</span>
          <input
            ref=${input}
            type="password"
            autocomplete="off"
            spellcheck="false"
            value=${value}
            onInput=${(e) => setValue(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary">Open the dashboard</button>
        <p class="hint">
          Kept for this browser tab only and sent only in the Authorization header, never in a URL.
        </p>
      </form>
    </main>
  `;
}

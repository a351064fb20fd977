// The header's hub identity: where agents connect (the hub's TCP address) and its mittelo version,
// from GET /hub. Read again after every reconnect: the hub may have been restarted, upgraded.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { useLive } from './live.js';

export function HubIdentity({ api, live }) {
  const [info, setInfo] = useState(null);
  const load = () =>
    api.hubInfo().then(setInfo, () => {
      // an older hub has no GET /hub, or it is away: the header shows no identity
    });
  useEffect(() => {
    load();
  }, []);
  useLive(live, ({ reload }) => {
    if (reload) load();
  });
  if (!info) return null;
  const title = [`agents connect to ${info.tcp ?? '?'}`, info.rest && `REST and this page: ${info.rest}`]
    .filter(Boolean)
    .join('\n');
  return html`
    <span class="hub-identity muted" title=${title}>
      <span data-testid="hub-address">${info.tcp ?? info.rest ?? location.host}</span>
      <span data-testid="hub-version">mittelo ${info.version}</span>
    </span>
  `;
}

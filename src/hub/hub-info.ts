/**
 * What a hub says about itself (`hub_info`, `GET /hub`) for the dashboards' header: its version,
 * when it started and where it listens. The addresses are known only once the servers listen (port
 * 0 picks one), so start-hub.ts hands them to the hub then (`Hub.listeningAt`).
 */
import { readFileSync } from 'node:fs';

let version: string | undefined;

/** The version in package.json (two folders up from both src/hub and dist/hub), read once. */
export function mitteloVersion(): string {
  if (version === undefined) {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    version = (JSON.parse(text) as { version: string }).version;
  }
  return version;
}

/** Where the hub listens, as URLs (start-hub.ts `HubUrls`). */
export interface HubAddresses {
  /** `tcp://host:port`, or `tls://host:port` when it serves TLS only. */
  tcp: string | null;
  /** `http://host:port` (`https://` with TLS); null without a REST port. */
  rest: string | null;
}

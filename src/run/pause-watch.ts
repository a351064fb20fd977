/**
 * What `mittelo run` says about paused routes: one line when a backend gets paused (an agent hit
 * its usage window, or someone ran `mittelo pause`) and one when it resumes, read from the hub's
 * `pauses` (the store's, so a pause asked of another hub shows too). A hub that cannot pause says
 * nothing.
 */

import { pauseScopeName, shortClock } from '../cli/queue-control-lines.ts';
import type { HubClient } from '../client/hub-client.ts';
import type { Pause } from '../protocol/model.ts';

const WATCH_PAUSES_MS = 1000;

/** `claude_code paused until 14:00 (five-hour usage limit)` */
export function pausedLine(pause: Pause, nowSeconds: number): string {
  const until = pause.until === null ? ' until resumed' : ` until ${shortClock(pause.until, nowSeconds)}`;
  const reason = pause.reason ? ` (${pause.reason.replace(/\s+/g, ' ')})` : '';
  return `${pauseScopeName(pause.backend)} paused${until}${reason}`;
}

export function watchPauses(client: HubClient, log: (line: string) => void): { stop: () => void } {
  /** Scope -> the line last said for it. */
  const said = new Map<string, string>();
  /** Scope -> the timer that says it resumed when its `until` comes (a run may end sooner than a poll). */
  const ends = new Map<string, NodeJS.Timeout>();
  const resumed = (scope: string) => {
    clearTimeout(ends.get(scope));
    ends.delete(scope);
    if (!said.delete(scope)) return;
    log(`mittelo run: ${pauseScopeName(scope || null)} resumed`);
  };
  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      const pauses = await client.pausesOrNull().catch(() => undefined);
      if (pauses === null) {
        clearInterval(timer); // the hub predates pause
        return;
      }
      if (pauses === undefined) return; // away for a moment: ask again next time
      const now = Date.now() / 1000;
      const current = new Map(pauses.map((pause) => [pause.backend ?? '', pause]));
      for (const [scope, pause] of current) {
        const line = pausedLine(pause, now);
        if (said.get(scope) === line) continue;
        log(`mittelo run: ${line}`);
        said.set(scope, line);
        clearTimeout(ends.get(scope));
        if (pause.until !== null) {
          const end = setTimeout(() => resumed(scope), Math.max(0, (pause.until - now) * 1000));
          ends.set(scope, end.unref());
        }
      }
      for (const scope of [...said.keys()]) if (!current.has(scope)) resumed(scope);
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), WATCH_PAUSES_MS);
  void check();
  return {
    stop: () => {
      clearInterval(timer);
      for (const end of ends.values()) clearTimeout(end);
    },
  };
}

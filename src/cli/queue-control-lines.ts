/**
 * How pauses and scheduled tasks read to a person: the lines `mittelo status` and the terminal
 * dashboard print, and what `mittelo pause` / `resume` answer. (web/js/queue-control.js says the same in
 * the page.)
 */
import type { Pause, QueuedCount } from '../protocol/model.ts';
import { formatCount } from './format.ts';

/** `14:02` today, `Mar 3 14:02` another day (local time). */
export function shortClock(unixSeconds: number, nowSeconds: number): string {
  const at = new Date(unixSeconds * 1000);
  const time = at.toTimeString().slice(0, 5);
  if (at.toDateString() === new Date(nowSeconds * 1000).toDateString()) return time;
  return `${at.toLocaleDateString('en', { month: 'short', day: 'numeric' })} ${time}`;
}

/** `claude_code` or `the whole queue`. */
export function pauseScopeName(backend: string | null): string {
  return backend ?? 'the whole queue';
}

/** `claude_code (since 14:02, until 15:00, reason: quota used up)` */
export function describePause(pause: Pause, nowSeconds: number): string {
  const parts = [`since ${shortClock(pause.paused_at, nowSeconds)}`];
  if (pause.until !== null) parts.push(`until ${shortClock(pause.until, nowSeconds)}`);
  if (pause.reason) parts.push(`reason: ${pause.reason.replace(/\s+/g, ' ')}`);
  return `${pauseScopeName(pause.backend)} (${parts.join(', ')})`;
}

/**
 * One line per pause in force, the scope and its end first, as people ask "until when?":
 * `claude_code paused until 14:00 (five-hour usage limit), since 13:02`, or
 * `the whole queue paused, since 14:02` for one that lasts until `mittelo resume`.
 */
export function pauseLines(pauses: readonly Pause[], nowSeconds: number): string[] {
  return pauses.map((pause) => {
    const until = pause.until === null ? '' : ` until ${shortClock(pause.until, nowSeconds)}`;
    const reason = pause.reason ? ` (${pause.reason.replace(/\s+/g, ' ')})` : '';
    return `${pauseScopeName(pause.backend)} paused${until}${reason}, since ${shortClock(pause.paused_at, nowSeconds)}`;
  });
}

/**
 * `scheduled: 3 of 5 queued tasks are not due yet` (a not_before or delay, a retry backoff or a
 * release delay), or null when none waits on the clock.
 */
export function scheduledLine(queued: readonly QueuedCount[]): string | null {
  const scheduled = queued.reduce((sum, route) => sum + (route.scheduled ?? 0), 0);
  if (scheduled === 0) return null;
  const total = queued.reduce((sum, route) => sum + route.queued, 0);
  const tasks = `${formatCount(scheduled)} of ${formatCount(total)} queued task${total === 1 ? '' : 's'}`;
  return `scheduled: ${tasks} ${scheduled === 1 ? 'is' : 'are'} not due yet`;
}

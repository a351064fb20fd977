/**
 * Vendor usage windows: recognising that a subscription's window is spent (Claude Code's five-hour
 * and weekly windows, Codex's plan limits, Gemini's quota), when it resets, and how that reads to a
 * person. Pure functions over a run's output (formats: BACKEND_FACTS §10), so each is unit-tested
 * on the reported shapes; drivers call them from their `limit` hook, the agent words its pause
 * with `limitReason`.
 */
import { extractObjects, jsonLines } from './drivers/json-lines.ts';

/** A spent usage window: when it resets (Unix seconds; null when not said) and which it is. */
export interface UsageLimitHit {
  resets_at: number | null;
  window: string | null;
}

/** Where Claude Code's window events start (they may sit inside another line). */
export const RATE_LIMIT_EVENT_MARKER = '{"type":"rate_limit_event"';

/** `five_hour` stays; `seven_day` (and `seven_day_opus`, ...) is the weekly window. */
export function windowName(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw === '') return null;
  if (/^seven_day|weekly/i.test(raw)) return 'weekly';
  if (/^five_hour/i.test(raw)) return 'five_hour';
  return raw;
}

/** `five-hour usage limit`, `weekly usage limit`, `usage limit` (no window known). */
export function limitReason(window: string | null | undefined): string {
  if (!window) return 'usage limit';
  return `${window.replace(/_/g, '-')} usage limit`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const unixSeconds = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) && value > 0
    ? value > 1e12
      ? Math.round(value / 1000) // milliseconds, should a build ever send them
      : value
    : null;

/**
 * The next moment the wall clock in `timeZone` (an IANA name; the system's when absent or
 * unknown) reads `clock` ("2pm", "2:30 pm", "14:00"), after `nowS`. Null when `clock` is no time.
 */
export function nextClockTime(clock: string, timeZone: string | undefined, nowS: number): number | null {
  const match = /^(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?$/i.exec(clock.trim());
  if (!match) return null;
  let hour = Number(match[1]);
  const minute = Number(match[2] ?? 0);
  const meridiem = match[3]?.[0]?.toLowerCase();
  if (meridiem === 'p' && hour < 12) hour += 12;
  if (meridiem === 'a' && hour === 12) hour = 0;
  if (hour > 23 || minute > 59) return null;
  const zone = validZone(timeZone);
  // The wall clock in the zone now, as if it were UTC, tells the zone's offset.
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(nowS * 1000));
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wallNowMs = Date.UTC(
    part('year'),
    part('month') - 1,
    part('day'),
    part('hour'),
    part('minute'),
    part('second'),
  );
  const offsetMs = wallNowMs - Math.round(nowS) * 1000;
  let at = (Date.UTC(part('year'), part('month') - 1, part('day'), hour, minute) - offsetMs) / 1000;
  if (at <= nowS) at += 24 * 3600;
  return at;
}

function validZone(timeZone: string | undefined): string | undefined {
  if (!timeZone) return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return timeZone;
  } catch {
    return undefined;
  }
}

/**
 * Claude Code: a `rate_limit_event` whose status is `rejected` (an `allowed` one is information
 * only), else the assistant's words: `You've hit your limit · resets 2pm (Europe/Helsinki)`, or
 * older builds' `Claude AI usage limit reached|<unix seconds>` / `usage limit reached … resets 3pm`.
 */
export function claudeUsageLimit(stdout: string, nowS: number): UsageLimitHit | null {
  const { objects } = extractObjects(stdout, RATE_LIMIT_EVENT_MARKER);
  const rejected = objects.findLast(
    (event) => isRecord(event.rate_limit_info) && event.rate_limit_info.status === 'rejected',
  );
  if (rejected) {
    const info = rejected.rate_limit_info as Record<string, unknown>;
    return { resets_at: unixSeconds(info.resetsAt), window: windowName(info.rateLimitType) };
  }
  const old = /Claude AI usage limit reached\|(\d{9,13})/.exec(stdout);
  if (old) return { resets_at: unixSeconds(Number(old[1])), window: null };
  const said =
    /You've hit your (\w+ )?limit\b[^\n"]*?resets\s+([0-9:]+\s*[ap]?\.?m?\.?)\s*(?:\(([^)]+)\))?/i.exec(
      stdout,
    ) ?? /usage limit reached[^\n"]*?resets\s+([0-9:]+\s*[ap]?\.?m?\.?)\s*(?:\(([^)]+)\))?/i.exec(stdout);
  if (said) {
    const hasWindow = said.length === 4;
    const clock = hasWindow ? said[2]! : said[1]!;
    const zone = hasWindow ? said[3] : said[2];
    const window = hasWindow && said[1] ? windowName(said[1].trim()) : null;
    return { resets_at: nextClockTime(clock, zone, nowS), window };
  }
  if (/You've hit your (\w+ )?limit/i.test(stdout)) return { resets_at: null, window: null };
  return null;
}

/**
 * Codex: an error whose `error.type` is `usage_limit_reached`, with `resets_at` (Unix seconds) or
 * `resets_in_seconds`; its plain-text `You've hit your usage limit` without a time.
 */
export function codexUsageLimit(stdout: string, nowS: number): UsageLimitHit | null {
  for (const event of jsonLines(stdout).reverse()) {
    const error = isRecord(event.error) ? event.error : event;
    if (error.type !== 'usage_limit_reached') continue;
    const at = unixSeconds(error.resets_at);
    const inSeconds = typeof error.resets_in_seconds === 'number' ? error.resets_in_seconds : null;
    return { resets_at: at ?? (inSeconds !== null ? nowS + inSeconds : null), window: null };
  }
  if (/usage_limit_reached|You've hit your usage limit/i.test(stdout))
    return { resets_at: null, window: null };
  return null;
}

/**
 * Gemini: quota errors are 429 RESOURCE_EXHAUSTED. The Google API's `retryDelay` ("37s"), or its
 * "Please retry in 37.2s", gives the reset; a per-day quota names the daily window.
 */
export function geminiUsageLimit(output: string, nowS: number): UsageLimitHit | null {
  if (!/RESOURCE_EXHAUSTED|status 429|"code":\s*429|Quota exceeded/i.test(output)) return null;
  const delay =
    /"retryDelay":\s*"(\d+(?:\.\d+)?)s"/.exec(output) ?? /retry in (\d+(?:\.\d+)?)\s*s/i.exec(output);
  const seconds = delay ? Number(delay[1]) : null;
  const window = /per ?day|PerDay/i.test(output) ? 'daily' : null;
  return { resets_at: seconds !== null ? nowS + Math.ceil(seconds) : null, window };
}

/**
 * An HTTP `Retry-After` header in seconds: a number of seconds or an HTTP date. Null when absent
 * or unreadable.
 */
export function retryAfterSeconds(header: string | null | undefined, nowMs: number): number | null {
  if (!header) return null;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, (at - nowMs) / 1000);
}

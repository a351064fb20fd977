/**
 * What an agent does about vendor limits, as pure functions (docs/AGENTS.md, "Limits"):
 *
 * - A spent usage window (`usage_limit`) is no task's fault: the task goes back to the queue, its
 *   attempt not counted, and the backend's route is paused until the reset plus a margin. With no
 *   reset time given, a bounded backoff: 5 min, doubling with each hit in a row, at most 1 h.
 * - Overload and bursts (`overloaded`, `rate_limit`) pass within seconds: the task goes back with
 *   a delay (backoff with jitter, at least the server's Retry-After), its attempt not counted, up
 *   to MAX_FREE_RETRIES times per task; after that a failure counts against max_attempts as usual.
 *   The count travels with the task (the hub keeps the last release's error), so it holds across
 *   agents and hubs.
 */
import type { BackendOutcome, FailureKind } from '../backends/types.ts';
import { limitReason } from '../backends/usage-limits.ts';
import type { Task } from '../protocol/model.ts';

/** Seconds after a window's reset before leasing again: vendors' clocks and ours differ a little. */
export const DEFAULT_LIMIT_MARGIN_S = 60;
/** The backoff when no reset time is given: first, and at most. */
export const NO_RESET_BACKOFF_S = { first: 300, max: 3600 };
/** Transient failures a task may have before one counts against its attempts. */
export const MAX_FREE_RETRIES = 5;
/** Backoff of transient retries: base * 2^(n-1), capped, then jittered. */
export const TRANSIENT_BACKOFF_MS: TransientBackoff = { base: 2000, max: 60_000 };

export interface TransientBackoff {
  base: number;
  max: number;
}

export const TRANSIENT_KINDS: readonly FailureKind[] = ['overloaded', 'rate_limit'];

type Failure = Extract<BackendOutcome, { ok: false }>;

export interface LimitPause {
  /** Unix seconds. */
  until: number;
  /** `five-hour usage limit`, or `usage limit; no reset time given: backing off 5 min`. */
  reason: string;
}

/**
 * The pause a usage-window hit asks for. `hitsInARow` counts hits without a reset time since the
 * last successful run (1 for the first), for the backoff.
 */
export function limitPause(
  failure: Pick<Failure, 'resets_at' | 'window'>,
  nowS: number,
  hitsInARow: number,
  marginS = DEFAULT_LIMIT_MARGIN_S,
): LimitPause {
  const reason = limitReason(failure.window);
  if (typeof failure.resets_at === 'number') {
    // A reset already past (clocks apart) still waits the margin: leasing at once would hit again.
    return { until: Math.max(failure.resets_at, nowS) + marginS, reason };
  }
  const backoff = Math.min(
    NO_RESET_BACKOFF_S.first * 2 ** Math.max(0, hitsInARow - 1),
    NO_RESET_BACKOFF_S.max,
  );
  return { until: nowS + backoff, reason: `${reason}; no reset time given: backing off ${backoff / 60} min` };
}

const RETRY_MARK = /\[transient retry (\d+) of \d+\]/;

/** How many transient retries the task has had so far (from its last release's error). */
export function freeRetriesSoFar(task: Pick<Task, 'error' | 'error_kind'>): number {
  if (!task.error_kind || !TRANSIENT_KINDS.includes(task.error_kind as FailureKind)) return 0;
  const match = task.error ? RETRY_MARK.exec(task.error) : null;
  return match ? Number(match[1]) : 0;
}

/** The error a transient release carries: the backend's words and the count, for the next agent. */
export function transientError(error: string, retry: number): string {
  return `[transient retry ${retry} of ${MAX_FREE_RETRIES}] ${error}`;
}

/** How long a task waits before transient retry `retry` (1-based), in ms. */
export function transientDelayMs(
  retry: number,
  retryAfterS: number | undefined,
  random = Math.random,
  policy: TransientBackoff = TRANSIENT_BACKOFF_MS,
): number {
  const backoff = Math.min(policy.base * 2 ** Math.max(0, retry - 1), policy.max);
  // Jitter spreads the agents that were refused together, so they do not come back together.
  const jittered = Math.round(backoff * (0.5 + random()));
  return Math.max(jittered, Math.round((retryAfterS ?? 0) * 1000));
}

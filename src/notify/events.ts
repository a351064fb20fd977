/**
 * What `--notify`, `--webhook` and `--notify-cmd` deliver: one JSON object per event, the same
 * for a webhook (the POST body) and a command (its stdin). The shape is documented in
 * docs/CLI.md (#notifications); fields are only ever added.
 */
import { hostname } from 'node:os';
import type { AgentInfo, Task } from '../protocol/model.ts';

export const NOTIFICATION_EVENTS = [
  'run.finished',
  'task.failed',
  'backend.unhealthy',
  'backend.paused',
] as const;
export type NotificationEventName = (typeof NOTIFICATION_EVENTS)[number];

interface Envelope<E extends NotificationEventName> {
  event: E;
  /** Unix seconds. */
  time: number;
  /** Who sent it: `mittelo hub` (--webhook) or `mittelo run` (--notify). */
  source: 'hub' | 'run';
  /** The machine it ran on, to tell several senders apart. */
  host: string;
  /** The hub's address (`tcp://…`, `tls://…`); null for the throwaway hub of a `mittelo run`. */
  hub: string | null;
}

/** Token counts and cost summed over the tasks whose usage reports them; null when none did. */
export interface RunCost {
  cost_usd: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
}

/** How a run's tasks ended, and how long it took: in `run.finished` and in the run's summary. */
export interface RunCounts {
  total: number;
  done: number;
  failed: number;
  canceled: number;
  /** Tasks that had not finished when the run ended (deadline, no agent able to take them, the run budget, Ctrl-C). */
  unfinished: number;
  wall_ms: number;
}

export interface RunFinished extends Envelope<'run.finished'> {
  run: RunCounts & {
    /** finished, deadline, stuck, budget or interrupted (as `mittelo run --json`). */
    ended: string;
    /** The results file. */
    results: string;
    cost: RunCost;
  };
}

/** A task that failed for good (no attempts left), with what a person needs to act on it. */
export interface TaskFailed extends Envelope<'task.failed'> {
  task: {
    task_id: number;
    backend: string | null;
    tags: string[];
    worker_id: string | null;
    attempts: number;
    max_attempts: number;
    error_kind: string | null;
    /** Cut to ERROR_CHARS. */
    error: string | null;
    error_fix: string | null;
    /** Cut to PROMPT_CHARS. */
    prompt: string;
    metadata: Record<string, unknown> | null;
  };
}

/** The first agent of a backend to turn unhealthy; said again only after every one recovered. */
export interface BackendUnhealthy extends Envelope<'backend.unhealthy'> {
  /** null: agents that run unrouted work only (no backend name). */
  backend: string | null;
  worker_id: string;
  reason: string | null;
  fix: string | null;
}

/** `mittelo pause`: agents get no new leases of this backend (null: of any backend). */
export interface BackendPaused extends Envelope<'backend.paused'> {
  backend: string | null;
}

export type Notification = RunFinished | TaskFailed | BackendUnhealthy | BackendPaused;

export const PROMPT_CHARS = 500;
export const ERROR_CHARS = 2000;

/** Who sends, from where: the envelope every notification of one sender shares. */
export interface NotificationOrigin {
  source: 'hub' | 'run';
  hub: string | null;
}

function envelope<E extends NotificationEventName>(event: E, origin: NotificationOrigin): Envelope<E> {
  return { event, time: Date.now() / 1000, source: origin.source, host: hostname(), hub: origin.hub };
}

function cut(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

export function taskFailed(task: Task, origin: NotificationOrigin): TaskFailed {
  return {
    ...envelope('task.failed', origin),
    task: {
      task_id: task.task_id,
      backend: task.backend,
      tags: task.tags,
      worker_id: task.worker_id,
      attempts: task.attempts,
      max_attempts: task.max_attempts,
      error_kind: task.error_kind,
      error: task.error === null ? null : cut(task.error, ERROR_CHARS),
      error_fix: task.error_fix,
      prompt: cut(task.prompt, PROMPT_CHARS),
      metadata: task.metadata,
    },
  };
}

export function backendUnhealthy(agent: AgentInfo, origin: NotificationOrigin): BackendUnhealthy {
  return {
    ...envelope('backend.unhealthy', origin),
    backend: agent.backend,
    worker_id: agent.worker_id,
    reason: agent.reason,
    fix: agent.fix,
  };
}

export function backendPaused(backend: string | null, origin: NotificationOrigin): BackendPaused {
  return { ...envelope('backend.paused', origin), backend };
}

export function runFinished(run: RunFinished['run'], origin: NotificationOrigin): RunFinished {
  return { ...envelope('run.finished', origin), run };
}

/** Sum cost and tokens over usage records (the CLI drivers report `cost_usd`, `input_tokens`, `output_tokens`). */
export function runCost(usages: Iterable<Record<string, unknown> | null>): RunCost {
  const sums: RunCost = { cost_usd: null, input_tokens: null, output_tokens: null };
  for (const usage of usages) {
    if (!usage) continue;
    for (const key of ['cost_usd', 'input_tokens', 'output_tokens'] as const) {
      const value = usage[key];
      if (typeof value === 'number' && Number.isFinite(value)) sums[key] = (sums[key] ?? 0) + value;
    }
  }
  // Dollars summed as floats pick up noise (0.1 + 0.2): a millionth of a dollar is plenty.
  if (sums.cost_usd !== null) sums.cost_usd = Math.round(sums.cost_usd * 1e6) / 1e6;
  return sums;
}

/**
 * One task's run: the backend call, the lease heartbeat beside it, and the ways to stop it early.
 * Knows nothing of acks: it reports how the run ended, and the agent decides what to tell the hub.
 */

import type { Backend, BackendOutcome, OutputEvent, Permissions } from '../backends/types.ts';
import { HubError } from '../client/hub-client.ts';
import type { Task } from '../protocol/model.ts';
import type { PreparedWorktree } from '../workspace/task-worktree.ts';

/** Why a run was stopped before its backend finished. */
export type StopReason =
  /** The task was canceled on the hub. */
  | 'revoked'
  /** The hub no longer knows our lease (it expired and went to another agent). */
  | 'lost'
  /** The agent is shutting down: the task goes back to the queue. */
  | 'shutdown';

export interface RunTaskDeps {
  backend: Backend;
  workerId: string;
  timeoutMs: number;
  maxOutputBytes: number;
  /** Extend the lease this often while the backend runs; null for no heartbeat. */
  heartbeatMs: number | null;
  extend: () => Promise<unknown>;
  /** Hears the run's live output as it happens (the agent forwards it to the hub). */
  onOutput?: (event: OutputEvent) => void;
  /** What the backend may do (the agent decided: task-workspace.ts planTask). */
  permissions?: Permissions;
  /**
   * Makes the task's own worktree before the backend runs (worktree tasks only). A failure ends
   * the run unrun, with that failure as its outcome (RunEnd.workspaceFailed).
   */
  prepareWorkspace?: () => Promise<PreparedWorktree | Extract<BackendOutcome, { ok: false }>>;
}

export interface RunEnd {
  outcome: BackendOutcome;
  stoppedBy: StopReason | null;
  durationMs: number;
  /** The worktree the backend ran in (worktree tasks whose worktree was made). */
  worktree: PreparedWorktree | null;
  /** The outcome is the worktree's failure: the backend never ran. */
  workspaceFailed: boolean;
}

export interface RunningTask {
  stop(reason: StopReason): void;
  result: Promise<RunEnd>;
}

export function runTask(task: Task, deps: RunTaskDeps): RunningTask {
  const controller = new AbortController();
  let stoppedBy: StopReason | null = null;
  const stop = (reason: StopReason) => {
    if (stoppedBy !== null) return;
    stoppedBy = reason;
    controller.abort(reason);
  };

  const heartbeat =
    deps.heartbeatMs !== null && !deps.backend.instant
      ? setInterval(() => {
          deps.extend().catch((error: unknown) => {
            // Unreachable: the next beat tries again after the reconnect. Conflict or not found:
            // the lease is gone (canceled, or expired and taken), so the work would be wasted.
            if (error instanceof HubError && (error.code === 'conflict' || error.code === 'not_found'))
              stop('lost');
          });
        }, deps.heartbeatMs)
      : null;

  let started = performance.now();
  let worktree: PreparedWorktree | null = null;
  let workspaceFailed = false;
  const run = async (): Promise<BackendOutcome> => {
    if (deps.prepareWorkspace) {
      const prepared = await deps.prepareWorkspace();
      if ('ok' in prepared) {
        workspaceFailed = true;
        return prepared;
      }
      worktree = prepared;
      started = performance.now(); // the run's duration is the backend's, not git's
    }
    if (controller.signal.aborted) {
      // Stopped while its worktree was being made: the backend is not started at all.
      return {
        ok: false,
        kind: 'unknown',
        error: `stopped (${String(stoppedBy)}) before the backend started`,
      };
    }
    return deps.backend.run(
      {
        task_id: task.task_id,
        prompt: task.prompt,
        worker_id: deps.workerId,
        metadata: task.metadata,
        // A v0.1 hub's tasks have no max_cost_usd.
        max_cost_usd: task.max_cost_usd ?? null,
        // Drivers whose CLI takes a schema pass it on; the agent validates every answer anyway.
        output_schema: task.output_schema ?? null,
        // A v0.1 hub's tasks have neither: they start over, as they always did.
        ...resumeOf(task),
        ...(worktree ? { workdir: (worktree as PreparedWorktree).path } : {}),
        ...(deps.permissions ? { permissions: deps.permissions } : {}),
      },
      {
        signal: controller.signal,
        timeoutMs: deps.timeoutMs,
        maxOutputBytes: deps.maxOutputBytes,
        ...(deps.onOutput ? { onOutput: deps.onOutput } : {}),
      },
    );
  };
  const result = run()
    .catch(
      (error: unknown): BackendOutcome => ({
        ok: false,
        kind: 'unknown',
        error: `backend ${deps.backend.name} crashed: ${(error as Error)?.message ?? String(error)}`,
      }),
    )
    .then((outcome) => {
      if (heartbeat) clearInterval(heartbeat);
      return { outcome, stoppedBy, durationMs: performance.now() - started, worktree, workspaceFailed };
    });
  return { stop, result };
}

/** What a task says about continuing its last CLI session, for the backend (BackendTask). */
export function resumeOf(task: Task): { resume?: boolean; resume_session?: string } {
  if (task.resume !== true) return {};
  return task.session_id ? { resume: true, resume_session: task.session_id } : { resume: true };
}

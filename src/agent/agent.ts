/**
 * An agent: one connection to a hub, a lease loop, and up to `maxTasks` backend runs at once.
 *
 * - Idle, it waits on a long-poll lease, so a new task starts within milliseconds. Against a v0.1
 *   hub (no `hello`) it polls instead, and acks the v0.1 way.
 * - A slot frees as soon as the backend finishes; the ack goes out while the next lease is
 *   already asked for (both leave in the same write).
 * - While a backend runs, a heartbeat extends the lease; a cancel on the hub (pushed as
 *   `lease.revoked`) or a lost lease stops the backend.
 * - The hub going away is said once per outage; calls wait for the reconnect and carry on. With
 *   several hub addresses the client moves on to the next one, and acks and releases that were in
 *   flight are sent again there (one the old hub had applied is recognised, not counted twice).
 * - stop(): stop leasing, let running tasks finish within a grace period, release the rest.
 *
 * The agent reaches the queue only through HubClient, and backends only through their interface.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { compileAnswerSchema } from '../answers/answer-schema.ts';
import { parseAnswer } from '../answers/parse-answer.ts';
import { type Backend, type BackendOutcome, type FailureKind, SETUP_KINDS } from '../backends/types.ts';
import {
  formatHubAddress,
  HubClient,
  type HubClientOptions,
  HubError,
  HubUnreachableError,
  isUnknownMethod,
  RequestTimeoutError,
  TlsError,
} from '../client/hub-client.ts';
import { STORAGE_ERROR_CODES } from '../errors.ts';
import type { Task, WorktreeChange } from '../protocol/model.ts';
import { costOf } from '../spend/cost.ts';
import {
  freeRetriesSoFar,
  limitPause,
  MAX_FREE_RETRIES,
  TRANSIENT_KINDS,
  type TransientBackoff,
  transientDelayMs,
  transientError,
} from './limit-policy.ts';
import { OutputForwarder } from './output-forwarder.ts';
import { type RunEnd, type RunningTask, runTask } from './run-task.ts';
import {
  finishTaskWorkspace,
  planTask,
  prepareTaskWorkspace,
  type RunEnding,
  type WorkspaceOptions,
} from './task-workspace.ts';
import { defaultWorkerId } from './worker-id.ts';

/** Workspace options (task-workspace.ts): --workspace, --repo, --base, --keep-worktrees, --permissions. */
export interface AgentOptions extends WorkspaceOptions {
  host?: string;
  port?: number;
  /** Several addresses of the hub, tried in turn (failover); wins over host/port. See HubClientOptions. */
  hubs?: HubClientOptions['hubs'];
  /** TLS for addresses that do not say (HubClientOptions.tls). */
  tls?: boolean | undefined;
  /** The CA certificates (PEM) to trust for TLS, instead of the system store. */
  tlsCa?: HubClientOptions['tlsCa'];
  /** Request timeout of ordinary calls (HubClientOptions.requestTimeoutMs). */
  requestTimeoutMs?: number | undefined;
  token?: string | undefined;
  backend: Backend;
  workerId?: string | undefined;
  tags?: string[] | undefined;
  /** Tasks run at once (default 1). */
  maxTasks?: number;
  /** Lease length asked for; default the hub's. */
  leaseSeconds?: number | undefined;
  /** Timeout for tasks that set none (default 600 s). */
  timeoutS?: number;
  /** Output kept per run (default 4 MiB). */
  maxOutputBytes?: number;
  /** Lease once, run what came, exit. */
  once?: boolean;
  /** Where the agent says what it does (default: stderr with the worker id in front). */
  log?: (message: string) => void;
  /** How long one long-poll lease waits on the hub (default 20 s). */
  longPollMs?: number;
  /** Pause between empty polls against a v0.1 hub (default 250 ms). */
  pollIntervalMs?: number;
  /**
   * Check the backend before leasing (default true). A backend that is not ready makes the agent
   * report itself unhealthy (reason and fix shown by `mittelo status`), lease nothing, and check
   * again every `recheckMs` until it is.
   */
  preflight?: boolean;
  recheckMs?: number;
  /**
   * Exit (code 1) instead of waiting when the backend is not ready: at start, or when a run fails
   * with a kind no retry fixes (auth, config, not_installed).
   */
  requireReady?: boolean;
  /**
   * Seconds after a usage window's reset before the backend's pause ends (default 60;
   * MITTELO_LIMIT_MARGIN_S for the CLI). See limit-policy.ts.
   */
  limitMarginS?: number | undefined;
  /** Backoff of free retries after overload (default 2 s doubling to 60 s; tests shorten it). */
  transientBackoffMs?: TransientBackoff | undefined;
}

export interface AgentCounts {
  done: number;
  failed: number;
  released: number;
  /** Tasks whose lease was taken away (canceled on the hub, or lost) while they ran. */
  dropped: number;
}

/**
 * Whether an agent can take tasks now, for whoever supervises it (`mittelo run` ends a run that no
 * agent can finish). Not usable: its backend is not ready (a failed preflight, or a run that failed
 * with auth, config or not_installed), or the agent has ended.
 */
export interface AgentReadiness {
  usable: boolean;
  /** Why not (the backend's problem, or how the agent ended); null while usable. */
  reason: string | null;
  fix: string | null;
}

/**
 * Why run() ended: 0 stopped or finished, 1 backend not ready under requireReady, 3 the hub
 * cannot be reached securely (TLS: certificate not trusted, TLS against a plain hub or the
 * reverse), 4 the hub refused us (token).
 */
export interface AgentExit {
  code: 0 | 1 | 3 | 4;
  reason: string;
}

const DEFAULT_TIMEOUT_S = 600;
const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
const DEFAULT_LEASE_SECONDS = 60;
const RETRY_PAUSE_MS = 1000;
/** How often an ack the hub could not store (full disk) is sent again. */
const STORAGE_RETRY_PAUSE_MS = 2000;
const RECHECK_MS = 30_000;
/** After run-time setup failures the re-check waits longer each time, up to this. */
const MAX_RECHECK_MS = 10 * 60_000;
/**
 * An instant backend (echo) answers within microseconds, so it takes this many tasks per lease
 * whatever --max-tasks says: a round trip per task would be the only cost left, and the leased
 * tasks are worked off at once, not hoarded.
 */
const INSTANT_BATCH = 32;
/** How long stop() waits for releases and acks after the grace period, before closing anyway. */
const SETTLE_LIMIT_MS = 5000;

export class Agent {
  readonly workerId: string;
  readonly backend: Backend;
  readonly counts: AgentCounts = { done: 0, failed: 0, released: 0, dropped: 0 };
  private readonly options: AgentOptions;
  private readonly client: HubClient;
  private readonly log: (message: string) => void;
  private readonly running = new Map<number, RunningTask>();
  /** Running tasks' live output, to a hub that takes it (output-forwarder.ts). */
  private readonly outputs = new OutputForwarder({
    send: (call) => this.client.output(call),
    enabled: () => this.client.hasFeature('live_output'),
  });
  private readonly settling = new Set<Promise<void>>();
  private stopping = false;
  /** Aborted by stop(): cuts every pause short, so a stopping agent never waits out a timer. */
  private readonly halt = new AbortController();
  private slotFreed: (() => void) | null = null;
  private stopped: (() => void) | null = null;
  private outageSince: number | null = null;
  private everConnected = false;
  private exit: AgentExit = { code: 0, reason: 'stopped' };
  /** Set when a run failed in a way only a person can fix; leasing stops until the backend is ready. */
  private setupFailure: {
    reason: string;
    fix: string | undefined;
    /** What released tasks carry back to the queue (error, kind, fix), so status shows why. */
    release: { error: string; error_kind: string; error_fix: string | undefined } | null;
  } | null = null;
  private setupFailures = 0;
  /** The last preflight's problem while the backend is not ready; null once it is (or before a check). */
  private notReady: { reason: string; fix: string | undefined } | null = null;
  private ended = false;
  /** Usage-window hits without a reset time since the last successful run (their backoff grows). */
  private limitHitsInARow = 0;
  /**
   * Unix seconds until which this agent leases nothing by itself: a usage window is spent and the
   * hub could not pause the route (it predates `pause`). 0: no such wait.
   */
  private limitedUntil = 0;

  constructor(options: AgentOptions) {
    this.options = options;
    this.backend = options.backend;
    this.workerId = options.workerId ?? defaultWorkerId();
    this.log = options.log ?? ((message) => process.stderr.write(`[${this.workerId}] ${message}\n`));
    this.client = new HubClient({
      host: options.host,
      port: options.port,
      hubs: options.hubs,
      tls: options.tls,
      tlsCa: options.tlsCa,
      requestTimeoutMs: options.requestTimeoutMs,
      token: options.token,
      workerId: this.workerId,
      backend: this.backend.name,
      tags: options.tags,
      client: 'mittelo-agent',
      features: ['lease_revocations'],
    });
    this.watchConnection();
    this.client.on('event', (event) => {
      if (event.event === 'lease.revoked') this.running.get(event.task_id)?.stop('revoked');
    });
  }

  /** Tasks running now. */
  get busy(): number {
    return this.running.size;
  }

  /** Can this agent take tasks now, and if not, why (see AgentReadiness). */
  get readiness(): AgentReadiness {
    const problem = this.setupFailure ?? this.notReady;
    if (problem) return { usable: false, reason: problem.reason, fix: problem.fix ?? null };
    if (!this.ended) return { usable: true, reason: null, fix: null };
    const reason = this.exit.code === 0 ? 'the agent stopped' : `the agent exited: ${this.exit.reason}`;
    return { usable: false, reason, fix: null };
  }

  /** Run until stop() (or, with `once`, until the first lease is worked off). */
  async run(): Promise<AgentExit> {
    const done = new Promise<void>((resolve) => {
      this.stopped = resolve;
    });
    void this.leaseLoop().catch((error: unknown) => {
      this.log(`stopping: ${(error as Error).message}`);
      void this.stop(0);
    });
    await done;
    this.ended = true;
    return this.exit;
  }

  /** Tell the hub this agent can or cannot work, and why (shown by `mittelo status`). */
  async reportHealth(healthy: boolean, reason?: string, fix?: string): Promise<void> {
    try {
      await this.client.reportHealth({ healthy, reason, fix });
    } catch (error) {
      if (!isUnknownMethod(error)) throw error;
      // A v0.1 hub has no health registry; the agent's own log says it.
    }
  }

  /**
   * Stop leasing; give running tasks `graceMs` to finish, release the rest to the queue, then
   * close. Calling it again with a shorter grace (a second Ctrl-C) cuts the wait short.
   */
  async stop(graceMs = 10_000): Promise<void> {
    const first = !this.stopping;
    this.stopping = true;
    this.halt.abort();
    this.slotFreed?.();
    if (!first) {
      for (const task of this.running.values()) task.stop('shutdown');
      return;
    }
    if (this.running.size > 0 && graceMs > 0) await within(graceMs, this.allSettled());
    for (const task of this.running.values()) task.stop('shutdown');
    await within(SETTLE_LIMIT_MS, this.allSettled());
    this.outputs.close();
    this.client.close();
    this.stopped?.();
  }

  // ---- leasing ----

  private async leaseLoop(): Promise<void> {
    if (this.options.preflight ?? true) await this.untilReady(false);
    const maxTasks = Math.max(1, this.options.maxTasks ?? 1);
    while (!this.stopping) {
      if (this.setupFailure) {
        if (this.options.requireReady) {
          this.exit = {
            code: 1,
            reason: `backend ${this.backend.name} is not ready: ${this.setupFailure.reason}`,
          };
          break;
        }
        await this.untilReady(true);
        continue;
      }
      const waitMs = this.limitedUntil * 1000 - Date.now();
      if (waitMs > 0) {
        await this.pause(waitMs);
        if (!this.stopping)
          this.log(`the ${this.backend.name} usage window should have reset; leasing again`);
        continue;
      }
      const free = maxTasks - this.running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.slotFreed = resolve;
        });
        this.slotFreed = null;
        continue;
      }
      const batch = this.backend.instant && !this.options.once ? Math.max(free, INSTANT_BATCH) : free;
      const tasks = await this.lease(batch);
      if (tasks === null) continue;
      // The backend may have failed for good while this lease was parked (TypeScript cannot see
      // that change across the await, hence the method call).
      const failure = this.currentSetupFailure();
      if (this.stopping || failure) {
        // Stopping, or the backend cannot run: these go to agents that can run them.
        for (const task of tasks) this.track(this.release(task, failure?.release ?? null));
        continue;
      }
      if (this.limitedUntil * 1000 > Date.now()) {
        // A usage window was hit while this lease was parked, on a hub that could not pause the
        // route: the lease may bring back the very task given back. It goes back again, its
        // reason kept, and the loop waits for the reset above.
        for (const task of tasks) this.track(this.release(task, reasonOf(task)));
        continue;
      }
      for (const task of tasks) this.start(task);
      if (this.options.once) break;
      if (tasks.length === 0 && this.client.hello === null)
        await this.pause(this.options.pollIntervalMs ?? 250);
    }
    if ((this.options.once || this.exit.code !== 0) && !this.stopping) {
      await this.allSettled();
      await this.stop(0);
    }
  }

  /**
   * Hold off leasing while the backend is not ready, telling the hub why (once). After a run-time
   * setup failure (`afterFailure`) it first waits — longer after each failure in a row — since a
   * preflight cannot see everything (a key that is present but rejected). Under requireReady a
   * preflight failure ends the agent instead.
   */
  private async untilReady(afterFailure: boolean): Promise<void> {
    const recheckMs = this.options.recheckMs ?? RECHECK_MS;
    let reported = afterFailure;
    let pauseMs = afterFailure ? Math.min(recheckMs * 2 ** (this.setupFailures - 1), MAX_RECHECK_MS) : 0;
    while (!this.stopping) {
      if (pauseMs > 0) await this.pause(pauseMs);
      if (this.stopping) return;
      const report = await this.backend.preflight();
      if (report.ready) {
        if (reported) {
          this.log(`backend ${this.backend.name} looks ready; leasing again`);
          await this.withReconnect('health report', () => this.reportHealth(true));
        }
        this.setupFailure = null;
        this.notReady = null;
        return;
      }
      const problem = report.problems.find((p) => p.severity === 'fail')!;
      this.notReady = { reason: problem.message, fix: problem.fix };
      if (this.options.requireReady) {
        this.setupFailure = { reason: problem.message, fix: problem.fix, release: null };
        return;
      }
      if (!reported) {
        this.log(
          `backend ${this.backend.name} is not ready: ${problem.message}${problem.fix ? ` (fix: ${problem.fix})` : ''}; checking again every ${recheckMs / 1000} s`,
        );
        await this.withReconnect('health report', () =>
          this.reportHealth(false, `${this.backend.name}: ${problem.message}`, problem.fix),
        );
        reported = true;
      }
      pauseMs = recheckMs;
    }
  }

  private currentSetupFailure(): Agent['setupFailure'] {
    return this.setupFailure;
  }

  /** A run failed in a way only a person can fix: stop leasing and say so, here and on the hub. */
  private async noteSetupFailure(
    task: Task,
    why: { error: string; error_kind: string; error_fix: string | undefined },
  ): Promise<void> {
    if (this.setupFailure) return;
    const fix = why.error_fix;
    const reason = `${why.error_kind}: ${why.error.split('\n')[0]!.slice(0, 300)}`;
    this.setupFailure = { reason, fix, release: why };
    this.setupFailures += 1;
    this.log(
      `backend ${this.backend.name} cannot run tasks (${reason})${fix ? `; fix: ${fix}` : ''}. Task ${task.task_id} went back to the queue; this agent leases nothing until the backend is ready`,
    );
    await this.withReconnect('health report', () =>
      this.reportHealth(false, `${this.backend.name}: ${reason}`, fix),
    );
  }

  /** One lease call; null when it failed in a way worth retrying after a pause. */
  private async lease(free: number): Promise<Task[] | null> {
    const params = {
      worker_id: this.workerId,
      max_tasks: free,
      lease_seconds: this.options.leaseSeconds,
      backend: this.backend.name,
      tags: this.options.tags,
      // A v0.1 hub has no long-poll; `once` takes only what is there now.
      wait_ms: this.client.hello && !this.options.once ? (this.options.longPollMs ?? 20_000) : undefined,
    };
    try {
      return (await this.client.lease(params)).tasks;
    } catch (error) {
      if (this.stopping) return [];
      if (error instanceof HubUnreachableError) return null; // the next call reconnects
      if (error instanceof HubError && error.code === 'unauthorized') {
        this.exit = { code: 4, reason: error.message };
        throw error;
      }
      if (error instanceof TlsError) {
        this.exit = { code: 3, reason: error.message };
        throw error;
      }
      if (error instanceof HubError && error.code === 'bad_request') throw error;
      this.log(`lease failed: ${(error as Error).message}; retrying in ${RETRY_PAUSE_MS / 1000} s`);
      await this.pause(RETRY_PAUSE_MS);
      return null;
    }
  }

  // ---- running ----

  private start(task: Task): void {
    const leaseMs =
      (this.options.leaseSeconds ?? this.client.hello?.lease_seconds ?? DEFAULT_LEASE_SECONDS) * 1000;
    const plan = planTask(task, this.options);
    const running = runTask(task, {
      onOutput: this.outputs.stream(task, this.workerId),
      permissions: plan.permissions,
      ...(plan.mode === 'worktree'
        ? { prepareWorkspace: () => prepareTaskWorkspace(task, plan, this.options) }
        : {}),
      backend: this.backend,
      workerId: this.workerId,
      timeoutMs: (task.timeout_s ?? this.options.timeoutS ?? DEFAULT_TIMEOUT_S) * 1000,
      maxOutputBytes: this.options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      // v0.1 hubs cannot extend a lease; their tasks run on the lease they got.
      heartbeatMs: this.client.hello ? Math.max(100, leaseMs / 3) : null,
      extend: () =>
        this.client.extend({
          task_id: task.task_id,
          lease_token: task.lease_token,
          lease_seconds: this.options.leaseSeconds,
        }),
    });
    this.running.set(task.task_id, running);
    const settled = running.result.then((end) => {
      this.outputs.end(task.task_id); // what is left of its output goes out before the ack
      this.running.delete(task.task_id);
      this.slotFreed?.();
      return this.settle(task, end);
    });
    this.track(settled);
  }

  /**
   * Report how a run ended: ack it, release it (shutdown), or drop it (lease taken away). A
   * worktree is recorded (committed, diffed) for runs that are acked and for canceled ones; a run
   * that goes back to the queue leaves its worktree as it is, for the next run to continue in.
   */
  private async settle(task: Task, end: RunEnd): Promise<void> {
    const { outcome, stoppedBy, durationMs } = end;
    if (stoppedBy === 'shutdown') return this.release(task);
    // A worktree that could not be made is the task's problem (its base ref), or this agent's
    // (no --repo): the task is failed with kind config below, not the backend marked unready.
    if (!outcome.ok && SETUP_KINDS.includes(outcome.kind) && !end.workspaceFailed) {
      // Not the task's fault: give it back for an agent whose backend works. Leasing stops first,
      // so a lease already parked at the hub does not take it straight back to run it here.
      const why = { error: outcome.error, error_kind: outcome.kind, error_fix: outcome.fix };
      const noted = this.noteSetupFailure(task, why);
      await this.release(task, why, undefined, sessionOf(outcome));
      return noted;
    }
    if (stoppedBy === 'revoked' || stoppedBy === 'lost') {
      this.counts.dropped += 1;
      const why = stoppedBy === 'revoked' ? 'was canceled on the hub' : 'lost its lease';
      this.log(`task ${task.task_id} ${why}; its backend was stopped`);
      // Canceled: what the backend left is committed on the branch, the folder removed. A lost
      // lease belongs to another agent now, which may be continuing in this very worktree.
      if (stoppedBy === 'revoked' && end.worktree) await this.recordWorktree(task, end, 'canceled');
      return;
    }
    if (outcome.ok) this.limitHitsInARow = 0;
    // Limits are not the task's fault: it goes back without spending an attempt (limit-policy.ts).
    // A v0.1 hub has no release, so there the failure is acked as any other.
    if (!outcome.ok && this.client.hello !== null) {
      if (outcome.kind === 'usage_limit') return this.onUsageLimit(task, outcome);
      const retry = freeRetriesSoFar(task) + 1;
      if (TRANSIENT_KINDS.includes(outcome.kind) && retry <= MAX_FREE_RETRIES) {
        const delayMs = transientDelayMs(
          retry,
          outcome.retry_after_s,
          Math.random,
          this.options.transientBackoffMs,
        );
        this.log(
          `task ${task.task_id}: ${outcome.kind} (${outcome.error.split('\n')[0]!.slice(0, 200)}); back to the queue for ${(delayMs / 1000).toFixed(1)} s, transient retry ${retry} of ${MAX_FREE_RETRIES}, its attempt not counted`,
        );
        const why = {
          error: transientError(outcome.error, retry),
          error_kind: outcome.kind,
          error_fix: outcome.fix,
        };
        return this.release(task, why, delayMs, sessionOf(outcome));
      }
    }
    // What the run cost, failed or not (src/spend/cost.ts); a run with no usage sends none. Only
    // to a v1 hub: a v0.1 hub keeps no cost, and an older peer need not see fields it never knew.
    const cost = this.client.hello ? costOf(outcome.usage, this.backend.name) : null;
    // The CLI session this run used, done or failed: what the task's next run continues.
    const session = this.sessionParam(outcome);
    const base = {
      task_id: task.task_id,
      lease_token: task.lease_token,
      worker_id: this.workerId,
      duration_ms: Math.round(durationMs),
      usage: outcome.usage,
      ...cost,
      ...session,
    };
    const answer = outcome.ok ? checkAnswer(task, outcome.output) : null;
    const ack = !outcome.ok
      ? {
          ...base,
          status: 'failed' as const,
          error: outcome.error,
          error_kind: outcome.kind,
          error_fix: outcome.fix,
          // A run stopped at its max_cost_usd would spend it again: no retry.
          ...(outcome.kind === 'budget' && this.client.hello ? { retryable: false } : {}),
        }
      : answer === null || answer.ok
        ? {
            ...base,
            status: 'done' as const,
            result: outcome.output,
            ...(answer ? { parsed: answer.parsed } : {}),
          }
        : {
            // The run worked but its answer is not what output_schema asks for: a failed attempt
            // that keeps the raw text (to see what the model said), retried like any other.
            ...base,
            status: 'failed' as const,
            result: outcome.output,
            error: answer.error,
            error_kind: 'bad_output' satisfies FailureKind,
            error_fix: answer.fix,
            retryable: answer.retryable,
          };
    if (answer && !answer.ok) {
      this.log(`task ${task.task_id}: bad_output (${answer.error.split('\n')[0]!.slice(0, 200)})`);
    }
    const recorded = end.worktree ? await this.recordWorktree(task, end, ack.status) : null;
    if (recorded && !recorded.ok) {
      // The run's change could not be recorded: the task did not deliver it, so the attempt fails.
      Object.assign(ack, {
        status: 'failed',
        error: recorded.error,
        error_kind: 'unknown',
        error_fix: `look at the worktree ${end.worktree!.path} (branch ${end.worktree!.branch})`,
      });
    } else if (recorded?.ok && this.hubHasWorkspaces()) {
      Object.assign(ack, { worktree: recorded.change });
    }
    // An ack whose answer was lost may have been stored: the hub then says the task is already
    // in the status we sent, which is this ack's success, not a refusal.
    const applied = (error: HubError) => error.code === 'conflict' && error.details?.status === ack.status;
    if (await this.withReconnect(`ack of task ${task.task_id}`, () => this.client.ack(ack), applied)) {
      if (ack.status === 'done') this.counts.done += 1;
      else this.counts.failed += 1;
    }
  }

  /**
   * The backend's usage window is spent: pause its route on the hub (every agent of it, on every
   * hub of the store) until the reset plus the margin, then give the task back, attempt not
   * counted. Pausing first keeps a lease parked at the hub from taking the task straight back.
   */
  private async onUsageLimit(task: Task, failure: Extract<BackendOutcome, { ok: false }>): Promise<void> {
    if (typeof failure.resets_at !== 'number') this.limitHitsInARow += 1;
    const pause = limitPause(failure, Date.now() / 1000, this.limitHitsInARow, this.options.limitMarginS);
    const until = Math.ceil(pause.until);
    const name = this.backend.name;
    try {
      await this.client.pause({ backend: name, until, reason: pause.reason });
      this.log(
        `task ${task.task_id} hit the ${pause.reason}: ${name} paused until ${clock(until)}; the task went back to the queue, its attempt not counted`,
      );
    } catch (error) {
      // An older hub (no `pause`), or one that cannot be reached: this agent waits by itself.
      this.limitedUntil = Math.max(this.limitedUntil, until);
      const why = isUnknownMethod(error)
        ? 'the hub cannot pause routes (it predates `pause`)'
        : (error as Error).message;
      this.log(
        `task ${task.task_id} hit the ${pause.reason}; ${why}, so this agent leases nothing until ${clock(until)}`,
      );
    }
    await this.release(
      task,
      { error: failure.error, error_kind: failure.kind, error_fix: failure.fix },
      undefined,
      sessionOf(failure),
    );
  }

  /**
   * Commit and diff what the run left in its worktree, and remove or keep the folder
   * (task-workspace.ts). A git failure is said here and returned, never thrown.
   */
  private async recordWorktree(
    task: Task,
    end: RunEnd,
    ending: RunEnding,
  ): Promise<{ ok: true; change: WorktreeChange } | { ok: false; error: string }> {
    try {
      const { change, finished } = await finishTaskWorkspace(task, end.worktree!, ending, this.options);
      const what =
        change.commit === null
          ? 'no change'
          : `${change.files_changed} file(s) +${change.insertions} -${change.deletions} in ${finished.commits} commit(s)`;
      // Said only for worktrees left behind (failed, kept, canceled): a done one is in the results.
      if (change.kept || ending === 'canceled')
        this.log(
          `task ${task.task_id} ${ending}: branch ${change.branch}: ${what}; ${change.kept ? `worktree kept at ${change.path}` : 'worktree removed'}`,
        );
      return { ok: true, change };
    } catch (error) {
      const message = `the run ended, but its worktree could not be recorded: ${(error as Error).message}`;
      this.log(`task ${task.task_id}: ${message}`);
      return { ok: false, error: message };
    }
  }

  /** Whether the hub takes tasks' workspaces and the ack's worktree (feature `workspaces`). */
  private hubHasWorkspaces(): boolean {
    return this.client.hasFeature('workspaces');
  }

  /** `{session_id}` for an ack, to a v1 hub only (a v0.1 hub gets nothing new); `{}` without one. */
  private sessionParam(outcome: BackendOutcome): { session_id?: string } {
    const session = this.client.hello ? sessionOf(outcome) : undefined;
    return session ? { session_id: session } : {};
  }

  private async release(
    task: Task,
    why: { error: string; error_kind: string; error_fix: string | undefined } | null = null,
    delayMs?: number,
    sessionId?: string,
  ): Promise<void> {
    if (this.client.hello === null) return; // v0.1: no release; the lease runs out on its own
    const released = await this.withReconnect(
      `release of task ${task.task_id}`,
      () =>
        this.client.release({
          task_id: task.task_id,
          lease_token: task.lease_token,
          ...(delayMs ? { delay_ms: delayMs } : {}),
          ...(why ? { error: why.error, error_kind: why.error_kind } : {}),
          ...(why?.error_fix ? { error_fix: why.error_fix } : {}),
          ...(sessionId ? { session_id: sessionId } : {}),
        }),
      (error) => error.code === 'conflict' && error.details?.status === 'queued',
    );
    if (released) this.counts.released += 1;
  }

  /**
   * Run a call that must reach the hub, across reconnects (to the next hub address, when there
   * are several). A hub that answers "no longer yours" (conflict, not found) is final: the lease
   * went to someone else or the task was canceled — unless an earlier try may have been applied
   * and `appliedAlready` says this refusal is what that earlier try did.
   */
  private async withReconnect(
    what: string,
    call: () => Promise<unknown>,
    appliedAlready?: (error: HubError) => boolean,
  ): Promise<boolean> {
    let storageNoted = false;
    let mayHaveBeenApplied = false;
    for (;;) {
      try {
        await call();
        return true;
      } catch (error) {
        if (error instanceof HubUnreachableError) {
          // Dropped in flight (connection_closed): the hub may have applied it. Either way the
          // retry waits for the reconnect.
          if (error.code === 'connection_closed') mayHaveBeenApplied = true;
          continue;
        }
        if (error instanceof RequestTimeoutError) {
          mayHaveBeenApplied = true;
          this.log(`${what}: ${error.message}; sending it again`);
          await this.pause(RETRY_PAUSE_MS);
          if (this.halt.signal.aborted) return false;
          continue;
        }
        if (mayHaveBeenApplied && error instanceof HubError && appliedAlready?.(error)) return true;
        if (error instanceof HubError && (error.code === 'conflict' || error.code === 'not_found')) {
          this.log(`${what} refused: ${error.message}`);
          return false;
        }
        if (error instanceof HubError && error.code === 'unavailable') {
          await this.pause(RETRY_PAUSE_MS); // the hub is stopping; its successor will take the call
          continue;
        }
        if (error instanceof HubError && STORAGE_ERROR_CODES.includes(error.code)) {
          // Nothing was stored (a full disk, say): keep the result and send it again until it is.
          if (!storageNoted)
            this.log(`${what} not stored yet (${error.message}); sending it again until it is`);
          storageNoted = true;
          await this.pause(STORAGE_RETRY_PAUSE_MS);
          if (this.halt.signal.aborted) return false;
          continue;
        }
        // The client was closed (stop() gave up waiting) or the hub rejected the call.
        if (!(error instanceof HubError)) return false;
        this.log(`${what} failed: ${error.message}`);
        return false;
      }
    }
  }

  /** Sleep, unless the agent stops first. */
  private pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.halt.signal }).catch(() => {});
  }

  private track(promise: Promise<void>): void {
    this.settling.add(promise);
    void promise.finally(() => this.settling.delete(promise));
  }

  private async allSettled(): Promise<void> {
    while (this.settling.size > 0) await Promise.allSettled([...this.settling]);
  }

  // ---- connection ----

  private watchConnection(): void {
    const several = this.client.addresses.length > 1;
    this.client.on('connected', () => {
      if (this.outageSince !== null) {
        const seconds = ((Date.now() - this.outageSince) / 1000).toFixed(1);
        this.log(`reconnected to the hub at ${this.client.where} after ${seconds} s`);
      }
      this.outageSince = null;
      this.everConnected = true;
    });
    this.client.on('disconnected', (error) => {
      if (error === null || this.stopping || this.outageSince !== null) return;
      this.outageSince = Date.now();
      const next = several ? `; trying ${this.client.where} next` : '';
      this.log(`${error.message}; reconnecting${next} (running tasks carry on)`);
    });
    this.client.on('retrying', (error) => {
      if (this.everConnected || this.outageSince !== null) return;
      this.outageSince = Date.now();
      const list = this.client.addresses.map(formatHubAddress).join(', ');
      this.log(
        /^no hub at /.test(error.message)
          ? `waiting for a hub at ${list} (${error.message.replace(/^.* — /, '')})`
          : `waiting for a hub at ${list}: ${error.message}`,
      );
    });
  }
}

/** `14:00`: a pause's end as the agent's log says it (local time). */
function clock(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toTimeString().slice(0, 8);
}

/** Wait for `promise`, but no longer than `ms` (and leave no timer behind to hold the process). */
async function within(ms: number, promise: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}

/** The reason a task last went back to the queue, to send with it when it goes back again. */
function reasonOf(task: Task): { error: string; error_kind: string; error_fix: string | undefined } | null {
  if (!task.error_kind) return null;
  return { error: task.error ?? '', error_kind: task.error_kind, error_fix: task.error_fix ?? undefined };
}

/**
 * A task with output_schema: its answer parsed and validated (every backend, src/answers/). Null
 * for a task without one. The hub refuses a schema that does not compile; should one get here
 * anyway (a hub of another version, whose ajv took it), it fails the same way on every try, so
 * that failure is not retryable.
 */
function checkAnswer(
  task: Task,
  output: string,
): { ok: true; parsed: unknown } | { ok: false; error: string; fix: string; retryable: boolean } | null {
  const schema = task.output_schema ?? null;
  if (schema === null) return null;
  const compiled = compileAnswerSchema(schema);
  if (!compiled.ok) {
    return {
      ok: false,
      error: compiled.error,
      fix: "fix the task's output_schema and enqueue it again",
      retryable: false,
    };
  }
  const answer = parseAnswer(output, schema);
  if (answer.ok) return answer;
  return {
    ok: false,
    error: answer.error,
    fix: 'ask in the prompt for JSON that meets output_schema (the answer kept as result shows what came back)',
    retryable: true,
  };
}

/** The longest session id sent to the hub (protocol/schemas.ts refuses longer ones). */
const MAX_SESSION_ID_CHARS = 200;

/**
 * The CLI session a run used, from its usage (every driver that knows one puts it there as
 * session_id); undefined when it reported none, or one the hub would refuse.
 */
export function sessionOf(outcome: BackendOutcome): string | undefined {
  const session = outcome.usage?.session_id;
  return typeof session === 'string' && session.length > 0 && session.length <= MAX_SESSION_ID_CHARS
    ? session
    : undefined;
}

/**
 * Queue policy: what the queue decides, as pure functions every store calls, so SQLite and
 * PostgreSQL hand out, retry, fence and cancel tasks by the same rules. A store does the reading
 * and the writing; the rules (and the messages people see when a rule refuses) live here.
 */
import { randomUUID } from 'node:crypto';
import { MitteloError } from '../errors.ts';
import type { Budget, BudgetState, CostBasis, NewTask, Task, TaskStatus } from '../protocol/model.ts';
import { type TokenCounts, tokensOf } from '../protocol/usage-tokens.ts';
import type { AckRequest, LeaseClaim, LeaseRequest, PruneRequest } from './types.ts';

export interface RetryPolicy {
  /** Attempts for a task that does not say (1 = v0.1 behaviour: a failed ack is final). */
  default_max_attempts: number;
  /** Wait before attempt n+1 is base * 2^(n-1), capped at max_backoff_ms. */
  backoff_base_ms: number;
  backoff_max_ms: number;
  /** After this many expired leases a task is failed with kind `lease_expired` (poison task). */
  max_lease_expirations: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  default_max_attempts: 1,
  backoff_base_ms: 1000,
  backoff_max_ms: 300_000,
  max_lease_expirations: 5,
};

export function resolveRetryPolicy(overrides: Partial<RetryPolicy> | undefined): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, ...overrides };
}

/** The part of a stored task the rules look at. */
export type TaskState = Pick<
  Task,
  'task_id' | 'status' | 'worker_id' | 'lease_token' | 'attempts' | 'max_attempts' | 'lease_expirations'
>;

/** The fields a new task is stored with: what it said, else the defaults. */
export type NewTaskFields = Pick<
  Task,
  | 'prompt'
  | 'backend'
  | 'tags'
  | 'priority'
  | 'max_attempts'
  | 'timeout_s'
  | 'metadata'
  | 'max_cost_usd'
  | 'output_schema'
  | 'resume'
  | 'workspace'
  | 'base_ref'
  | 'permissions'
>;

export function newTaskFields(task: NewTask, policy: RetryPolicy): NewTaskFields {
  return {
    prompt: task.prompt,
    backend: task.backend ?? null,
    tags: task.tags?.length ? task.tags : [],
    priority: task.priority ?? 0,
    max_attempts: task.max_attempts ?? policy.default_max_attempts,
    timeout_s: task.timeout_s ?? null,
    metadata: task.metadata ?? null,
    max_cost_usd: task.max_cost_usd ?? null,
    output_schema: task.output_schema ?? null,
    resume: task.resume ?? false,
    workspace: task.workspace ?? null,
    base_ref: task.base_ref ?? null,
    permissions: task.permissions ?? null,
  };
}

/**
 * When a new task may first be leased: at its `not_before`, or `delay_s` after `now` (the store's
 * clock); 0 (at once) when it says neither. (The PostgreSQL store writes the same rule in SQL,
 * with the database's clock: postgres/enqueue.ts.)
 */
export function firstAvailableAt(task: Pick<NewTask, 'not_before' | 'delay_s'>, now: number): number {
  if (task.not_before !== undefined && task.not_before > 0) return task.not_before;
  if (task.delay_s !== undefined && task.delay_s > 0) return now + task.delay_s;
  return 0;
}

/** A task as a fresh insert stores it (the store supplies the id, the time and when it is due). */
export function freshTask(taskId: number, now: number, fields: NewTaskFields, availableAt = 0): Task {
  return {
    task_id: taskId,
    prompt: fields.prompt,
    status: 'queued',
    created_at: now,
    updated_at: now,
    leased_until: null,
    worker_id: null,
    result: null,
    error: null,
    backend: fields.backend,
    tags: fields.tags,
    priority: fields.priority,
    attempts: 0,
    max_attempts: fields.max_attempts,
    lease_expirations: 0,
    available_at: availableAt,
    timeout_s: fields.timeout_s,
    error_kind: null,
    error_fix: null,
    duration_ms: null,
    usage: null,
    metadata: fields.metadata,
    lease_token: null,
    max_cost_usd: fields.max_cost_usd,
    cost_usd: null,
    cost_basis: null,
    output_schema: fields.output_schema,
    parsed: null,
    resume: fields.resume,
    session_id: null,
    workspace: fields.workspace,
    base_ref: fields.base_ref,
    permissions: fields.permissions,
    worktree: null,
  };
}

/** Lease order: higher priority first, then oldest first. */
export function leaseOrder(
  a: Pick<Task, 'priority' | 'task_id'>,
  b: Pick<Task, 'priority' | 'task_id'>,
): number {
  return b.priority - a.priority || a.task_id - b.task_id;
}

/**
 * A candidate found with its lease run out: hand it out again, or fail it as a poison task (it has
 * killed or outlasted every holder so far)?
 */
export function reachedLeaseExpiryLimit(candidate: TaskState, policy: RetryPolicy): boolean {
  return candidate.status === 'leased' && candidate.lease_expirations + 1 >= policy.max_lease_expirations;
}

/** What a poison task is failed with. */
export function leaseExpiredFailure(candidate: TaskState): {
  error: string;
  error_kind: 'lease_expired';
  error_fix: string;
} {
  return {
    error: `lease expired ${candidate.lease_expirations + 1} times without an ack (last holder: ${candidate.worker_id})`,
    error_kind: 'lease_expired',
    error_fix: 'raise --lease-seconds, or use an agent that extends its lease (mittelo agent does)',
  };
}

/** The fields a lease changes on a candidate (queued, or leased with its lease run out). */
export interface LeaseGrant {
  worker_id: string;
  leased_until: number;
  lease_token: string;
  attempts: number;
  lease_expirations: number;
  available_at: 0;
  updated_at: number;
}

export function grantLease(
  candidate: Pick<TaskState, 'status' | 'attempts' | 'lease_expirations'>,
  request: Pick<LeaseRequest, 'worker_id' | 'lease_seconds'>,
  now: number,
): LeaseGrant {
  return {
    worker_id: request.worker_id,
    leased_until: now + request.lease_seconds,
    lease_token: randomUUID(),
    attempts: candidate.attempts + 1,
    // A candidate still marked leased was found with its lease run out: count that.
    lease_expirations: candidate.lease_expirations + (candidate.status === 'leased' ? 1 : 0),
    available_at: 0,
    updated_at: now,
  };
}

/**
 * Does a failed ack send the task back for another attempt? Not when the agent says the failure
 * is final, and not once its attempts are spent.
 */
export function retriesAfterFailure(
  current: TaskState,
  request: Pick<AckRequest, 'status' | 'retryable'>,
): boolean {
  return (
    request.status === 'failed' && request.retryable !== false && current.attempts < current.max_attempts
  );
}

/** Seconds to wait before attempt n+1 after n failed ones: base * 2^(n-1), capped. */
export function retryDelaySeconds(attemptsMade: number, policy: RetryPolicy): number {
  return Math.min(policy.backoff_base_ms * 2 ** Math.max(0, attemptsMade - 1), policy.backoff_max_ms) / 1000;
}

/** When a released task may be leased again (0: at once). */
export function releasedAvailableAt(now: number, delayMs: number | undefined): number {
  const delay = (delayMs ?? 0) / 1000;
  return delay > 0 ? now + delay : 0;
}

export function taskNotFound(taskId: number): MitteloError {
  return new MitteloError('not_found', `task ${taskId} does not exist`, { task_id: taskId });
}

/**
 * Throws unless the caller still holds the lease on `current`. A v0.1 caller proves nothing (no
 * token, no worker id) and is believed as long as the task is still leased; a v1 caller's token
 * must be the current one, so an agent whose lease ran out cannot overwrite its successor's work.
 */
export function checkClaim(current: TaskState, claim: LeaseClaim, action: string): void {
  const id = claim.task_id;
  if (current.status !== 'leased') {
    throw new MitteloError(
      'conflict',
      `task ${id} is ${current.status}, not leased, so this ${action} changes nothing`,
      {
        task_id: id,
        status: current.status,
      },
    );
  }
  if (claim.lease_token && claim.lease_token !== current.lease_token) {
    throw new MitteloError(
      'conflict',
      `task ${id}: your lease ended and the task was leased again (now held by ${current.worker_id}); this ${action} changes nothing`,
      { task_id: id, status: current.status, worker_id: current.worker_id },
    );
  }
  if (claim.worker_id && claim.worker_id !== current.worker_id) {
    throw new MitteloError(
      'conflict',
      `task ${id} is leased by ${current.worker_id}, not ${claim.worker_id}; this ${action} changes nothing`,
      { task_id: id, status: current.status, worker_id: current.worker_id },
    );
  }
}

/** Whether a claim matches `current` (the fast path of ack: one conditional UPDATE). */
export function claimHolds(current: TaskState, claim: LeaseClaim): boolean {
  return (
    current.status === 'leased' &&
    (!claim.lease_token || claim.lease_token === current.lease_token) &&
    (!claim.worker_id || claim.worker_id === current.worker_id)
  );
}

/** Only queued or leased tasks can be canceled; a finished one says what it already is. */
export function checkCancelable(current: Pick<TaskState, 'task_id' | 'status'>): void {
  if (current.status === 'queued' || current.status === 'leased') return;
  throw new MitteloError(
    'conflict',
    `task ${current.task_id} is already ${current.status}; only queued or leased tasks can be canceled`,
    { task_id: current.task_id, status: current.status },
  );
}

/*
 * Prune's rules. It removes finished tasks only (checkPrunable), and never the task with the
 * largest id, whatever its status and age: SQLite gives a new task the largest id + 1, so
 * deleting that one would hand its id out a second time (a `get`, a results file or a `wait`
 * holding it would then name another task). Every store keeps both rules in its SQL (keeping the
 * newest costs one row), so both behave the same.
 */

/** What `prune` removes when not told: every finished status. */
export const PRUNABLE_STATUSES: readonly TaskStatus[] = ['done', 'failed', 'canceled'];

/**
 * Prune removes finished tasks only: a queued or leased task is work still to do (or being done),
 * so asking for one is refused with nothing removed, whatever else was asked.
 */
export function checkPrunable(request: PruneRequest): void {
  const unfinished = request.statuses.filter((status) => !PRUNABLE_STATUSES.includes(status));
  if (unfinished.length > 0) {
    throw new MitteloError(
      'bad_request',
      `prune removes finished tasks only (${PRUNABLE_STATUSES.join(', ')}), never ${unfinished.join(' or ')} ones: leave ${unfinished.join(' and ')} out of the statuses; nothing was removed`,
      { statuses: unfinished },
    );
  }
  if (request.statuses.length === 0) {
    throw new MitteloError(
      'bad_request',
      `prune needs at least one status (${PRUNABLE_STATUSES.join(', ')}); nothing was removed`,
    );
  }
  if (!Number.isFinite(request.older_than_s) || request.older_than_s < 0) {
    throw new MitteloError(
      'bad_request',
      `prune's older_than_s must be a number of seconds, 0 or more, got ${request.older_than_s}; nothing was removed`,
    );
  }
}

/*
 * Caps on leasing (concurrency and start rate, per backend or per tag). A store reads, in the
 * lease's transaction, each cap that touches the lease with how many tasks of its scope are leased
 * now and how many leases it started in the last RATE_WINDOW_S; these rules say how many more it
 * may grant and which candidates those are.
 */

/** The window a rate cap counts lease starts in. */
export const RATE_WINDOW_S = 60;

const TAG_SCOPE_PREFIX = 'tag:';

/** The scope of a cap on the tasks carrying this tag. */
export function tagScope(tag: string): string {
  return `${TAG_SCOPE_PREFIX}${tag}`;
}

/** The tag a scope caps, or null for a backend's scope. */
export function scopeTag(scope: string): string | null {
  return scope.startsWith(TAG_SCOPE_PREFIX) ? scope.slice(TAG_SCOPE_PREFIX.length) : null;
}

/**
 * The scopes whose caps can touch a lease: the worker's backend and each of its tags (a task is
 * leased only by a worker with all its tags, so a tag the worker lacks is never on its tasks).
 */
export function capScopesOf(request: Pick<LeaseRequest, 'backend' | 'tags'>): string[] {
  return [...(request.backend ? [request.backend] : []), ...(request.tags ?? []).map(tagScope)].sort();
}

/** A cap as a store read it in the lease's transaction. */
export interface CapUse {
  scope: string;
  concurrency: number | null;
  rate_per_min: number | null;
  /** Tasks of the scope leased now (a lease run out no longer counts). */
  leased: number;
  /** Leases of the scope started in the last RATE_WINDOW_S. */
  started: number;
}

/** How many more leases a cap allows now (Infinity: it caps nothing). */
export function remainingSlots(cap: CapUse): number {
  const byConcurrency = cap.concurrency === null ? Infinity : cap.concurrency - cap.leased;
  const byRate = cap.rate_per_min === null ? Infinity : Math.floor(cap.rate_per_min) - cap.started;
  return Math.max(0, Math.min(byConcurrency, byRate));
}

/** The caps of a lease as slots left per scope; only caps that cap something are kept. */
export function slotsOf(caps: readonly CapUse[]): Map<string, number> {
  const slots = new Map<string, number>();
  for (const cap of caps) {
    const left = remainingSlots(cap);
    if (left !== Infinity) slots.set(cap.scope, left);
  }
  return slots;
}

/** The tags whose cap has no slot left: a lease looks past the tasks carrying one. */
export function fullTags(slots: ReadonlyMap<string, number>): string[] {
  const tags: string[] = [];
  for (const [scope, left] of slots) {
    const tag = scopeTag(scope);
    if (tag !== null && left <= 0) tags.push(tag);
  }
  return tags;
}

/**
 * Whether the caps let this candidate be leased by a worker of `backend`; if so its slots are
 * taken (the backend's cap, and each capped tag it carries).
 */
export function takeSlot(
  slots: Map<string, number>,
  backend: string | null | undefined,
  candidate: Pick<Task, 'tags'>,
): boolean {
  if (slots.size === 0) return true;
  const scopes = [...(backend ? [backend] : []), ...candidate.tags.map(tagScope)].filter((s) => slots.has(s));
  if (scopes.some((scope) => slots.get(scope)! <= 0)) return false;
  for (const scope of scopes) slots.set(scope, slots.get(scope)! - 1);
  return true;
}

/** The scopes a granted task's start is logged under: those with a rate cap. */
export function rateScopesOf(
  caps: readonly CapUse[],
  backend: string | null | undefined,
  candidate: Pick<Task, 'tags'>,
): string[] {
  const mine = new Set([...(backend ? [backend] : []), ...candidate.tags.map(tagScope)]);
  return caps.filter((cap) => cap.rate_per_min !== null && mine.has(cap.scope)).map((cap) => cap.scope);
}

/** Refuses a cap that caps nothing or says something impossible; the message says how to fix it. */
export function checkCap(cap: {
  scope: string;
  concurrency: number | null;
  rate_per_min: number | null;
}): void {
  if (cap.scope === '' || cap.scope === TAG_SCOPE_PREFIX) {
    throw new MitteloError(
      'bad_request',
      'a cap needs a backend name or tag:NAME as its scope (for example claude_code or tag:gpu)',
    );
  }
  if (cap.concurrency !== null && !(Number.isInteger(cap.concurrency) && cap.concurrency >= 1)) {
    throw new MitteloError(
      'bad_request',
      `the concurrency cap of ${cap.scope} must be a whole number, 1 or more, got ${cap.concurrency} (to stop leasing, use mittelo pause)`,
      { scope: cap.scope },
    );
  }
  if (cap.rate_per_min !== null && !(Number.isFinite(cap.rate_per_min) && cap.rate_per_min >= 1)) {
    throw new MitteloError(
      'bad_request',
      `the rate cap of ${cap.scope} must be 1 or more tasks per minute, got ${cap.rate_per_min}`,
      { scope: cap.scope },
    );
  }
  if (cap.concurrency === null && cap.rate_per_min === null) {
    throw new MitteloError(
      'bad_request',
      `a cap of ${cap.scope} needs a concurrency, a rate or both; to remove it, clear it`,
      { scope: cap.scope },
    );
  }
}

/*
 * Spend and budgets. Every accepted ack (a retried attempt's too; a refused one adds nothing) adds
 * to the spend row of its UTC day by the store's clock and of the backend of the agent that acked
 * (the task's lease_backend), in the ack's own transaction. A budget stops a backend's leases
 * once that day's known cost reaches it; the next UTC day starts from nothing. Stores key spend
 * rows by utcDay (whole days since 1970-01-01, the same integer in every store and clock) and
 * answer with dayLabel.
 */

export const SECONDS_PER_DAY = 86_400;

/** The UTC day of a store time (Unix seconds), as whole days since 1970-01-01. */
export function utcDay(t: number): number {
  return Math.floor(t / SECONDS_PER_DAY);
}

/** A UTC day as the wire says it: YYYY-MM-DD. */
export function dayLabel(day: number): string {
  return new Date(day * SECONDS_PER_DAY * 1000).toISOString().slice(0, 10);
}

/** The next UTC midnight after `t` (Unix seconds): when a day's budget starts again from nothing. */
export function nextUtcMidnight(t: number): number {
  return (utcDay(t) + 1) * SECONDS_PER_DAY;
}

/** The oldest day `spend(days)` answers for (days = 1: today only). */
export function firstSpendDay(today: number, days: number): number {
  return today - days + 1;
}

/** Refuses a `spend` span that is not a whole number of days, 1 or more. */
export function checkSpendDays(days: number): void {
  if (!Number.isInteger(days) || days < 1) {
    throw new MitteloError(
      'bad_request',
      `spend covers a whole number of UTC days, 1 or more (1: today only), got ${days}`,
    );
  }
}

/** Whether a backend that spent `spentUsd` (known cost) today is out of its budget. */
export function budgetExhausted(spentUsd: number, usdPerDay: number): boolean {
  return spentUsd >= usdPerDay;
}

/** Refuses a budget without a backend or with an amount that is not more than 0 dollars. */
export function checkBudget(budget: Budget): void {
  if (budget.backend === '') {
    throw new MitteloError('bad_request', 'a budget needs a backend name (for example claude_code)');
  }
  if (!(Number.isFinite(budget.usd_per_day) && budget.usd_per_day > 0)) {
    throw new MitteloError(
      'bad_request',
      `the budget of ${budget.backend} must be more than 0 US dollars per day, got ${budget.usd_per_day} (to remove it, clear it)`,
      { backend: budget.backend },
    );
  }
}

/** What an ack says it cost, as the task stores it. */
export interface AckCost {
  cost_usd: number | null;
  cost_basis: CostBasis | null;
}

/**
 * An ack's cost, normalised: a cost without a basis is `reported` (the CLI said it); a basis
 * without a cost is `unknown` (nothing to count); neither (a v0.1 agent) leaves both null.
 */
export function ackCost(request: Pick<AckRequest, 'cost_usd' | 'cost_basis'>): AckCost {
  if (request.cost_usd !== undefined && request.cost_usd !== null) {
    const basis = request.cost_basis ?? 'reported';
    return basis === 'unknown'
      ? { cost_usd: null, cost_basis: 'unknown' }
      : { cost_usd: request.cost_usd, cost_basis: basis };
  }
  return { cost_usd: null, cost_basis: request.cost_basis ? 'unknown' : null };
}

/** What one accepted ack adds to its spend row. */
export interface SpendAdd extends TokenCounts {
  tasks: number;
  cost_usd: number;
  estimated_usd: number;
  cost_unknown: number;
}

/**
 * The spend of one accepted ack: its known cost, the estimated part of it, 1 in cost_unknown when
 * it came without a cost (whatever the basis), and the tokens its usage reports (usage-tokens.ts);
 * undefined when it reports neither cost nor tokens: such a run left nothing to count.
 */
export function spendOfAck(
  request: Pick<AckRequest, 'cost_usd' | 'cost_basis' | 'usage'>,
): SpendAdd | undefined {
  const tokens = tokensOf(request.usage);
  // An ack that says nothing of cost or tokens (echo, shell, most v0.1 agents) has nothing to
  // add. Skipping it also keeps such acks off the one spend row per backend and day, which every
  // ack of that backend would otherwise update (and, on PostgreSQL, lock until its commit).
  if (
    request.cost_usd === undefined &&
    request.cost_basis === undefined &&
    Object.values(tokens).every((count) => count === 0)
  ) {
    return undefined;
  }
  const cost = ackCost(request);
  return {
    tasks: 1,
    cost_usd: cost.cost_usd ?? 0,
    estimated_usd: cost.cost_basis === 'estimated' ? (cost.cost_usd ?? 0) : 0,
    cost_unknown: cost.cost_usd === null ? 1 : 0,
    ...tokens,
  };
}

/** A budget with what its backend spent today (no spend row yet: nothing), as `budgets` answers. */
export function budgetState(
  budget: Budget,
  today: Pick<SpendAdd, 'cost_usd' | 'cost_unknown'> | undefined,
  now: number,
): BudgetState {
  const spent = today?.cost_usd ?? 0;
  return {
    backend: budget.backend,
    usd_per_day: budget.usd_per_day,
    spent_today_usd: spent,
    cost_unknown_today: today?.cost_unknown ?? 0,
    exhausted: budgetExhausted(spent, budget.usd_per_day),
    resets_at: nextUtcMidnight(now),
  };
}

/**
 * nextWakeAt with the budgets in: while one is exhausted, its backend's parked leases may find
 * work again at the next UTC midnight.
 */
export function wakeWithBudgets(
  wake: number | null,
  budgets: readonly BudgetState[],
  now: number,
): number | null {
  if (!budgets.some((budget) => budget.exhausted)) return wake;
  const midnight = nextUtcMidnight(now);
  return wake === null ? midnight : Math.min(wake, midnight);
}

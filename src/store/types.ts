/**
 * The Store contract: everything the hub needs from durable storage, nothing about networks.
 * Every implementation (SQLite, PostgreSQL) must pass test/store-contract.ts. The shapes it
 * returns are the wire model (src/protocol/model.ts); what the queue decides (retries, fencing,
 * poison tasks, what cancel may do) is src/store/queue-policy.ts, shared by every store.
 *
 * Methods return promises so that a networked database can implement the same interface; the
 * promise of a write settles only once the change is durable (see docs/DURABILITY.md).
 */
import type {
  AgentInfo,
  Budget,
  BudgetState,
  Cap,
  CapState,
  CostBasis,
  NewTask,
  Pause,
  QueuedCount,
  SpendRow,
  Stats,
  Task,
  TaskEventName,
  TaskStatus,
  WorktreeChange,
} from '../protocol/model.ts';

export type {
  Budget,
  BudgetState,
  Cap,
  CapState,
  CostBasis,
  NewTask,
  Pause,
  QueuedCount,
  SpendRow,
  Stats,
  Task,
  TaskStatus,
};

export interface LeaseRequest {
  worker_id: string;
  max_tasks: number;
  lease_seconds: number;
  /** The backend this worker runs. Tasks routed to another backend are not handed to it. */
  backend?: string | null | undefined;
  /** Capabilities of this worker; a task is eligible when all its tags are among them. */
  tags?: string[] | undefined;
  /** Stop adding tasks once their text reaches this many bytes (at least one is leased). */
  max_bytes?: number | undefined;
}

/** Identifies the caller's claim on a leased task. v0.1 callers send neither field. */
export interface LeaseClaim {
  task_id: number;
  lease_token?: string | null | undefined;
  worker_id?: string | null | undefined;
}

export interface AckRequest extends LeaseClaim {
  status: 'done' | 'failed';
  result?: string | null | undefined;
  error?: string | null | undefined;
  error_kind?: string | null | undefined;
  error_fix?: string | null | undefined;
  duration_ms?: number | null | undefined;
  usage?: Record<string, unknown> | null | undefined;
  /** false: this failure is final whatever attempts remain (for example a malformed prompt). */
  retryable?: boolean | undefined;
  /** What this run cost (USD); absent: not known. */
  cost_usd?: number | undefined;
  /** Where cost_usd comes from; absent with a cost_usd: `reported`; absent alone: nothing known. */
  cost_basis?: CostBasis | undefined;
  /** The answer parsed and valid against the task's output_schema; stored as the task's `parsed`. */
  parsed?: unknown;
  /** The CLI session this run used; stored as the task's session_id (absent: the old one stays). */
  session_id?: string | undefined;
  /** What the run changed in the task's own worktree; stored as the task's worktree (absent: the old one stays). */
  worktree?: WorktreeChange | undefined;
}

export interface ExtendRequest extends LeaseClaim {
  lease_seconds: number;
}

export interface ReleaseRequest extends LeaseClaim {
  /** Keep the task from being leased again for this long (for example a backend backing off). */
  delay_ms?: number | undefined;
  error?: string | null | undefined;
  error_kind?: string | null | undefined;
  error_fix?: string | null | undefined;
  /** The CLI session the run used; stored as the task's session_id (absent: the old one stays). */
  session_id?: string | undefined;
}

export interface ListQuery {
  status?: TaskStatus | undefined;
  /** <= 0 means no limit. */
  limit: number;
  backend?: string | undefined;
  /** Page through newest-first results: only tasks with a smaller id. */
  before_id?: number | undefined;
  /** Case-insensitive substring of the prompt. */
  search?: string | undefined;
  /** Stop adding tasks once their text reaches this many bytes (at least one is listed). */
  max_bytes?: number | undefined;
}

/** A pause of leasing to store (the store stamps `paused_at` with its clock). */
export interface PauseRequest {
  /** null: the whole queue. */
  backend: string | null;
  /** Unix seconds: the pause ends by itself then. */
  until?: number | undefined;
  reason?: string | undefined;
}

/** Which finished tasks `prune` removes (src/store/queue-policy.ts checks it). */
export interface PruneRequest {
  /** Only tasks that finished at least this many seconds ago, by the store's clock (>= 0). */
  older_than_s: number;
  /** Only tasks in these statuses: finished ones only (done, failed, canceled). */
  statuses: readonly TaskStatus[];
}

/** What happened to a task as a result of an ack, extend, release or cancel. */
export interface Transition {
  task: Task;
  /** For a failed ack: true when the task went back to the queue for another attempt. */
  requeued?: boolean;
}

/** What a lease did: the tasks it handed out, and those it failed instead (see `lease`). */
export interface LeaseResult {
  tasks: Task[];
  /**
   * Tasks whose lease had run out `max_lease_expirations` times: the lease failed them (kind
   * `lease_expired`) instead of handing them out, durably, so the hub announces them like any
   * other failure.
   */
  expired: Task[];
}

export interface Store {
  enqueue(tasks: NewTask[]): Promise<Task[]>;
  lease(request: LeaseRequest): Promise<LeaseResult>;
  ack(request: AckRequest): Promise<Transition>;
  extend(request: ExtendRequest): Promise<Task>;
  release(request: ReleaseRequest): Promise<Task>;
  cancel(taskId: number): Promise<Task>;
  /** Tasks by id, in the order asked; ids that do not exist are left out. */
  get(taskIds: number[]): Promise<Task[]>;
  /** Newest first. */
  list(query: ListQuery): Promise<Task[]>;
  stats(): Promise<Stats>;
  /**
   * Queued tasks per backend (null: unrouted), with how many of them are not due yet, routes with
   * none left out, ordered by backend with null first. Reads only queued rows, so it costs the
   * same beside a million finished ones.
   */
  queuedByBackend(): Promise<QueuedCount[]>;
  /** Every failed task back to queued with its worker, lease, result and error cleared. */
  retryFailed(taskIds?: number[]): Promise<number>;
  /**
   * The earliest future time (Unix seconds) at which a task that is not available now becomes
   * available: a lease running out, a retry backoff or a task's not_before ending, or a pause
   * reaching its `until`. null when nothing is pending.
   */
  nextWakeAt(): Promise<number | null>;
  /**
   * Every task with an id above `afterId`, oldest first, at most `limit`, exactly as stored (the
   * lease token included): `mittelo copy` pages through a whole queue with it.
   */
  dump(afterId: number, limit: number): Promise<Task[]>;
  /**
   * Store these tasks exactly as given (ids, statuses, results, attempts, times, lease tokens),
   * for `mittelo copy`. Refused with `conflict` if any id already exists; new ids continue after
   * the largest one loaded.
   */
  load(tasks: Task[]): Promise<void>;
  /**
   * Pause leasing for a backend (null: the whole queue): while it holds, `lease` hands nothing to a
   * worker of that backend (a whole-queue pause: to anyone). Queued tasks stay queued; leased ones
   * are acked as usual. Replaces a pause of the same scope; one still in force keeps its
   * `paused_at`. Durable and, on a shared database, seen by every instance.
   */
  pause(request: PauseRequest): Promise<Pause>;
  /** Lift the pause of this scope (null: the whole-queue pause only); false when none was in force. */
  resume(backend: string | null): Promise<boolean>;
  /** The pauses in force now (one whose `until` passed is over): the whole queue first, then by backend. */
  pauses(): Promise<Pause[]>;
  /**
   * Set the cap of a scope (a backend, or tag:NAME), replacing the one there (queue-policy.ts
   * checkCap refuses one that caps nothing). `lease` keeps to it in its own transaction: at most
   * `concurrency` tasks of the scope leased at once, at most `rate_per_min` leases started in any
   * 60 s. Durable and, on a shared database, held by every instance together.
   */
  setCap(cap: Cap): Promise<Cap>;
  /** Remove the cap of this scope; false when there was none. */
  clearCap(scope: string): Promise<boolean>;
  /** Every cap, by scope, with how much of it is in use now. */
  caps(): Promise<CapState[]>;
  /**
   * Set a backend's daily budget, replacing the one there. `lease` keeps to it in its own
   * transaction: once the backend's known cost for the current UTC day (store clock) reaches
   * `usd_per_day`, a worker of that backend is handed nothing until the next UTC day.
   */
  setBudget(budget: Budget): Promise<Budget>;
  /** Remove a backend's budget; false when there was none. */
  clearBudget(backend: string): Promise<boolean>;
  /** Every budget, by backend, with what has been spent against it today. */
  budgets(): Promise<BudgetState[]>;
  /**
   * Spend per UTC day and backend over the last `days` days (1: today only), newest day first.
   * Every accepted ack adds its cost and tokens (tokens read from `usage`: see
   * src/protocol/usage-tokens.ts) in the ack's own transaction; pruning tasks does not change it.
   */
  spend(days: number): Promise<SpendRow[]>;
  /**
   * Delete finished tasks of `request.statuses` whose finish time (`updated_at`, which nothing
   * moves once a task has finished) is at least `older_than_s` before the store's now; returns
   * how many. The task with the largest id always stays (its id must not be handed out again;
   * see prune's rules in queue-policy.ts). Deletes in bounded batches, each its own transaction, yielding between them, so
   * leases and acks go on while a million rows go. Refuses queued and leased (`bad_request`). On
   * a shared database several instances may prune at once: each row is removed (and counted)
   * once. Stops early, with what it removed so far, when the store closes.
   */
  prune(request: PruneRequest): Promise<number>;
  /** Present when several hubs can share this store's database (see Fleet). */
  readonly fleet?: Fleet | undefined;
  close(): Promise<void>;
}

/**
 * What hubs sharing one database tell each other. Messages are hints that make the fleet quick
 * (an idle agent on hub B hears of a task enqueued on hub A at once); the database stays the truth,
 * and a hub that misses one catches up by polling.
 */
export type FleetMessage =
  /** Tasks may have become leasable: parked leases should look again. */
  | { kind: 'work' }
  /** Tasks changed on another hub (their subscribers and waits should hear of it). */
  | { kind: 'tasks'; event: TaskEventName; task_ids: number[] }
  /** A cancel took this task from the worker holding it, wherever that worker is connected. */
  | { kind: 'revoke'; worker_id: string; task_id: number; reason: 'canceled' }
  /** A hub's agents changed: read them again. */
  | { kind: 'agents' };

/** One hub's agents, as it last saved them. */
export interface FleetAgents {
  hub_id: string;
  agents: AgentInfo[];
  /** Seconds since that hub saved them, by the database's clock. */
  age_s: number;
}

export interface Fleet {
  /** This hub's id among the hubs on the database (random per start). */
  readonly hubId: string;
  /** Tell the other hubs (best effort; never throws). Large messages are split by the fleet. */
  publish(message: FleetMessage): void;
  /** Hear what the other hubs publish (never this hub's own messages). */
  onMessage(listener: (message: FleetMessage) => void): void;
  /**
   * Called when the channel to the other hubs was lost and is back: messages may have been
   * missed, so the hub looks at the queue again.
   */
  onReconnect(listener: () => void): void;
  /** Replace this hub's saved agents. */
  saveAgents(agents: AgentInfo[]): Promise<void>;
  /** Every hub's saved agents, this one's included. */
  loadAgents(): Promise<FleetAgents[]>;
}

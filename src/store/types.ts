/**
 * The Store contract: everything the hub needs from durable storage, nothing about networks.
 * Every implementation (SQLite today, PostgreSQL later) must pass test/store-contract.ts.
 *
 * Methods return promises so that a networked database can implement the same interface; the
 * promise of a write settles only once the change is durable (see docs/DURABILITY.md).
 */

export const TASK_STATUSES = ['queued', 'leased', 'done', 'failed', 'canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Statuses a task never leaves on its own (only `retry_failed` moves `failed` back). */
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['done', 'failed', 'canceled'];

/**
 * A task as the wire sees it. The first nine fields are the v0.1 shape and are always present;
 * the rest are v1 additions. Times are Unix seconds as floats.
 */
export interface Task {
  task_id: number;
  prompt: string;
  status: TaskStatus;
  created_at: number;
  updated_at: number;
  leased_until: number | null;
  worker_id: string | null;
  result: string | null;
  error: string | null;
  backend: string | null;
  tags: string[];
  priority: number;
  attempts: number;
  max_attempts: number;
  /** Times a lease on this task ran out before its holder acked (the holder presumably died). */
  lease_expirations: number;
  /** Not leased before this time (retry backoff); 0 when available at once. */
  available_at: number;
  timeout_s: number | null;
  error_kind: string | null;
  error_fix: string | null;
  duration_ms: number | null;
  usage: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
  /** The fencing token of the current lease. Only `lease` responses carry it; elsewhere null. */
  lease_token: string | null;
}

export type Stats = Record<TaskStatus, number>;

/** How many queued tasks one route has: `backend` null is the unrouted tasks (any agent may take them). */
export interface QueuedCount {
  backend: string | null;
  queued: number;
}

export interface NewTask {
  prompt: string;
  backend?: string | null | undefined;
  tags?: string[] | undefined;
  priority?: number | undefined;
  max_attempts?: number | undefined;
  timeout_s?: number | null | undefined;
  metadata?: Record<string, unknown> | null | undefined;
}

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

/** What happened to a task as a result of an ack, extend, release or cancel. */
export interface Transition {
  task: Task;
  /** For a failed ack: true when the task went back to the queue for another attempt. */
  requeued?: boolean;
}

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

export interface Store {
  enqueue(tasks: NewTask[]): Promise<Task[]>;
  lease(request: LeaseRequest): Promise<Task[]>;
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
   * Queued tasks per backend (null: unrouted), routes with none left out, ordered by backend with
   * null first. Reads only queued rows, so it costs the same beside a million finished ones.
   */
  queuedByBackend(): Promise<QueuedCount[]>;
  /** Every failed task back to queued with its worker, lease, result and error cleared. */
  retryFailed(taskIds?: number[]): Promise<number>;
  /**
   * The earliest future time (Unix seconds) at which a task that is not available now becomes
   * available: a lease running out or a retry backoff ending. null when nothing is pending.
   */
  nextWakeAt(): Promise<number | null>;
  /**
   * Be told of each task the store fails on its own: a lease found a task whose lease had run
   * out `max_lease_expirations` times and failed it (`lease_expired`) instead of handing it out.
   * Called once that change is durable, so the hub can announce it like any other failure.
   */
  onExpiredFailure(listener: (task: Task) => void): void;
  close(): Promise<void>;
}

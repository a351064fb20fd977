/**
 * The wire model: what a task, the counts, an agent and an event look like on the wire, as zod
 * schemas with the TypeScript types inferred from them. The one source for the TCP server, the
 * REST API and its OpenAPI document, the client, and every store (a store returns these shapes).
 *
 * Requests (what each method accepts) are in schemas.ts; this file is what the hub answers with.
 * It depends on nothing but zod, so every layer may use it.
 */
import { z } from 'zod';

export const TASK_STATUSES = ['queued', 'leased', 'done', 'failed', 'canceled'] as const;
export const taskStatusSchema = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof taskStatusSchema>;

/** Statuses a task never leaves on its own (only `retry_failed` moves `failed` back). */
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['done', 'failed', 'canceled'];

const unixSeconds = z.number().meta({ description: 'Unix time in seconds (float)' });

/**
 * Where a task's cost comes from: `reported` by the CLI itself (Claude Code's total_cost_usd,
 * opencode's step costs), `estimated` from the price table (src/spend/price-table.ts) and the
 * tokens it reported, or `unknown` (no price for that model): never a silent 0.
 */
export const COST_BASES = ['reported', 'estimated', 'unknown'] as const;
export const costBasisSchema = z.enum(COST_BASES);
export type CostBasis = z.infer<typeof costBasisSchema>;
const jsonObject = z.record(z.string(), z.unknown());

/**
 * Where a task's backend runs: `shared` (the agent's working directory, as before), or `worktree`
 * (a git worktree of the agent's repository on a branch of its own, docs/AGENTS.md "Workspaces").
 */
export const WORKSPACE_MODES = ['shared', 'worktree'] as const;
export const workspaceModeSchema = z.enum(WORKSPACE_MODES);
export type WorkspaceMode = z.infer<typeof workspaceModeSchema>;

/**
 * What a task's backend may do, mapped by each driver onto its CLI's own switches: `read` (look,
 * change nothing), `edit` (change files in its workspace), `full` (anything, commands included,
 * without asking). docs/BACKENDS.md, "Permissions".
 */
export const PERMISSION_LEVELS = ['read', 'edit', 'full'] as const;
export const permissionLevelSchema = z.enum(PERMISSION_LEVELS);
export type PermissionLevel = z.infer<typeof permissionLevelSchema>;

/** The kinds of a live output line (src/backends/types.ts OutputEvent says what each is). */
export const OUTPUT_KINDS = ['text', 'tool', 'edit', 'usage', 'stdout', 'stderr', 'status'] as const;

/** One line of a task's live output as the hub keeps and announces it (docs/PROTOCOL.md, "live output"). */
export const outputLineSchema = z.object({
  seq: z
    .number()
    .int()
    .min(1)
    .meta({ description: "The line's number within its task, from 1, never reused" }),
  at: unixSeconds.meta({ description: 'When the agent saw it' }),
  kind: z.enum(OUTPUT_KINDS),
  text: z.string(),
});
export type OutputLine = z.infer<typeof outputLineSchema>;

/** The bounds of the tail the hub keeps of each task's live output (docs/PROTOCOL.md, "live output"). */
export const OUTPUT_TAIL_BOUNDS = {
  /** Lines kept per task: older ones are dropped (counted in `lost`). */
  lines: 500,
  /** Characters of text kept per task, all its kept lines together. */
  chars: 128 * 1024,
  /** A longer line is cut to this many characters. */
  lineChars: 1000,
  /** Tails of ended tasks kept; the oldest ended one is forgotten beyond. */
  endedTasks: 1000,
  /** Lines in one `output` call, and in one `output_tail` answer. */
  perCall: 200,
  tailLimit: 500,
} as const;

/** `output_tail`: a task's kept lines after a seq. */
export const outputTailSchema = z
  .object({
    task_id: z.number().int(),
    lines: z.array(outputLineSchema).meta({ description: 'Oldest first, after after_seq, at most limit' }),
    last_seq: z
      .number()
      .int()
      .min(0)
      .meta({ description: 'The seq of the newest line the hub received for the task; 0: none yet' }),
    lost: z.number().int().min(0).meta({
      description:
        'Lines no longer kept (before the first kept one), plus lines dropped by the agent or the hub (rate limits)',
    }),
  })
  .meta({ description: "A task's live output as the hub keeps it." });
export type OutputTail = z.infer<typeof outputTailSchema>;

/** The most diff text stored with a task: a longer diff is cut there (diff_truncated). */
export const MAX_STORED_DIFF_BYTES = 256 * 1024;

/**
 * What a task's run in its own worktree changed, as its agent recorded it when the run ended: the
 * branch, the commit the agent made of what the backend left, and the diff against the base.
 */
export const worktreeChangeSchema = z
  .object({
    branch: z
      .string()
      .meta({ description: 'The branch the task worked on (kept after the worktree is removed)' }),
    path: z.string().meta({ description: "The worktree's folder on the agent's machine" }),
    base_ref: z
      .string()
      .meta({ description: 'The ref the branch started from, as given (HEAD, main, a tag)' }),
    base_commit: z.string().meta({ description: 'The commit base_ref named when the worktree was made' }),
    commit: z
      .string()
      .nullable()
      .meta({ description: "The branch's last commit when the run ended; null: nothing changed" }),
    files_changed: z.number().int().min(0),
    insertions: z.number().int().min(0),
    deletions: z.number().int().min(0),
    diff: z.string().meta({ description: 'git diff base_commit..commit, cut at diff_cap_bytes' }),
    diff_bytes: z.number().int().min(0).meta({ description: 'The whole diff in bytes (before any cut)' }),
    diff_truncated: z.boolean(),
    diff_cap_bytes: z.number().int().min(0).meta({ description: 'The cut applied to diff (bytes)' }),
    kept: z
      .boolean()
      .meta({ description: 'Whether the worktree folder was kept (a failed task, --keep-worktrees)' }),
  })
  .meta({ description: "What a task's run in its own git worktree changed." });
export type WorktreeChange = z.infer<typeof worktreeChangeSchema>;

/**
 * A task as the wire sees it. The first nine fields are the v0.1 shape and are always present; the
 * rest are v1 additions. Times are Unix seconds as floats. The key order here is the order of the
 * columns in every store.
 */
export const taskSchema = z
  .object({
    task_id: z.number().int(),
    prompt: z.string(),
    status: taskStatusSchema,
    created_at: unixSeconds,
    updated_at: unixSeconds,
    leased_until: unixSeconds.nullable(),
    worker_id: z.string().nullable(),
    result: z.string().nullable(),
    error: z.string().nullable(),
    backend: z.string().nullable(),
    tags: z.array(z.string()),
    priority: z.number().int(),
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    lease_expirations: z.number().int().meta({
      description: 'Times a lease on this task ran out before its holder acked (the holder presumably died)',
    }),
    available_at: unixSeconds.meta({
      description:
        'Not leased before this time (enqueued with not_before or delay_s, retry backoff, release delay); 0 when available at once',
    }),
    timeout_s: z.number().nullable(),
    error_kind: z.string().nullable(),
    error_fix: z.string().nullable(),
    duration_ms: z.number().nullable(),
    usage: jsonObject.nullable(),
    metadata: jsonObject.nullable(),
    lease_token: z.string().nullable().meta({
      description: 'The fencing token of the current lease; always null outside lease answers',
    }),
    max_cost_usd: z.number().nullable().meta({
      description:
        'The most this task may spend (USD), passed to backends that enforce one (Claude Code --max-budget-usd); null: no cap',
    }),
    cost_usd: z.number().nullable().meta({
      description: 'What the last run of this task cost in USD (see cost_basis); null: not known',
    }),
    cost_basis: costBasisSchema.nullable().meta({
      description:
        'Where cost_usd comes from: reported by the CLI, estimated from the price table, or unknown; null: never acked with a cost',
    }),
    output_schema: jsonObject.nullable().meta({
      description:
        'A JSON Schema the answer must meet: the answer is parsed as JSON and validated; null: a plain-text answer',
    }),
    parsed: z.unknown().meta({
      description:
        'The answer parsed as JSON and valid against output_schema (any JSON value); null without output_schema',
    }),
    resume: z.boolean().meta({
      description:
        'Whether a run of this task continues the CLI session of its last run (session_id) instead of starting over',
    }),
    session_id: z.string().nullable().meta({
      description:
        "The CLI session the task's last run used, as its agent reported it; kept across requeues and retries so the next run can continue it",
    }),
    workspace: workspaceModeSchema.nullable().meta({
      description:
        "Where the task's backend runs: shared (the agent's folder) or worktree (a git worktree of its own); null: the agent's default",
    }),
    base_ref: z.string().nullable().meta({
      description: "The ref a worktree task's branch starts from; null: the agent's --base (HEAD by default)",
    }),
    permissions: permissionLevelSchema.nullable().meta({
      description:
        "What the backend may do (read, edit, full); null: read in a shared workspace, edit in the task's own worktree",
    }),
    worktree: worktreeChangeSchema.nullable().meta({
      description: "What the task's last run in its own worktree changed; null: it never ran in one",
    }),
  })
  .meta({ description: 'A task. The first nine fields are the v0.1 shape.' });
export type Task = z.infer<typeof taskSchema>;

/** Every field of a task, in column order. */
export const TASK_FIELDS = Object.keys(taskSchema.shape) as (keyof Task)[];

export const statsSchema = z
  .object(
    Object.fromEntries(TASK_STATUSES.map((status) => [status, z.number().int()])) as {
      [S in TaskStatus]: z.ZodNumber;
    },
  )
  .meta({ description: 'How many tasks are in each status.' });
export type Stats = z.infer<typeof statsSchema>;

/** How many queued tasks one route has: `backend` null is the unrouted tasks (any agent may take them). */
export const queuedCountSchema = z.object({
  backend: z.string().nullable(),
  queued: z.number().int(),
  scheduled: z.number().int().optional().meta({
    description:
      'How many of the queued tasks are not due yet (not_before or delay_s, a retry backoff, a release delay); absent from older hubs',
  }),
});
export type QueuedCount = z.infer<typeof queuedCountSchema>;

/**
 * A queued task that is not due yet: it was enqueued with `not_before` / `delay_s`, or waits out a
 * retry backoff or a release delay. People see it as "scheduled"; on the wire it stays `queued`
 * (the v0.1 status set does not change), with `available_at` saying when it is due.
 */
export function isScheduled(task: Pick<Task, 'status' | 'available_at'>, nowSeconds: number): boolean {
  return task.status === 'queued' && task.available_at > nowSeconds;
}

/**
 * A pause of leasing (v1, `pause` / `resume`): while it holds, agents get no new leases for its
 * backend (null: for the whole queue); queued work stays queued and leased work finishes. It lives
 * in the store, so it survives a restart and holds on every hub sharing the database.
 */
export const pauseSchema = z
  .object({
    backend: z.string().nullable().meta({ description: 'The paused backend; null: the whole queue' }),
    paused_at: unixSeconds,
    until: unixSeconds
      .nullable()
      .meta({ description: 'Resumes by itself at this time; null: until resumed' }),
    reason: z.string().nullable(),
  })
  .meta({ description: 'A pause of leasing for one backend, or for the whole queue.' });
export type Pause = z.infer<typeof pauseSchema>;

/**
 * A cap on leasing (v1 addition, `limit_set` / `limit_clear` / `limits`): at most `concurrency`
 * tasks leased at once, and at most `rate_per_min` leases started in any 60 s, for one backend
 * (the tasks leased by its agents) or one tag (`tag:NAME`: the tasks carrying that tag). It lives
 * in the store and is enforced in the lease's transaction, so it holds on every hub of a database.
 */
export const capSchema = z
  .object({
    scope: z.string().meta({ description: 'A backend name, or tag:NAME for the tasks with that tag' }),
    concurrency: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'At most this many leased at once; null: no cap' }),
    rate_per_min: z
      .number()
      .nullable()
      .meta({ description: 'At most this many lease starts per 60 s; null: no cap' }),
  })
  .meta({ description: 'A cap on leasing for one backend or one tag.' });
export type Cap = z.infer<typeof capSchema>;

/** A cap with where it stands now (`limits`). */
export const capStateSchema = capSchema
  .extend({
    leased: z.number().int().meta({ description: 'Tasks of this scope leased now' }),
    started_last_min: z
      .number()
      .int()
      .meta({ description: 'Leases started in the last 60 s (counted while a rate cap is set)' }),
    waiting: z
      .number()
      .int()
      .meta({ description: 'Queued tasks of this scope, ready to lease, that wait for a slot' }),
  })
  .meta({ description: 'A cap on leasing and how much of it is in use.' });
export type CapState = z.infer<typeof capStateSchema>;

/**
 * Spend on one backend in one UTC day (v1 addition, `spend`): summed by the store in the ack's
 * transaction, so it holds for every hub of a database and outlives pruned tasks. `backend` is the
 * backend of the agent that acked (null: an agent that named none, such as a v0.1 agent).
 */
export const spendRowSchema = z
  .object({
    day: z.string().meta({ description: 'The UTC day, YYYY-MM-DD, by the store clock' }),
    backend: z.string().nullable(),
    tasks: z.number().int().meta({
      description: 'Acks counted: every run of a task (retries included) whose ack reported a cost or tokens',
    }),
    cost_usd: z.number().meta({ description: 'Known cost, reported plus estimated' }),
    estimated_usd: z.number().meta({ description: 'The part of cost_usd that is estimated from prices' }),
    cost_unknown: z.number().int().meta({ description: 'Acks whose cost is unknown (not in cost_usd)' }),
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    cache_read_tokens: z.number().int(),
    cache_write_tokens: z.number().int(),
  })
  .meta({ description: 'What one backend spent in one UTC day.' });
export type SpendRow = z.infer<typeof spendRowSchema>;

/**
 * A spend budget (v1 addition, `budget_set` / `budget_clear` / `budgets`): once a backend's known
 * cost for the current UTC day reaches `usd_per_day`, its agents get no new leases until the next
 * UTC day; running tasks finish. Enforced in the lease's transaction, for every hub of a database.
 */
export const budgetSchema = z
  .object({
    backend: z.string(),
    usd_per_day: z.number().meta({ description: 'USD per UTC day' }),
  })
  .meta({ description: 'A daily spend budget for one backend.' });
export type Budget = z.infer<typeof budgetSchema>;

export const budgetStateSchema = budgetSchema
  .extend({
    spent_today_usd: z.number().meta({ description: 'Known cost acked today (UTC)' }),
    cost_unknown_today: z.number().int().meta({ description: 'Acks today whose cost is unknown' }),
    exhausted: z.boolean().meta({ description: 'true: no new leases for this backend until resets_at' }),
    resets_at: unixSeconds.meta({ description: 'The next UTC midnight, by the store clock' }),
  })
  .meta({ description: 'A budget with what has been spent against it today.' });
export type BudgetState = z.infer<typeof budgetStateSchema>;

/** What a new task may say about itself (after validation: absent and null are both undefined). */
export interface NewTask {
  prompt: string;
  backend?: string | null | undefined;
  tags?: string[] | undefined;
  priority?: number | undefined;
  max_attempts?: number | undefined;
  timeout_s?: number | null | undefined;
  metadata?: Record<string, unknown> | null | undefined;
  /** Not leased before this Unix time (seconds). At most one of not_before and delay_s. */
  not_before?: number | undefined;
  /** Not leased before this many seconds from now, by the store's clock. */
  delay_s?: number | undefined;
  /** The most this task may spend (USD); passed to backends that enforce one. */
  max_cost_usd?: number | undefined;
  /** A JSON Schema the answer must meet (parsed as JSON, validated, stored as `parsed`). */
  output_schema?: Record<string, unknown> | undefined;
  /** Runs after the first continue the CLI session of the last run (drivers that can). */
  resume?: boolean | undefined;
  /** Where the backend runs (absent: the agent's default). */
  workspace?: WorkspaceMode | undefined;
  /** The ref a worktree task starts from (absent: the agent's --base). */
  base_ref?: string | undefined;
  /** What the backend may do (absent: by workspace). */
  permissions?: PermissionLevel | undefined;
}

export const agentInfoSchema = z.object({
  worker_id: z.string(),
  backend: z.string().nullable(),
  tags: z.array(z.string()),
  client: z.string().nullable(),
  connected: z.boolean().meta({ description: 'Whether a connection that said hello as this worker is open' }),
  healthy: z.boolean(),
  reason: z.string().nullable().meta({ description: 'Why the agent is unhealthy, else null' }),
  fix: z.string().nullable(),
  current_tasks: z.array(z.number().int()),
  tasks_done: z.number().int(),
  tasks_failed: z.number().int(),
  first_seen: unixSeconds,
  last_contact: unixSeconds.meta({ description: 'The last request from this worker' }),
  disconnected_at: unixSeconds.nullable().meta({
    description:
      'Since when the agent is gone: its last connection closed then, or (an agent that never said hello) ' +
      'it was last heard from then and has been quiet longer than its lease allows; null while it is there',
  }),
});
export type AgentInfo = z.infer<typeof agentInfoSchema>;

export const TASK_EVENT_NAMES = [
  'task.enqueued',
  'task.leased',
  'task.done',
  'task.failed',
  'task.requeued',
  'task.released',
  'task.canceled',
] as const;
export type TaskEventName = (typeof TASK_EVENT_NAMES)[number];
export const AGENT_EVENT_NAMES = ['agent.connected', 'agent.updated', 'agent.disconnected'] as const;
export type AgentEventName = (typeof AGENT_EVENT_NAMES)[number];

export const hubEventSchema = z
  .union([
    z.object({ event: z.enum(TASK_EVENT_NAMES), time: unixSeconds, task: taskSchema }),
    z.object({ event: z.enum(AGENT_EVENT_NAMES), time: unixSeconds, agent: agentInfoSchema }),
    z.object({ event: z.literal('hub.stopping'), time: unixSeconds }),
    // Only to subscribers that asked for output (subscribe `output: true`, GET /events?output=1).
    z.object({
      event: z.literal('task.output'),
      time: unixSeconds,
      task_id: z.number().int(),
      lines: z.array(outputLineSchema),
    }),
  ])
  .meta({ description: 'The `data` of one SSE message; its `event` is also the SSE event name.' });
export type HubEvent = z.infer<typeof hubEventSchema>;
export type TaskOutputEvent = Extract<HubEvent, { event: 'task.output' }>;

/** Sent only to the connection(s) of the agent holding a task, when its lease is taken away. */
export const leaseRevokedEventSchema = z.object({
  event: z.literal('lease.revoked'),
  time: unixSeconds,
  task_id: z.number().int(),
  reason: z.literal('canceled'),
});
export type LeaseRevokedEvent = z.infer<typeof leaseRevokedEventSchema>;

export const helloResultSchema = z.object({
  protocol: z.string(),
  server: z.string(),
  features: z.array(z.string()),
  lease_seconds: z.number(),
  auth_required: z.boolean(),
});
export type HelloResult = z.infer<typeof helloResultSchema>;

/** One minute of the hub's throughput history (`stats_history`). */
export const throughputMinuteSchema = z.object({
  start: unixSeconds.meta({ description: 'The minute this row counts, as Unix seconds (a multiple of 60)' }),
  done: z.number().int(),
  failed: z.number().int(),
  enqueued: z.number().int(),
});
export type ThroughputMinute = z.infer<typeof throughputMinuteSchema>;

export const statsHistorySchema = z.object({
  bucket_s: z.literal(60),
  now: unixSeconds.meta({ description: "The hub's clock when it answered" }),
  since: unixSeconds.meta({ description: 'When this hub started counting (it keeps the series in memory)' }),
  scope: z.enum(['hub', 'fleet']).meta({
    description:
      'hub: the tasks of this hub (its database has no other); fleet: also those the other hubs on its ' +
      'PostgreSQL database told it about since it started',
  }),
  minutes: z.array(throughputMinuteSchema).meta({
    description: 'Oldest first, the current minute last; minutes with nothing to count are left out',
  }),
});
export type StatsHistory = z.infer<typeof statsHistorySchema>;

export const hubInfoSchema = z.object({
  server: z.literal('mittelo'),
  version: z.string().meta({ description: "The hub's mittelo version (package.json)" }),
  protocol: z.string(),
  started_at: unixSeconds,
  tcp: z
    .string()
    .nullable()
    .meta({ description: 'Where agents connect: tcp://host:port or tls://host:port' }),
  rest: z
    .string()
    .nullable()
    .meta({ description: 'The REST API and dashboard: http(s)://host:port; null without one' }),
});
export type HubInfo = z.infer<typeof hubInfoSchema>;

/** What each method answers (the REST routes answer the same bodies). */
export const resultSchemas = {
  ok: z.object({ ok: z.literal(true) }),
  hello: helloResultSchema,
  stats: z.object({ stats: statsSchema }),
  list: z.object({
    tasks: z.array(taskSchema),
    stats: statsSchema,
    truncated: z.literal(true).optional().meta({
      description: 'The page stopped at the 8 MiB answer budget: ask again with before_id=next_before_id',
    }),
    next_before_id: z.number().int().optional(),
  }),
  lease: z.object({ tasks: z.array(taskSchema) }),
  ack: z.object({ ok: z.literal(true), status: taskStatusSchema, requeued: z.boolean() }),
  extend: z.object({ ok: z.literal(true), leased_until: unixSeconds.nullable() }),
  enqueue: z.object({ task_id: z.number().int() }),
  enqueue_many: z.object({ task_ids: z.array(z.number().int()) }),
  retry_failed: z.object({ retried: z.number().int() }),
  get: z.object({ task: taskSchema }),
  cancel: z.object({ ok: z.literal(true), task: taskSchema }),
  wait: z.object({ tasks: z.array(taskSchema), timed_out: z.boolean() }),
  agents: z.object({
    agents: z.array(agentInfoSchema),
    queued_by_backend: z.array(queuedCountSchema).meta({
      description: 'Queued tasks per route (backend null: unrouted); routes with none are left out',
    }),
  }),
  report_health: z.object({ ok: z.literal(true), agent: agentInfoSchema }),
  stats_history: statsHistorySchema,
  hub_info: hubInfoSchema,
  pause: z.object({ ok: z.literal(true), pause: pauseSchema }),
  resume: z.object({
    ok: z.literal(true),
    resumed: z.boolean().meta({ description: 'false: that backend (or the whole queue) was not paused' }),
    paused: z.array(pauseSchema).meta({ description: 'The pauses still in force' }),
  }),
  pauses: z.object({ pauses: z.array(pauseSchema) }),
  limit_set: z.object({ ok: z.literal(true), cap: capSchema }),
  limit_clear: z.object({
    ok: z.literal(true),
    cleared: z.boolean().meta({ description: 'false: that scope had no cap' }),
  }),
  limits: z.object({ limits: z.array(capStateSchema) }),
  spend: z.object({
    today: z.string().meta({ description: 'The current UTC day, YYYY-MM-DD, by the store clock' }),
    rows: z.array(spendRowSchema).meta({ description: 'Newest day first, then by backend' }),
  }),
  budget_set: z.object({ ok: z.literal(true), budget: budgetSchema }),
  budget_clear: z.object({
    ok: z.literal(true),
    cleared: z.boolean().meta({ description: 'false: that backend had no budget' }),
  }),
  budgets: z.object({ budgets: z.array(budgetStateSchema) }),
  output: z.object({
    task_id: z.number().int(),
    last_seq: z.number().int().min(0).meta({ description: "The seq of the task's newest line now" }),
  }),
  output_tail: outputTailSchema,
  prune: z.object({
    removed: z.number().int().meta({ description: 'Finished tasks removed' }),
    older_than_s: z.number().meta({ description: 'The age asked for, in seconds' }),
    statuses: z
      .array(taskStatusSchema)
      .meta({ description: 'The statuses pruned (the default: every finished one)' }),
  }),
};
export type PruneResult = z.infer<typeof resultSchemas.prune>;
export type ListResult = z.infer<typeof resultSchemas.list>;
export type AgentsResult = z.infer<typeof resultSchemas.agents>;
export type ResumeResult = z.infer<typeof resultSchemas.resume>;

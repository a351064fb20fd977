/**
 * One schema per protocol method: the single source of truth for what the TCP server and the REST
 * API accept. v0.1 clients send `null` for values they leave unset, so every optional field
 * accepts null and reads it as absent.
 */
import { z } from 'zod';
import {
  COST_BASES,
  OUTPUT_KINDS,
  OUTPUT_TAIL_BOUNDS,
  PERMISSION_LEVELS,
  TASK_STATUSES,
  WORKSPACE_MODES,
  worktreeChangeSchema,
} from './model.ts';

/** Optional, and null means the same as absent (v0.1 clients send nulls). */
const optional = <T extends z.ZodType>(schema: T) =>
  schema.nullish().transform((value) => (value === null ? undefined : value)) as unknown as z.ZodType<
    z.output<T> | undefined,
    z.input<T> | null | undefined
  >;

const TASK_ID_RULE = 'a task id is a positive integer';

/** Task ids are integers; v0.1 clients written in loosely typed languages may send "7". */
export const taskIdSchema = z
  // One message for every way to get it wrong (a union would otherwise say just "Invalid input").
  .union([z.number().int(TASK_ID_RULE).positive(TASK_ID_RULE), z.string().regex(/^\d+$/, TASK_ID_RULE)], {
    error: (issue) => (issue.input === undefined ? `required (${TASK_ID_RULE})` : TASK_ID_RULE),
  })
  .transform((value) => Number(value))
  .refine((value) => Number.isSafeInteger(value) && value > 0, TASK_ID_RULE);

const nameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'use letters, digits and _ . : - only');

const tagsSchema = z.array(nameSchema).max(32);
const workerIdSchema = z.string().min(1).max(200);
const leaseTokenSchema = z.string().min(1).max(100);
const statusSchema = z.enum(TASK_STATUSES);
const metadataSchema = z.record(z.string(), z.unknown());
/** A CLI's session id (a UUID, codex's thread id, opencode's ses_...): bounded, never empty. */
const sessionIdSchema = z
  .string('session_id is a string')
  .min(1, 'session_id must not be empty')
  .max(200, 'session_id may be at most 200 characters');

/**
 * A git ref as a task may name it (a branch, a tag, a commit, HEAD~2): no whitespace, control
 * characters, `..`, `@{`, `:?*[\\` (what git refuses in a ref name), or a leading dash (never read
 * as an option).
 */
const baseRefSchema = z
  .string('base_ref is a git ref (a branch, a tag or a commit)')
  .min(1, 'base_ref must not be empty')
  .max(200, 'base_ref may be at most 200 characters')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
  .refine((ref) => !ref.startsWith('-') && !/[\s\x00-\x1f\x7f:?*[\\]|\.\.|@\{/.test(ref), {
    message: 'base_ref is not a git ref: give a branch, a tag or a commit such as main, v1.2 or HEAD~1',
  });

/**
 * How far ahead a task may be scheduled (`not_before`, `delay_s`) or a pause set to end (`until`):
 * a year. Anything later is a mistake (milliseconds given for seconds, most often).
 */
export const MAX_AHEAD_S = 365 * 24 * 3600;

/** A Unix time (seconds) at most MAX_AHEAD_S from now: `field` names it in the message. */
const unixTimeAhead = (field: string) =>
  z
    .number(`${field} is a Unix time in seconds`)
    .min(0, `${field} is a Unix time in seconds (0 or more)`)
    .refine(
      (seconds) => seconds <= Date.now() / 1000 + MAX_AHEAD_S,
      `${field} is more than a year from now: give a Unix time in seconds (not milliseconds)`,
    );

/** An amount of US dollars, more than 0: `field` names it in the message. */
const usdSchema = (field: string) =>
  z
    .number(`${field} is an amount in US dollars, such as 5 or 0.25`)
    .positive(`${field} is more than 0 US dollars`)
    .max(1_000_000, `${field} may be at most 1,000,000 US dollars`);

/** Everything a task may say about itself when it is enqueued (alone or in a batch). */
export const newTaskSchema = z
  .object({
    prompt: z.string().refine((p) => p.trim().length > 0, 'prompt must not be empty'),
    backend: optional(nameSchema),
    tags: optional(tagsSchema),
    priority: optional(z.number().int().min(-1_000_000).max(1_000_000)),
    max_attempts: optional(z.number().int().min(1).max(100)),
    timeout_s: optional(
      z
        .number()
        .positive()
        .max(7 * 24 * 3600),
    ),
    metadata: optional(metadataSchema),
    // v1: not leased before then (shown as "scheduled" until due; docs/PROTOCOL.md)
    not_before: optional(unixTimeAhead('not_before')),
    delay_s: optional(
      z
        .number('delay_s is a number of seconds')
        .min(0, 'delay_s is a number of seconds (0 or more)')
        .max(MAX_AHEAD_S, `delay_s may be at most a year (${MAX_AHEAD_S} s)`),
    ),
    // v1: the most this task may spend (docs/PROTOCOL.md, "spend and budgets")
    max_cost_usd: optional(usdSchema('max_cost_usd')),
    // v1: a JSON Schema the answer must meet (docs/PROTOCOL.md, "structured answers"); the hub
    // checks that it compiles (src/answers/), this only that it is an object
    output_schema: optional(metadataSchema),
    // v1: a run after the first continues the last run's CLI session (docs/PROTOCOL.md, "resumed sessions")
    resume: optional(z.boolean('resume is true or false')),
    // v1: where the backend runs and what it may do (docs/PROTOCOL.md, "workspaces and permissions")
    workspace: optional(z.enum(WORKSPACE_MODES, { error: 'workspace is "shared" or "worktree"' })),
    base_ref: optional(baseRefSchema),
    permissions: optional(z.enum(PERMISSION_LEVELS, { error: 'permissions is "read", "edit" or "full"' })),
  })
  .refine((task) => task.not_before === undefined || task.delay_s === undefined, {
    message: 'give not_before (a Unix time) or delay_s (seconds from now), not both',
    path: ['delay_s'],
  });

const claimFields = {
  task_id: taskIdSchema,
  lease_token: optional(leaseTokenSchema),
  worker_id: optional(workerIdSchema),
};

/** Seconds; 0 and null mean "the hub's default" as in v0.1. */
const leaseSecondsSchema = optional(
  z
    .number()
    .min(0)
    .max(7 * 24 * 3600),
);

export const methodSchemas = {
  // ---- v0.1 ----
  enqueue: newTaskSchema,
  lease: z.object({
    worker_id: optional(workerIdSchema),
    max_tasks: optional(z.number().int().min(0).max(1000)),
    lease_seconds: leaseSecondsSchema,
    // v1
    wait_ms: optional(z.number().int().min(0).max(300_000)),
    backend: optional(nameSchema),
    tags: optional(tagsSchema),
  }),
  ack: z
    .object({
      ...claimFields,
      status: z
        .string()
        .transform((s) => s.trim().toLowerCase())
        .pipe(z.enum(['done', 'failed'], { error: 'status must be "done" or "failed"' })),
      result: optional(z.string()),
      error: optional(z.string()),
      // v1
      error_kind: optional(z.string().max(64)),
      error_fix: optional(z.string().max(2000)),
      duration_ms: optional(z.number().min(0)),
      usage: optional(metadataSchema),
      retryable: optional(z.boolean()),
      // v1: what this run cost (docs/PROTOCOL.md, "spend and budgets")
      cost_usd: optional(z.number().min(0, 'cost_usd is 0 or more US dollars').max(1_000_000)),
      cost_basis: optional(
        z.enum(COST_BASES, { error: 'cost_basis is "reported", "estimated" or "unknown"' }),
      ),
      // v1: the answer parsed and valid against the task's output_schema (any JSON value)
      parsed: z.unknown().optional(),
      // v1: the CLI session this run used, kept with the task for a resumed run
      session_id: optional(sessionIdSchema),
      // v1: what the run changed in the task's own worktree (docs/PROTOCOL.md, "workspaces and permissions")
      worktree: optional(worktreeChangeSchema),
    })
    .refine((ack) => !(ack.cost_basis === 'unknown' && ack.cost_usd !== undefined), {
      message: 'cost_basis "unknown" goes without cost_usd',
      path: ['cost_usd'],
    }),
  list: z.object({
    status: optional(
      z
        .string()
        .transform((s) => s.trim().toLowerCase())
        .pipe(statusSchema),
    ),
    limit: optional(z.number().int()),
    // v1
    backend: optional(nameSchema),
    before_id: optional(taskIdSchema),
    search: optional(z.string().max(1000)),
  }),
  stats: z.object({}),
  retry_failed: z.object({ task_ids: optional(z.array(taskIdSchema).max(100_000)) }),
  shutdown: z.object({}),
  // ---- v1 ----
  hello: z.object({
    token: optional(z.string().max(1000)),
    client: optional(z.string().max(200)),
    worker_id: optional(workerIdSchema),
    backend: optional(nameSchema),
    tags: optional(tagsSchema),
    features: optional(z.array(z.string().max(64)).max(64)),
  }),
  enqueue_many: z.object({ tasks: z.array(newTaskSchema).min(1).max(100_000) }),
  extend: z.object({ ...claimFields, lease_seconds: leaseSecondsSchema }),
  release: z.object({
    ...claimFields,
    delay_ms: optional(
      z
        .number()
        .int()
        .min(0)
        .max(24 * 3600 * 1000),
    ),
    error: optional(z.string()),
    error_kind: optional(z.string().max(64)),
    error_fix: optional(z.string().max(2000)),
    // v1: the CLI session the run used before it was given back (a usage limit, overload)
    session_id: optional(sessionIdSchema),
  }),
  cancel: z.object({ task_id: taskIdSchema }),
  get: z.object({ task_id: taskIdSchema }),
  wait: z.object({
    task_ids: z.array(taskIdSchema).min(1).max(10_000),
    timeout_ms: optional(z.number().int().min(0).max(3_600_000)),
    mode: optional(z.enum(['all', 'any'])),
  }),
  agents: z.object({}),
  report_health: z.object({
    worker_id: optional(workerIdSchema),
    healthy: z.boolean(),
    reason: optional(z.string().max(2000)),
    fix: optional(z.string().max(2000)),
  }),
  subscribe: z.object({
    events: optional(z.array(z.enum(['task', 'agent'])).min(1)),
    // v1 (feature live_output): also `task.output` events, of every task
    output: optional(z.boolean('output is true or false')),
  }),
  // Added after v1 was first published: what the dashboards' chart and header show.
  stats_history: z.object({
    minutes: optional(
      z
        .number()
        .int()
        .min(1)
        .max(24 * 60),
    ),
  }),
  hub_info: z.object({}),
  // ---- v1 additions after v1: queue control (docs/PROTOCOL.md, "pause and resume") ----
  pause: z.object({
    backend: optional(nameSchema),
    until: optional(
      unixTimeAhead('until').refine(
        (seconds) => seconds > Date.now() / 1000,
        'until is in the past: give a later Unix time in seconds, or leave it out to pause until resumed',
      ),
    ),
    reason: optional(z.string().max(500)),
  }),
  resume: z.object({ backend: optional(nameSchema) }),
  pauses: z.object({}),
  // ---- v1 additions after v1: caps on leasing (docs/PROTOCOL.md, "limits") ----
  // A field left out keeps what the cap had; null removes that part of it.
  limit_set: z.object({
    scope: nameSchema,
    concurrency: z
      .number()
      .int('concurrency is a whole number of tasks leased at once')
      .min(1, 'concurrency is 1 or more (to stop leasing, pause)')
      .max(1_000_000)
      .nullable()
      .optional(),
    rate_per_min: z
      .number()
      .min(1, 'rate_per_min is 1 or more tasks per minute')
      .max(1_000_000)
      .nullable()
      .optional(),
  }),
  limit_clear: z.object({ scope: nameSchema }),
  limits: z.object({}),
  // ---- v1 additions after v1: spend and budgets (docs/PROTOCOL.md, "spend and budgets") ----
  spend: z.object({
    days: optional(
      z
        .number()
        .int('days is a whole number of UTC days')
        .min(1, 'days is 1 or more (1: today only)')
        .max(366, 'days may be at most 366'),
    ),
  }),
  budget_set: z.object({ backend: nameSchema, usd_per_day: usdSchema('usd_per_day') }),
  budget_clear: z.object({ backend: nameSchema }),
  budgets: z.object({}),
  // ---- v1 additions after v1: live output (docs/PROTOCOL.md, "live output") ----
  output: z.object({
    ...claimFields,
    lines: z
      .array(
        z.object({
          kind: z.enum(OUTPUT_KINDS, { error: `kind is one of ${OUTPUT_KINDS.join(', ')}` }),
          text: z.string('text is a string'),
          at: optional(z.number('at is a Unix time in seconds').min(0)),
        }),
      )
      .min(1, 'lines must hold at least one line')
      .max(OUTPUT_TAIL_BOUNDS.perCall, `at most ${OUTPUT_TAIL_BOUNDS.perCall} lines per output call`),
    dropped: optional(z.number().int('dropped is a whole number of lines').min(0, 'dropped is 0 or more')),
  }),
  output_tail: z.object({
    task_id: taskIdSchema,
    after_seq: optional(z.number().int('after_seq is a whole number').min(0, 'after_seq is 0 or more')),
    limit: optional(
      z
        .number()
        .int('limit is a whole number of lines')
        .min(1, 'limit is 1 or more')
        .max(OUTPUT_TAIL_BOUNDS.tailLimit, `limit may be at most ${OUTPUT_TAIL_BOUNDS.tailLimit}`),
    ),
  }),
  // ---- v1 additions after v1: retention (docs/PROTOCOL.md, "prune") ----
  prune: z.object({
    older_than_s: z
      .number('older_than_s is required: the age in seconds a finished task must have to be removed')
      .min(0, 'older_than_s is a number of seconds, 0 or more'),
    // Any status is accepted here so that asking for queued or leased gets the store's sentence
    // (queue-policy.ts: prune never removes unfinished work) rather than an enum dump.
    statuses: optional(
      z
        .array(
          z
            .string()
            .transform((s) => s.trim().toLowerCase())
            .pipe(statusSchema),
        )
        .max(TASK_STATUSES.length * 2),
    ),
  }),
} as const;

export type MethodName = keyof typeof methodSchemas;
export type MethodParams<M extends MethodName> = z.output<(typeof methodSchemas)[M]>;

export const V01_METHODS: readonly MethodName[] = [
  'enqueue',
  'lease',
  'ack',
  'list',
  'stats',
  'retry_failed',
  'shutdown',
];

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(methodSchemas, name);
}

/** A readable one-liner from a zod failure: which field, what was wrong. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = issue.path.length ? issue.path.join('.') : 'params';
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * Zod schemas of what the hub answers (tasks, stats, agents, events, errors), for the OpenAPI
 * document. Requests are validated by src/protocol/schemas.ts; answers are built by the hub from
 * typed objects, so these schemas only describe them, and the type checks at the bottom make the
 * build fail if they drift from the TypeScript types the hub really returns.
 */
import { z } from 'zod';
import { ERROR_CODES } from '../../errors.ts';
import { type Stats, TASK_STATUSES, type Task } from '../../store/types.ts';
import type { HubEvent } from '../events.ts';
import type { AgentInfo } from '../registry.ts';

const statusSchema = z.enum(TASK_STATUSES);
const unixSeconds = z.number().meta({ description: 'Unix time in seconds (float)' });

export const taskSchema = z
  .object({
    task_id: z.number().int(),
    prompt: z.string(),
    status: statusSchema,
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
    lease_expirations: z.number().int(),
    available_at: unixSeconds,
    timeout_s: z.number().nullable(),
    error_kind: z.string().nullable(),
    error_fix: z.string().nullable(),
    duration_ms: z.number().nullable(),
    usage: z.record(z.string(), z.unknown()).nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    lease_token: z.string().nullable().meta({ description: 'Always null outside lease answers' }),
  })
  .meta({ description: 'A task. The first nine fields are the v0.1 shape.' });

export const statsSchema = z
  .object({
    queued: z.number(),
    leased: z.number(),
    done: z.number(),
    failed: z.number(),
    canceled: z.number(),
  })
  .meta({ description: 'How many tasks are in each status.' });

export const agentSchema = z.object({
  worker_id: z.string(),
  backend: z.string().nullable(),
  tags: z.array(z.string()),
  client: z.string().nullable(),
  connected: z.boolean(),
  healthy: z.boolean(),
  reason: z.string().nullable(),
  fix: z.string().nullable(),
  current_tasks: z.array(z.number().int()),
  tasks_done: z.number().int(),
  tasks_failed: z.number().int(),
  first_seen: unixSeconds,
  last_contact: unixSeconds,
});

export const hubEventSchema = z
  .union([
    z.object({
      event: z.enum([
        'task.enqueued',
        'task.leased',
        'task.done',
        'task.failed',
        'task.requeued',
        'task.released',
        'task.canceled',
      ]),
      time: unixSeconds,
      task: taskSchema,
    }),
    z.object({
      event: z.enum(['agent.connected', 'agent.updated', 'agent.disconnected']),
      time: unixSeconds,
      agent: agentSchema,
    }),
    z.object({ event: z.literal('hub.stopping'), time: unixSeconds }),
  ])
  .meta({ description: 'The `data` of one SSE message; its `event` is also the SSE event name.' });

export const errorSchema = z.object({
  error: z.string().meta({ description: 'What went wrong and how to fix it, for people' }),
  code: z.enum(ERROR_CODES).meta({ description: 'Stable; for programs' }),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const responseSchemas = {
  ok: z.object({ ok: z.literal(true) }),
  stats: z.object({ stats: statsSchema }),
  list: z.object({
    tasks: z.array(taskSchema),
    stats: statsSchema,
    truncated: z.literal(true).optional().meta({
      description: 'The page stopped at the 8 MiB answer budget: ask again with before_id=next_before_id',
    }),
    next_before_id: z.number().int().optional(),
  }),
  enqueue: z.object({ task_id: z.number().int() }),
  enqueue_many: z.object({ task_ids: z.array(z.number().int()) }),
  retry_failed: z.object({ retried: z.number().int() }),
  get: z.object({ task: taskSchema }),
  cancel: z.object({ ok: z.literal(true), task: taskSchema }),
  wait: z.object({ tasks: z.array(taskSchema), timed_out: z.boolean() }),
  agents: z.object({
    agents: z.array(agentSchema),
    queued_by_backend: z.array(z.object({ backend: z.string().nullable(), queued: z.number().int() })).meta({
      description: 'Queued tasks per route (backend null: unrouted); routes with none are left out',
    }),
  }),
};

// Compile-time guards: each side must be assignable to the other, or the build fails.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const SCHEMAS_MATCH_TYPES: [
  Same<z.output<typeof taskSchema>, Task>,
  Same<z.output<typeof statsSchema>, Stats>,
  Same<z.output<typeof agentSchema>, AgentInfo>,
  Same<z.output<typeof hubEventSchema>, HubEvent>,
] = [true, true, true, true];

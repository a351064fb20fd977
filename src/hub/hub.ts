/**
 * The hub's behaviour, independent of transport: every protocol method, validated by its schema,
 * run against the store, with the dispatcher, registry and event bus kept in step. The TCP server
 * and the REST API are thin adapters over `Hub.call`.
 */
import { compileAnswerSchema } from '../answers/answer-schema.ts';
import { MitteloError } from '../errors.ts';
import { checkParamsJson } from '../protocol/json-limits.ts';
import type { LeaseRevokedEvent, NewTask, OutputTail, Task } from '../protocol/model.ts';
import { OUTPUT_TAIL_BOUNDS, TERMINAL_STATUSES } from '../protocol/model.ts';
import {
  describeIssues,
  isMethodName,
  type MethodName,
  type MethodParams,
  methodSchemas,
} from '../protocol/schemas.ts';
import { ANSWER_BUDGET_BYTES, filledBudget } from '../store/answer-budget.ts';
import { checkClaim, PRUNABLE_STATUSES, taskNotFound } from '../store/queue-policy.ts';
import type { Store } from '../store/types.ts';
import { tokensMatch } from './auth.ts';
import { Dispatcher } from './dispatcher.ts';
import { EventBus, type EventCategory, type EventListener } from './events.ts';
import { FLEET_POLL_MS, FleetLink } from './fleet-link.ts';
import { type HubAddresses, mitteloVersion } from './hub-info.ts';
import { OutputBudget } from './output-budget.ts';
import { OutputTails } from './output-tails.ts';
import { WorkerRegistry } from './registry.ts';
import { ThroughputHistory } from './throughput-history.ts';

export interface HubOptions {
  store: Store;
  /** Default lease length for `lease` and `extend` callers that do not say (v0.1 default 60). */
  leaseSeconds: number;
  /** When set, every connection must `hello` with it before anything else. */
  token?: string | undefined;
  maxPromptBytes: number;
  /** Called once when a client asks the hub to stop (`shutdown`). */
  onShutdownRequested?: () => void;
  /** One-line diagnostics (the hub's log); default stderr. */
  log?: ((line: string) => void) | undefined;
}

/** Who is calling: one per TCP connection, one per REST request. */
export interface CallContext {
  authenticated: boolean;
  /** The worker this connection said hello as, if any. */
  workerId?: string | undefined;
  /** False once the caller is gone (parked long-polls are then dropped). */
  isAlive: () => boolean;
  /** Present on transports that can push events (TCP). */
  subscribe?: (categories: EventCategory[]) => void;
  /** The transport calls this with the identity from `hello`. */
  onHello?: (identity: { worker_id?: string | undefined }) => void;
  /** Present on transports that can push a message to this caller alone (TCP). */
  notify?: (message: LeaseRevokedEvent) => void;
  /** Present on transports that can stop reading from a caller for a while (TCP): `output` floods. */
  slowDown?: (ms: number) => void;
}

export const PROTOCOL_VERSION = '1';
export const HUB_FEATURES = [
  'hello',
  'auth',
  'long_poll',
  'lease_token',
  'extend',
  'release',
  'routing',
  'priority',
  'retry_policy',
  'cancel',
  'get',
  'wait',
  'enqueue_many',
  'agents',
  'report_health',
  'subscribe',
  'error_codes',
  'lease_revocations',
  'pause',
  'not_before',
  'stats_history',
  'hub_info',
  'prune',
  'limits',
  'spend',
  // A hub without it drops a task's output_schema unread: a client checks for it first.
  'output_schema',
  // Tasks with `resume`, and the session_id of ack and release (docs/PROTOCOL.md, "resumed sessions").
  'resumed_sessions',
  // Tasks with workspace, base_ref and permissions, and the worktree of ack (docs/PROTOCOL.md,
  // "workspaces and permissions"): a client checks for it before it sends them.
  'workspaces',
  // `output` and `output_tail`, and subscribe's `output` (docs/PROTOCOL.md, "live output"): an agent
  // forwards its tasks' output only to a hub listing it.
  'live_output',
];

/** The most JSON a task's metadata, and its output_schema, may each be. */
const MAX_METADATA_BYTES = 64 * 1024;
const SECONDS_PER_DAY = 86_400;
const DEFAULT_WAIT_TIMEOUT_MS = 30_000;
const WAIT_RECHECK_MS = 2_000;
/**
 * How long a lease the hub did not hand out itself (it restarted, or another hub of the fleet did)
 * is believed for `output` after the store said so: `output` then reads the store this often per
 * task at most, never on every call.
 */
const OUTPUT_CLAIM_TRUST_MS = 2_000;

/** `2026-12-03`: the UTC day of a Unix time, as spend rows name days. */
const utcDay = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString().slice(0, 10);

type Handler<M extends MethodName> = (params: MethodParams<M>, context: CallContext) => Promise<unknown>;

export class Hub {
  readonly store: Store;
  readonly events = new EventBus();
  readonly registry: WorkerRegistry;
  readonly dispatcher: Dispatcher;
  /** Tasks finished and enqueued per minute over the last day (`stats_history`). */
  readonly history: ThroughputHistory;
  private readonly startedAt = Date.now() / 1000;
  /** Where the servers listen, once they do (`hub_info`). */
  private addresses: HubAddresses = { tcp: null, rest: null };
  private readonly options: HubOptions;
  /** task id -> `wait` calls watching it. */
  private readonly taskWatchers = new Map<number, Set<(taskId: number) => void>>();
  /** `wait` calls to answer when the hub stops. */
  private readonly stopWaiters = new Set<() => void>();
  /** worker id -> connections that asked (hello feature `lease_revocations`) to hear of canceled leases. */
  private readonly revocationListeners = new Map<string, Set<CallContext>>();
  private stopping = false;
  /** Present when other hubs share the store's database. */
  private readonly fleet: FleetLink | null;
  /** Tasks' live output (in memory only, bounded). */
  readonly outputTails = new OutputTails();
  /** Each connection's allowance of `output` lines. */
  private readonly outputBudgets = new WeakMap<CallContext, OutputBudget>();
  /**
   * The leases `output` is checked against without the store: task id -> its holder and token,
   * from this hub's lease answers (trusted while the registry says that worker still holds it), or
   * from a store read (trusted for OUTPUT_CLAIM_TRUST_MS; the store gives no token).
   */
  private readonly outputClaims = new Map<
    number,
    { worker_id: string | null; lease_token: string | null; trustedUntil: number }
  >();

  constructor(options: HubOptions) {
    this.options = options;
    this.store = options.store;
    this.registry = new WorkerRegistry(
      (agent, change) => {
        this.events.agentEvent(`agent.${change}`, agent);
        this.fleet?.agentsChanged();
      },
      { quietSeconds: options.leaseSeconds },
    );
    this.history = new ThroughputHistory({ scope: this.store.fleet ? 'fleet' : 'hub' });
    this.dispatcher = new Dispatcher(
      this.store,
      {
        leased: (request, tasks) => {
          this.registry.leased(
            request.worker_id,
            tasks.map((t) => t.task_id),
          );
          for (const task of tasks) {
            this.outputClaims.set(task.task_id, {
              worker_id: request.worker_id,
              lease_token: task.lease_token,
              trustedUntil: Number.POSITIVE_INFINITY,
            });
          }
          this.events.taskEvents('task.leased', tasks);
          this.fleet?.tasksChanged('task.leased', tasks);
        },
        // A task a lease failed (its lease kept running out) is a failure like any other.
        expired: (tasks) => {
          for (const task of tasks) this.registry.finished(task.task_id, 'other');
          this.history.record('task.failed', tasks.length);
          this.events.taskEvents('task.failed', tasks);
          this.fleet?.tasksChanged('task.failed', tasks);
          for (const task of tasks) this.taskSettled(task.task_id);
        },
      },
      // Other hubs change the queue too: look at it at least this often, should a message be lost.
      this.store.fleet ? { maxWakeDelayMs: FLEET_POLL_MS } : {},
    );
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    this.fleet = this.store.fleet
      ? new FleetLink({
          fleet: this.store.fleet,
          store: this.store,
          events: this.events,
          registry: this.registry,
          wake: () => this.dispatcher.notify(),
          settled: (taskId) => this.taskSettled(taskId),
          tally: (event, count) => this.history.record(event, count),
          revoke: (workerId, taskId) => this.revokeLease(workerId, taskId, 'canceled'),
          log,
        })
      : null;
  }

  /** The servers listen: `hub_info` says where from now on. */
  listeningAt(addresses: HubAddresses): void {
    this.addresses = { tcp: addresses.tcp, rest: addresses.rest };
  }

  get requiresToken(): boolean {
    return this.options.token !== undefined && this.options.token !== '';
  }

  /** Validate and run one protocol call. Throws MitteloError for anything the caller got wrong. */
  async call(method: string, rawParams: unknown, context: CallContext): Promise<unknown> {
    if (!isMethodName(method)) {
      throw new MitteloError(
        'unknown_method',
        `Unknown method: ${method}. Known methods: ${Object.keys(methodSchemas).join(', ')}`,
      );
    }
    if (this.requiresToken && !context.authenticated && method !== 'hello') {
      throw new MitteloError(
        'unauthorized',
        'this hub requires a token: send {"method":"hello","params":{"token":"..."}} first (mittelo clients: --token or MITTELO_TOKEN)',
      );
    }
    if (this.stopping && method !== 'stats' && method !== 'hello') {
      throw new MitteloError('unavailable', 'the hub is shutting down');
    }
    const params = rawParams === null || rawParams === undefined ? {} : rawParams;
    if (typeof params !== 'object' || Array.isArray(params)) {
      throw new MitteloError('bad_request', `params of ${method} must be an object`);
    }
    // Before the schema: a value nested thousands deep would overflow the stack in zod or in
    // JSON.stringify, and a lone surrogate would be stored as U+FFFD.
    checkParamsJson(params);
    const parsed = methodSchemas[method].safeParse(params);
    if (!parsed.success) {
      throw new MitteloError('bad_request', `bad params for ${method}: ${describeIssues(parsed.error)}`);
    }
    const handler = this.handlers[method] as Handler<typeof method>;
    return handler(parsed.data as never, context);
  }

  /** Listen to hub events (the REST SSE stream uses this). */
  subscribe(categories: EventCategory[], listener: EventListener): () => void {
    return this.events.subscribe(categories, listener);
  }

  /** Stop serving: parked leases and waits answer empty, subscribers hear `hub.stopping`. */
  beginShutdown(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.fleet?.close();
    this.dispatcher.stop();
    for (const stop of [...this.stopWaiters]) stop();
    this.events.hubStopping();
  }

  /**
   * The transport could not deliver an answer (the caller hung up, or the answer could not be
   * written). Leases in it go back to the queue at once, rather than staying with a worker that
   * never heard of them until their lease runs out.
   */
  undelivered(method: string, result: unknown): void {
    if (method !== 'lease') return;
    const tasks = (result as { tasks?: Task[] } | null)?.tasks ?? [];
    for (const task of tasks) this.registry.finished(task.task_id, 'other');
    void this.dispatcher
      .giveBack(tasks, 'the lease answer could not be delivered (the worker hung up); back in the queue')
      .then(() => this.fleet?.workAdded());
  }

  connectionClosed(context: CallContext): void {
    this.dispatcher.forget(context.isAlive);
    if (context.workerId) {
      this.registry.disconnect(context.workerId);
      this.revocationListeners.get(context.workerId)?.delete(context);
    }
  }

  private readonly handlers: { [M in MethodName]: Handler<M> } = {
    enqueue: async (params) => {
      const [task] = await this.enqueueTasks([params]);
      return { task_id: task!.task_id };
    },

    enqueue_many: async (params) => {
      const tasks = await this.enqueueTasks(params.tasks);
      return { task_ids: tasks.map((t) => t.task_id) };
    },

    lease: async (params, context) => {
      const workerId = params.worker_id ?? context.workerId ?? 'worker';
      const request = {
        worker_id: workerId,
        // v0.1 read 0 as "the default", and so do we.
        max_tasks: params.max_tasks || 1,
        lease_seconds: params.lease_seconds || this.options.leaseSeconds,
        backend: params.backend,
        tags: params.tags,
        max_bytes: ANSWER_BUDGET_BYTES,
      };
      // Quiet for the long-poll, then at most a lease's length before its next call or heartbeat.
      this.registry.seen(workerId, request.lease_seconds + (params.wait_ms ?? 0) / 1000);
      const tasks = await this.dispatcher.lease(request, params.wait_ms ?? 0, context.isAlive);
      return { tasks };
    },

    ack: async (params, context) => {
      this.noteContact(params.worker_id ?? context.workerId);
      const { task, requeued } = await this.store.ack(params);
      this.registry.finished(task.task_id, requeued ? 'other' : params.status);
      if (requeued) {
        this.events.taskEvents('task.requeued', [task]);
        this.fleet?.tasksChanged('task.requeued', [task]);
        this.dispatcher.notify();
      } else {
        const event = params.status === 'done' ? 'task.done' : 'task.failed';
        this.history.record(event, 1);
        this.events.taskEvents(event, [task]);
        this.fleet?.tasksChanged(event, [task]);
        this.taskSettled(task.task_id);
      }
      return { ok: true, status: task.status, requeued: requeued ?? false };
    },

    list: async (params) => {
      const [tasks, stats] = await Promise.all([
        this.store.list({
          status: params.status,
          limit: params.limit ?? 50,
          backend: params.backend,
          before_id: params.before_id,
          search: params.search,
          max_bytes: ANSWER_BUDGET_BYTES,
        }),
        this.store.stats(),
      ]);
      // A page cut by the byte budget says where the next one starts (v1, additive).
      if (tasks.length > 0 && filledBudget(tasks, ANSWER_BUDGET_BYTES)) {
        return { tasks, stats, truncated: true, next_before_id: tasks[tasks.length - 1]!.task_id };
      }
      return { tasks, stats };
    },

    stats: async () => ({ stats: await this.store.stats() }),

    retry_failed: async (params) => {
      const retried = await this.store.retryFailed(params.task_ids);
      if (retried > 0) {
        this.dispatcher.notify();
        this.fleet?.workAdded();
      }
      return { retried };
    },

    shutdown: async () => {
      setImmediate(() => this.options.onShutdownRequested?.());
      return { ok: true };
    },

    hello: async (params, context) => {
      if (this.requiresToken) {
        if (!params.token || !tokensMatch(params.token, this.options.token!)) {
          throw new MitteloError(
            'unauthorized',
            params.token ? 'wrong token' : 'this hub requires a token: pass it as params.token',
          );
        }
        context.authenticated = true;
      }
      if (params.worker_id) {
        this.registry.connect(
          {
            worker_id: params.worker_id,
            backend: params.backend,
            tags: params.tags,
            client: params.client,
          },
          context.workerId !== params.worker_id,
        );
        context.onHello?.({ worker_id: params.worker_id });
        if (params.features?.includes('lease_revocations') && context.notify) {
          const listeners = this.revocationListeners.get(params.worker_id) ?? new Set();
          listeners.add(context);
          this.revocationListeners.set(params.worker_id, listeners);
        }
      }
      return {
        protocol: PROTOCOL_VERSION,
        server: 'mittelo',
        features: HUB_FEATURES,
        lease_seconds: this.options.leaseSeconds,
        auth_required: this.requiresToken,
      };
    },

    extend: async (params, context) => {
      const leaseSeconds = params.lease_seconds || this.options.leaseSeconds;
      this.noteContact(params.worker_id ?? context.workerId, leaseSeconds);
      const task = await this.store.extend({ ...params, lease_seconds: leaseSeconds });
      return { ok: true, leased_until: task.leased_until };
    },

    release: async (params, context) => {
      this.noteContact(params.worker_id ?? context.workerId);
      const task = await this.store.release(params);
      this.registry.finished(task.task_id, 'other');
      this.events.taskEvents('task.released', [task]);
      this.fleet?.tasksChanged('task.released', [task]);
      this.dispatcher.notify();
      return { ok: true };
    },

    cancel: async (params) => {
      const holder = this.registry.holderOf(params.task_id);
      const task = await this.store.cancel(params.task_id);
      // Tell the agent running it, so it stops the backend now rather than at its next heartbeat;
      // it may be connected to another hub of the fleet.
      const worker = holder ?? task.worker_id;
      if (worker !== null) this.revokeLease(worker, task.task_id, 'canceled');
      this.fleet?.canceled(task);
      this.registry.finished(task.task_id, 'other');
      this.events.taskEvents('task.canceled', [task]);
      this.fleet?.tasksChanged('task.canceled', [task]);
      this.taskSettled(task.task_id);
      return { ok: true, task };
    },

    get: async (params) => {
      const [task] = await this.store.get([params.task_id]);
      if (!task) throw new MitteloError('not_found', `task ${params.task_id} does not exist`);
      return { task };
    },

    wait: async (params) => this.waitForTasks(params.task_ids, params.timeout_ms, params.mode ?? 'all'),

    // queued_by_backend (additive): which routes have work waiting, so a reader can tell which have
    // no agent to take it (status, the dashboards, enqueue). Read from the queued rows' index only.
    agents: async () => {
      const [agents, queued] = await Promise.all([
        this.fleet ? this.fleet.agents() : this.registry.list(),
        this.store.queuedByBackend(),
      ]);
      return { agents, queued_by_backend: queued };
    },

    report_health: async (params, context) => {
      const workerId = params.worker_id ?? context.workerId;
      if (!workerId) {
        throw new MitteloError('bad_request', 'report_health needs a worker_id (or a hello with one first)');
      }
      const agent = this.registry.setHealth(
        workerId,
        params.healthy,
        params.reason ?? null,
        params.fix ?? null,
      );
      return { ok: true, agent };
    },

    stats_history: async (params) => this.history.series(params.minutes),

    hub_info: async () => ({
      server: 'mittelo',
      version: mitteloVersion(),
      protocol: PROTOCOL_VERSION,
      started_at: this.startedAt,
      ...this.addresses,
    }),

    // Queue control: the pause lives in the store (so it survives a restart and holds on every hub
    // of a shared database); parked leases of a paused route stay parked, and are tried again on
    // resume, here and (through the fleet) on the other hubs.
    pause: async (params) => {
      const pause = await this.store.pause({
        backend: params.backend ?? null,
        until: params.until,
        reason: params.reason,
      });
      this.events.pauseChanged({ backend: pause.backend, paused: true });
      return { ok: true, pause };
    },

    resume: async (params) => {
      const resumed = await this.store.resume(params.backend ?? null);
      if (resumed) {
        this.events.pauseChanged({ backend: params.backend ?? null, paused: false });
        this.dispatcher.notify();
        this.fleet?.workAdded();
      }
      return { ok: true, resumed, paused: await this.store.pauses() };
    },

    pauses: async () => ({ pauses: await this.store.pauses() }),

    // Caps on leasing: in the store, enforced in the lease's transaction (so on every hub of a
    // shared database). A cap raised or removed may let parked leases through at once.
    limit_set: async (params) => {
      const current = (await this.store.caps()).find((cap) => cap.scope === params.scope);
      const cap = await this.store.setCap({
        scope: params.scope,
        concurrency: params.concurrency === undefined ? (current?.concurrency ?? null) : params.concurrency,
        rate_per_min:
          params.rate_per_min === undefined ? (current?.rate_per_min ?? null) : params.rate_per_min,
      });
      this.dispatcher.notify();
      this.fleet?.workAdded();
      return { ok: true, cap };
    },

    limit_clear: async (params) => {
      const cleared = await this.store.clearCap(params.scope);
      if (cleared) {
        this.dispatcher.notify();
        this.fleet?.workAdded();
      }
      return { ok: true, cleared };
    },

    limits: async () => ({ limits: await this.store.caps() }),

    // Spend and budgets: summed and enforced by the store (spend in the ack's transaction, the
    // budget in the lease's), so they hold on every hub of a shared database. A budget raised or
    // removed may let parked leases of its backend through at once.
    spend: async (params) => {
      const [rows, budgets] = await Promise.all([this.store.spend(params.days ?? 1), this.store.budgets()]);
      // The store's day, which its rows and budgets are counted in: a budget's resets_at is the
      // store clock's next UTC midnight. With no budget to read it from, the hub's clock (the same
      // but for clock skew between the hub and a PostgreSQL server).
      const inToday = budgets[0] ? budgets[0].resets_at - SECONDS_PER_DAY : Date.now() / 1000;
      return { today: utcDay(inToday), rows };
    },

    budget_set: async (params) => {
      const budget = await this.store.setBudget({ backend: params.backend, usd_per_day: params.usd_per_day });
      this.dispatcher.notify();
      this.fleet?.workAdded();
      return { ok: true, budget };
    },

    budget_clear: async (params) => {
      const cleared = await this.store.clearBudget(params.backend);
      if (cleared) {
        this.dispatcher.notify();
        this.fleet?.workAdded();
      }
      return { ok: true, cleared };
    },

    budgets: async () => ({ budgets: await this.store.budgets() }),

    // Retention: finished tasks only (queue-policy.ts refuses queued and leased). The store deletes
    // in short batches, so leases and acks go on while a large prune runs.
    prune: async (params) => {
      const statuses = params.statuses ? [...new Set(params.statuses)] : [...PRUNABLE_STATUSES];
      const removed = await this.store.prune({ older_than_s: params.older_than_s, statuses });
      return { removed, older_than_s: params.older_than_s, statuses };
    },

    subscribe: async (params, context) => {
      if (!context.subscribe) {
        throw new MitteloError('bad_request', 'subscribe needs a TCP connection; over HTTP use GET /events');
      }
      const categories = params.events ?? ['task', 'agent'];
      // `output` is its own switch, not a category in `events`, so a v1 subscriber's answer is unchanged.
      context.subscribe(params.output ? [...categories, 'output'] : categories);
      return params.output
        ? { ok: true, events: categories, output: true }
        : { ok: true, events: categories };
    },

    // Live output: kept in memory (output-tails.ts), never in the store, so that a chatty agent
    // costs the hub no writes. Only the lease's holder may add to a task's output.
    output: async (params, context) => {
      const workerId = params.worker_id ?? context.workerId;
      let budget = this.outputBudgets.get(context);
      if (!budget) {
        budget = new OutputBudget();
        this.outputBudgets.set(context, budget);
      }
      // Charged before the lease is checked: a flood of refused calls is slowed down too.
      const verdict = budget.charge(params.lines.length);
      if (verdict.pauseMs > 0) context.slowDown?.(verdict.pauseMs);
      await this.checkOutputClaim(params.task_id, params.lease_token, workerId);
      if (workerId) this.registry.seen(workerId);
      const lines = verdict.keep < params.lines.length ? params.lines.slice(0, verdict.keep) : params.lines;
      const dropped = (params.dropped ?? 0) + (params.lines.length - lines.length);
      const kept = this.outputTails.append(params.task_id, lines, dropped);
      this.events.outputEvent(params.task_id, kept);
      return { task_id: params.task_id, last_seq: this.outputTails.lastSeq(params.task_id) };
    },

    output_tail: async (params): Promise<OutputTail> => {
      const limit = params.limit ?? OUTPUT_TAIL_BOUNDS.tailLimit;
      const tail = this.outputTails.read(params.task_id, params.after_seq ?? 0, limit);
      if (tail) return { task_id: params.task_id, ...tail };
      // No output here: a task that printed nothing (yet), or none at all.
      const [task] = await this.store.get([params.task_id]);
      if (!task) throw taskNotFound(params.task_id);
      return { task_id: params.task_id, lines: [], last_seq: 0, lost: 0 };
    },
  };

  private revokeLease(workerId: string, taskId: number, reason: LeaseRevokedEvent['reason']): void {
    const listeners = this.revocationListeners.get(workerId);
    if (!listeners || listeners.size === 0) return;
    const message: LeaseRevokedEvent = {
      event: 'lease.revoked',
      time: Date.now() / 1000,
      task_id: taskId,
      reason,
    };
    for (const context of listeners) context.notify?.(message);
  }

  private async enqueueTasks(tasks: NewTask[]): Promise<Task[]> {
    for (const [index, task] of tasks.entries()) {
      const where = tasks.length > 1 ? `tasks[${index}].` : '';
      const bytes = Buffer.byteLength(task.prompt);
      if (bytes > this.options.maxPromptBytes) {
        throw new MitteloError(
          'too_large',
          `${where}prompt is ${bytes} bytes; the hub's limit is ${this.options.maxPromptBytes} (hub flag --max-prompt-bytes)`,
        );
      }
      if (task.metadata && JSON.stringify(task.metadata).length > MAX_METADATA_BYTES) {
        throw new MitteloError('too_large', `${where}metadata is over ${MAX_METADATA_BYTES} bytes of JSON`);
      }
      if (task.output_schema) {
        if (JSON.stringify(task.output_schema).length > MAX_METADATA_BYTES) {
          throw new MitteloError(
            'too_large',
            `${where}output_schema is over ${MAX_METADATA_BYTES} bytes of JSON`,
          );
        }
        checkOutputSchema(task.output_schema, where);
      }
    }
    const created = await this.store.enqueue(tasks);
    this.history.record('task.enqueued', created.length);
    this.events.taskEvents('task.enqueued', created);
    this.dispatcher.notify();
    this.fleet?.workAdded();
    this.fleet?.tasksChanged('task.enqueued', created);
    return created;
  }

  /** `quietSeconds`: how long the worker may now stay silent (see WorkerRegistry.seen). */
  private noteContact(workerId: string | undefined | null, quietSeconds?: number): void {
    if (workerId) this.registry.seen(workerId, quietSeconds);
  }

  /**
   * Throws unless the caller holds the lease on the task (as extend checks it). From memory for
   * the leases this hub handed out; else from a store read (no commit waited for), believed a
   * while so that a run's output calls do not each read the store.
   */
  private async checkOutputClaim(
    taskId: number,
    leaseToken: string | undefined,
    workerId: string | undefined,
  ): Promise<void> {
    const known = this.outputClaims.get(taskId);
    if (known) {
      const current =
        known.trustedUntil === Number.POSITIVE_INFINITY
          ? this.registry.holderOf(taskId) === known.worker_id
          : Date.now() < known.trustedUntil;
      if (current && (!workerId || known.worker_id === workerId)) {
        if (!leaseToken || known.lease_token === null || known.lease_token === leaseToken) return;
        // This hub handed out the lease now held: the caller's ended and the task was leased again.
        throw new MitteloError(
          'conflict',
          `task ${taskId}: your lease ended and the task was leased again (now held by ${known.worker_id}); this output changes nothing`,
          { task_id: taskId, status: 'leased', worker_id: known.worker_id },
        );
      }
      if (!current) this.outputClaims.delete(taskId);
    }
    const [task] = await this.store.get([taskId]);
    if (!task) throw taskNotFound(taskId);
    // The store answers without the lease token: the worker id is what can be checked here.
    checkClaim(task, { task_id: taskId, worker_id: workerId }, 'output');
    this.outputClaims.set(taskId, {
      worker_id: task.worker_id,
      lease_token: null,
      trustedUntil: Date.now() + OUTPUT_CLAIM_TRUST_MS,
    });
  }

  /** A task reached a terminal status: tell the `wait` calls that watch it. */
  private taskSettled(taskId: number): void {
    this.outputTails.taskEnded(taskId);
    this.outputClaims.delete(taskId);
    const watchers = this.taskWatchers.get(taskId);
    if (watchers) for (const watcher of [...watchers]) watcher(taskId);
    // A finished task frees a slot under its caps (mittelo limit): a lease parked on a full cap
    // looks again. (Nothing to do when no lease is parked.)
    this.dispatcher.notify();
  }

  /**
   * Answer when all (or any) of the tasks reached a terminal status, or at the timeout. Settling
   * is tracked per task id from events, so a wait on 10,000 tasks costs nothing per completion
   * beyond a set lookup.
   */
  private async waitForTasks(
    taskIds: number[],
    timeoutMs: number | undefined,
    mode: 'all' | 'any',
  ): Promise<{ tasks: Task[]; timed_out: boolean }> {
    const wanted = new Set(taskIds);
    const settled = new Set<number>();
    const ready = () => (mode === 'all' ? settled.size === wanted.size : settled.size > 0);
    let wakeUp: () => void = () => {};
    const onSettle = (taskId: number) => {
      settled.add(taskId);
      if (ready()) wakeUp();
    };
    // Listen before reading, so nothing that settles in between is missed.
    for (const id of wanted) this.settleWatchers(id).add(onSettle);
    try {
      const tasks = await this.store.get([...wanted]);
      if (tasks.length < wanted.size) {
        const found = new Set(tasks.map((t) => t.task_id));
        const missing = [...wanted].filter((id) => !found.has(id));
        throw new MitteloError('not_found', `no such task: ${missing.slice(0, 10).join(', ')}`, {
          missing: missing.slice(0, 100),
        });
      }
      const deadline = Date.now() + (timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS);
      let current = tasks;
      for (;;) {
        for (const task of current) if (TERMINAL_STATUSES.includes(task.status)) settled.add(task.task_id);
        if (ready()) return { tasks: current, timed_out: false };
        const remaining = deadline - Date.now();
        if (remaining <= 0 || this.stopping) return { tasks: current, timed_out: true };
        // Events wake us at once; the periodic look catches what settles without one (a task the
        // store fails while leasing, after its lease ran out too often).
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, Math.min(remaining, WAIT_RECHECK_MS));
          function finish() {
            clearTimeout(timer);
            stopWaiters.delete(finish);
            resolve();
          }
          const stopWaiters = this.stopWaiters;
          stopWaiters.add(finish);
          wakeUp = finish;
        });
        if (this.stopping) return { tasks: current, timed_out: true };
        current = await this.store.get([...wanted]);
      }
    } finally {
      for (const id of wanted) {
        const watchers = this.taskWatchers.get(id);
        watchers?.delete(onSettle);
        if (watchers?.size === 0) this.taskWatchers.delete(id);
      }
    }
  }

  private settleWatchers(taskId: number): Set<(taskId: number) => void> {
    let watchers = this.taskWatchers.get(taskId);
    if (!watchers) {
      watchers = new Set();
      this.taskWatchers.set(taskId, watchers);
    }
    return watchers;
  }
}

/**
 * Refuses a task whose output_schema does not compile, before anything is stored: an agent could
 * only fail such a task on every attempt. answers/ checks it exactly as the agent will.
 */
function checkOutputSchema(schema: Record<string, unknown>, where: string): void {
  const compiled = compileAnswerSchema(schema);
  if (compiled.ok) return;
  // Its message names output_schema already ("output_schema is not a valid JSON Schema: ..."):
  // only the task's place in the request goes in front.
  const message = compiled.error.startsWith('output_schema')
    ? `${where}${compiled.error}`
    : `${where}output_schema: ${compiled.error}`;
  throw new MitteloError('bad_request', message);
}

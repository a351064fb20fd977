/**
 * HubClient: the typed way to talk to a hub. One persistent TCP (or TLS) connection, request ids
 * so many calls can be in flight at once, a timeout per call, automatic reconnect with backoff —
 * to the next of several hub addresses when there are several — and `hello` (token, identity,
 * features) and `subscribe` repeated on every new connection. Used by the CLI, the agent, the
 * tests, and users. Connection failures are MitteloErrors with the client-side codes of
 * src/errors.ts (connection-errors.ts).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { type ErrorCode, MitteloError } from '../errors.ts';
import { LineReader } from '../protocol/framing.ts';
import type {
  AgentInfo,
  Budget,
  BudgetState,
  Cap,
  CapState,
  CostBasis,
  HelloResult,
  HubEvent,
  LeaseRevokedEvent,
  NewTask,
  OutputLine,
  OutputTail,
  Pause,
  PruneResult,
  QueuedCount,
  ResumeResult,
  SpendRow,
  Stats,
  Task,
  TaskStatus,
} from '../protocol/model.ts';
import type { MethodName } from '../protocol/schemas.ts';
import { formatHubAddress, type HubAddress, type HubAddressInput, toHubAddress } from './address.ts';
import {
  AttemptFailure,
  type AttemptPhase,
  attemptFailure,
  ClientClosedError,
  ConnectionClosedError,
  HubUnreachableError,
  RequestTimeoutError,
  TlsError,
  tlsRequired,
  unreachable,
} from './connection-errors.ts';

export {
  formatHubAddress,
  type HubAddress,
  type HubAddressInput,
  parseHubAddress,
  parseHubList,
} from './address.ts';
export {
  ClientClosedError,
  ConnectionClosedError,
  HubUnreachableError,
  RequestTimeoutError,
  TlsError,
} from './connection-errors.ts';

export interface HubClientOptions {
  /** The hub's host (default 127.0.0.1), when `hubs` is not given. */
  host?: string;
  /** The hub's TCP port (default 8765), when `hubs` is not given. */
  port?: number;
  /**
   * Several addresses of the hub, instead of host/port: `{host, port, tls?}` objects or strings
   * (`host:port`, `tcp://host:port`, `tls://host:port`). The client connects to the first that
   * answers; when a connection dies it reconnects to the next one (round robin, with backoff).
   */
  hubs?: readonly HubAddressInput[] | undefined;
  /** Use TLS for addresses that do not say (host/port, `host:port` strings). Default false. */
  tls?: boolean | undefined;
  /** PEM of the certificate authorities to trust for TLS, instead of the system store. */
  tlsCa?: string | Buffer | Array<string | Buffer> | undefined;
  /** The name the hub's certificate must be for (default: the address's host). */
  tlsServername?: string | undefined;
  token?: string | undefined;
  /** Identity sent in `hello` (agents). */
  workerId?: string | undefined;
  backend?: string | undefined;
  tags?: string[] | undefined;
  client?: string;
  /** Optional protocol features to ask for in `hello` (agents ask for `lease_revocations`). */
  features?: string[] | undefined;
  /** Keep reconnecting after the connection drops (default true). */
  reconnect?: boolean;
  /**
   * Give up connecting after this long; 0 = keep trying (default 0 with reconnect, else one try
   * of each address).
   */
  connectTimeoutMs?: number;
  /** Longest pause between reconnect attempts (default 2000 ms). */
  maxBackoffMs?: number;
  /** Answers larger than this (in bytes) are refused: the connection is dropped; default 256 MiB. */
  maxLineBytes?: number;
  /**
   * How long a call waits for its answer before it rejects with `request_timeout` (default 30 s;
   * 0 = no limit). Calls that park on the hub get their wait added: `lease` its `wait_ms`, `wait`
   * its `timeout_ms`. A late answer is ignored.
   */
  requestTimeoutMs?: number | undefined;
  /** How long one connection attempt (TCP connect, then the TLS handshake) may take (default 10 s). */
  attemptTimeoutMs?: number | undefined;
}

/** Per-call settings. */
export interface CallOptions {
  /** This call's timeout instead of the computed one (0 = none). */
  timeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 10_000;
/** What a hub waits for a `wait` that gives no timeout_ms (src/hub/hub.ts). */
const HUB_DEFAULT_WAIT_MS = 30_000;

export type { HelloResult };

/** The `agents` answer: who is there, and (newer hubs) how much work waits on each route. */
export interface AgentsReport {
  agents: AgentInfo[];
  queued_by_backend: QueuedCount[] | null;
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout | null;
}

/** The error a call rejects with when the hub answered with an error. */
export class HubError extends MitteloError {}

/** The hub does not know this method: a v0.1 hub, which answers {"message": "Unknown method: x"} with no code. */
export function isUnknownMethod(error: unknown): boolean {
  return (
    error instanceof HubError && (error.code === 'unknown_method' || /^unknown method/i.test(error.message))
  );
}

/** What a client hears: broadcast events after `subscribe`, and pushes meant for it alone. */
export type ClientEvent = HubEvent | LeaseRevokedEvent;

export interface HubClientEvents {
  connected: [];
  disconnected: [error: Error | null];
  /** Every address failed once more; the next round follows after `delayMs`. */
  retrying: [error: Error, delayMs: number];
  /** Broadcast events after `subscribe`, and pushes meant for this agent alone (`lease.revoked`). */
  event: [event: ClientEvent];
}

export class HubClient extends EventEmitter<HubClientEvents> {
  /** Every address of the hub, in the order tried. */
  readonly addresses: readonly Required<HubAddress>[];
  private readonly options: HubClientOptions;
  /** The address in use, or the one tried next. */
  private index = 0;
  private socket: net.Socket | null = null;
  /** True once the socket in use has said hello (a drop before that is a failed attempt). */
  private greeted = false;
  /** Lines received on the socket in use: a timed-out call with none since it went out means a dead connection. */
  private received = 0;
  private connecting: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private subscribedTo: Array<'task' | 'agent'> | null = null;
  /** Whether the subscription asked for `task.output` events too (renewed with it). */
  private subscribedToOutput = false;
  /** What the hub said in `hello`; null for a v0.1 hub that has no `hello`. */
  hello: HelloResult | null = null;

  constructor(options: HubClientOptions = {}) {
    super();
    this.options = options;
    const inputs: readonly HubAddressInput[] =
      options.hubs && options.hubs.length > 0
        ? options.hubs
        : [{ host: options.host ?? '127.0.0.1', port: options.port ?? 8765 }];
    this.addresses = inputs.map((input) => toHubAddress(input, options.tls ?? false));
  }

  /** The address in use (or tried next, while not connected). */
  get address(): Required<HubAddress> {
    return this.addresses[this.index]!;
  }

  get host(): string {
    return this.address.host;
  }

  get port(): number {
    return this.address.port;
  }

  /** The address in use, as written: `127.0.0.1:8765`, `tls://hub.example:8765`. */
  get where(): string {
    return formatHubAddress(this.address);
  }

  /** Connect (and say hello) now rather than on the first call. */
  async connect(): Promise<void> {
    await this.ensureConnected();
  }

  get connected(): boolean {
    return this.socket !== null && !this.connecting;
  }

  /** A raw protocol call. Prefer the typed methods below. */
  async call<T = unknown>(
    method: MethodName | string,
    params: object = {},
    options: CallOptions = {},
  ): Promise<T> {
    await this.ensureConnected();
    return this.send<T>(method, params, options.timeoutMs ?? this.timeoutFor(method, params));
  }

  /** The request timeout, plus the time a parking call may legitimately wait on the hub. */
  private timeoutFor(method: string, params: object): number {
    const base = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(base > 0)) return 0;
    const p = params as { wait_ms?: unknown; timeout_ms?: unknown };
    if (method === 'lease' && typeof p.wait_ms === 'number' && p.wait_ms > 0) return base + p.wait_ms;
    if (method === 'wait')
      return base + (typeof p.timeout_ms === 'number' ? p.timeout_ms : HUB_DEFAULT_WAIT_MS);
    return base;
  }

  // ---- v0.1 ----
  async enqueue(task: NewTask | string): Promise<number> {
    const params = typeof task === 'string' ? { prompt: task } : task;
    return (await this.call<{ task_id: number }>('enqueue', params)).task_id;
  }
  lease(params: {
    worker_id?: string;
    max_tasks?: number;
    lease_seconds?: number;
    wait_ms?: number;
    backend?: string;
    tags?: string[];
  }): Promise<{ tasks: Task[] }> {
    return this.call('lease', params);
  }
  ack(params: {
    task_id: number;
    status: 'done' | 'failed';
    result?: string | null;
    error?: string | null;
    lease_token?: string | null;
    worker_id?: string;
    error_kind?: string;
    error_fix?: string;
    duration_ms?: number;
    usage?: Record<string, unknown>;
    retryable?: boolean;
    /** What this run cost (USD); with no cost_basis it counts as reported (v1 hubs after `spend`). */
    cost_usd?: number;
    /** `unknown` goes without cost_usd. */
    cost_basis?: CostBasis;
    /** The CLI session this run used, kept with the task (v1 hubs with `resumed_sessions`). */
    session_id?: string;
  }): Promise<{ ok: true; status: TaskStatus; requeued: boolean }> {
    return this.call('ack', params);
  }
  list(
    params: {
      status?: TaskStatus;
      limit?: number;
      backend?: string;
      before_id?: number;
      search?: string;
    } = {},
  ): Promise<{ tasks: Task[]; stats: Stats; truncated?: boolean; next_before_id?: number }> {
    return this.call('list', params);
  }
  /**
   * `list`, page after page: the hub cuts an answer at a byte budget (`truncated`, with
   * `next_before_id` where the next page starts), so "every task" is a series of calls. Yields
   * each page; `limit` <= 0 means all of them.
   */
  async *listPages(
    params: Omit<NonNullable<Parameters<HubClient['list']>[0]>, 'before_id'> & { before_id?: number } = {},
  ): AsyncGenerator<{ tasks: Task[]; stats: Stats }> {
    const limit = params.limit ?? 50;
    let seen = 0;
    let before = params.before_id;
    for (;;) {
      const want = limit > 0 ? limit - seen : 0;
      const page = await this.list({
        ...params,
        limit: want,
        ...(before !== undefined ? { before_id: before } : {}),
      });
      seen += page.tasks.length;
      yield { tasks: page.tasks, stats: page.stats };
      if (!page.truncated || page.next_before_id === undefined || (limit > 0 && seen >= limit)) return;
      before = page.next_before_id;
    }
  }
  async stats(): Promise<Stats> {
    return (await this.call<{ stats: Stats }>('stats')).stats;
  }
  async retryFailed(taskIds?: number[]): Promise<number> {
    return (await this.call<{ retried: number }>('retry_failed', taskIds ? { task_ids: taskIds } : {}))
      .retried;
  }
  shutdown(): Promise<{ ok: true }> {
    return this.call('shutdown');
  }
  /**
   * Remove finished tasks that finished at least `older_than_s` ago (statuses: default every
   * finished one). No request timeout: a large prune takes as long as it takes (the hub deletes in
   * short batches meanwhile, so leases go on).
   */
  prune(params: { older_than_s: number; statuses?: TaskStatus[] }): Promise<PruneResult> {
    return this.call('prune', params, { timeoutMs: 0 });
  }

  // ---- v1 ----
  async enqueueMany(tasks: Array<NewTask | string>): Promise<number[]> {
    const normalized = tasks.map((t) => (typeof t === 'string' ? { prompt: t } : t));
    return (await this.call<{ task_ids: number[] }>('enqueue_many', { tasks: normalized })).task_ids;
  }
  extend(params: {
    task_id: number;
    lease_token?: string | null;
    lease_seconds?: number;
  }): Promise<{ ok: true; leased_until: number }> {
    return this.call('extend', params);
  }
  release(params: {
    task_id: number;
    lease_token?: string | null;
    delay_ms?: number;
    error?: string;
    error_kind?: string;
    error_fix?: string;
    /** The CLI session the run used before it was given back (v1 hubs with `resumed_sessions`). */
    session_id?: string;
  }): Promise<{ ok: true }> {
    return this.call('release', params);
  }
  async cancel(taskId: number): Promise<Task> {
    return (await this.call<{ task: Task }>('cancel', { task_id: taskId })).task;
  }
  async get(taskId: number): Promise<Task> {
    return (await this.call<{ task: Task }>('get', { task_id: taskId })).task;
  }
  wait(
    taskIds: number[],
    options: { timeout_ms?: number; mode?: 'all' | 'any' } = {},
  ): Promise<{ tasks: Task[]; timed_out: boolean }> {
    return this.call('wait', { task_ids: taskIds, ...options });
  }
  async agents(): Promise<AgentInfo[]> {
    return (await this.call<{ agents: AgentInfo[] }>('agents')).agents;
  }
  /** The agents, or null from a v0.1 hub (it keeps no registry). */
  async agentsOrNull(): Promise<AgentInfo[] | null> {
    try {
      return await this.agents();
    } catch (error) {
      if (isUnknownMethod(error)) return null;
      throw error;
    }
  }
  /**
   * The agents and the queued tasks per backend, or null from a v0.1 hub. `queued_by_backend` is
   * null from a hub too old to send it.
   */
  async agentsReportOrNull(): Promise<AgentsReport | null> {
    let answer: { agents: AgentInfo[]; queued_by_backend?: QueuedCount[] };
    try {
      answer = await this.call('agents');
    } catch (error) {
      if (isUnknownMethod(error)) return null;
      throw error;
    }
    return { agents: answer.agents, queued_by_backend: answer.queued_by_backend ?? null };
  }
  /** Pause leasing for a backend (no backend: the whole queue); `until` in Unix seconds. */
  async pause(params: { backend?: string; until?: number; reason?: string } = {}): Promise<Pause> {
    return (await this.call<{ pause: Pause }>('pause', params)).pause;
  }
  /** Lift a backend's pause (no backend: the whole queue's); says whether one was in force. */
  resume(params: { backend?: string } = {}): Promise<ResumeResult> {
    return this.call('resume', params);
  }
  async pauses(): Promise<Pause[]> {
    return (await this.call<{ pauses: Pause[] }>('pauses')).pauses;
  }
  /** Set a cap on leasing; a field left out keeps what the cap had, null removes that part. */
  async setLimit(params: {
    scope: string;
    concurrency?: number | null;
    rate_per_min?: number | null;
  }): Promise<Cap> {
    return (await this.call<{ cap: Cap }>('limit_set', params)).cap;
  }
  /** Remove the cap of a scope; false when it had none. */
  async clearLimit(scope: string): Promise<boolean> {
    return (await this.call<{ cleared: boolean }>('limit_clear', { scope })).cleared;
  }
  async limits(): Promise<CapState[]> {
    return (await this.call<{ limits: CapState[] }>('limits')).limits;
  }
  /** The caps, or null from a hub too old to have them (older than `limits`). */
  async limitsOrNull(): Promise<CapState[] | null> {
    try {
      return await this.limits();
    } catch (error) {
      if (isUnknownMethod(error)) return null;
      throw error;
    }
  }
  /**
   * Tasks, tokens and cost per UTC day and backend over the last `days` days (default 1: today),
   * newest day first; `today` is the store's current UTC day.
   */
  spend(params: { days?: number } = {}): Promise<{ today: string; rows: SpendRow[] }> {
    return this.call('spend', params);
  }
  /** The spend, or null from a hub too old to count it (older than `spend`). */
  async spendOrNull(params: { days?: number } = {}): Promise<{ today: string; rows: SpendRow[] } | null> {
    try {
      return await this.spend(params);
    } catch (error) {
      if (isUnknownMethod(error)) return null;
      throw error;
    }
  }
  /** Set a backend's daily budget (USD per UTC day), replacing the one it had. */
  async setBudget(params: Budget): Promise<Budget> {
    return (await this.call<{ budget: Budget }>('budget_set', params)).budget;
  }
  /** Remove a backend's budget; false when it had none. */
  async clearBudget(backend: string): Promise<boolean> {
    return (await this.call<{ cleared: boolean }>('budget_clear', { backend })).cleared;
  }
  async budgets(): Promise<BudgetState[]> {
    return (await this.call<{ budgets: BudgetState[] }>('budgets')).budgets;
  }
  /** The budgets, or null from a hub too old to have them (older than `budgets`). */
  async budgetsOrNull(): Promise<BudgetState[] | null> {
    try {
      return await this.budgets();
    } catch (error) {
      if (isUnknownMethod(error)) return null;
      throw error;
    }
  }
  /** The pauses in force, or null from a hub that cannot pause (older than `pause`). */
  async pausesOrNull(): Promise<Pause[] | null> {
    try {
      return await this.pauses();
    } catch (error) {
      if (isUnknownMethod(error)) return null;
      throw error;
    }
  }
  reportHealth(params: {
    healthy: boolean;
    reason?: string;
    fix?: string;
    worker_id?: string;
  }): Promise<unknown> {
    return this.call('report_health', params);
  }
  /**
   * Receive hub events as 'event' emissions; renewed automatically after a reconnect. With
   * `output: true` also every task's `task.output` events (hubs with the `live_output` feature;
   * check `hasFeature('live_output')` first: an older hub refuses the param).
   */
  async subscribe(
    events: Array<'task' | 'agent'> = ['task', 'agent'],
    options: { output?: boolean } = {},
  ): Promise<void> {
    this.subscribedTo = events;
    this.subscribedToOutput = options.output === true;
    await this.call('subscribe', this.subscribeParams());
  }

  private subscribeParams(): object {
    return this.subscribedToOutput
      ? { events: this.subscribedTo, output: true }
      : { events: this.subscribedTo };
  }

  /** Whether the hub said (in `hello`) that it has this feature; false for a v0.1 hub. */
  hasFeature(feature: string): boolean {
    return this.hello?.features.includes(feature) ?? false;
  }

  /**
   * Add lines to a leased task's live output (the holder of the lease only; hubs with
   * `live_output`). `dropped`: lines left out since the last call (rate limits).
   */
  output(params: {
    task_id: number;
    lease_token?: string | null;
    worker_id?: string;
    lines: Array<{ kind: OutputLine['kind']; text: string; at?: number }>;
    dropped?: number;
  }): Promise<{ task_id: number; last_seq: number }> {
    return this.call('output', params);
  }

  /** A task's kept output lines after `afterSeq` (default: all kept), at most `limit` (default and most 500). */
  outputTail(taskId: number, afterSeq?: number, limit?: number): Promise<OutputTail> {
    return this.call('output_tail', {
      task_id: taskId,
      ...(afterSeq !== undefined ? { after_seq: afterSeq } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
  }

  /** Close the connection; calls in flight reject (ClientClosedError). */
  close(): void {
    this.closed = true;
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    this.failPending(() => new ClientClosedError());
  }

  // ---- connection management ----

  private ensureConnected(): Promise<void> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    if (this.socket && !this.connecting) return Promise.resolve();
    this.connecting ??= this.connectWithRetry().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /**
   * Try each address in turn, starting with the current one; after a round in which none
   * answered, pause (doubling, up to maxBackoffMs) and go round again. An answer from a hub
   * (HubError: a refused token, say) or a TLS failure ends it: another try would fail the same way.
   */
  private async connectWithRetry(): Promise<void> {
    const reconnect = this.options.reconnect ?? true;
    const limitMs = this.options.connectTimeoutMs ?? (reconnect ? 0 : 1);
    const started = Date.now();
    let delay = 50;
    let failures: AttemptFailure[] = [];
    for (;;) {
      if (this.closed) throw new ClientClosedError();
      const address = this.address;
      try {
        await this.openSocket(address);
        await this.greet(address);
        if (this.closed) throw new ClientClosedError();
        this.greeted = true;
        this.emit('connected');
        return;
      } catch (error) {
        this.dropSocket();
        if (error instanceof HubError || error instanceof TlsError || error instanceof ClientClosedError) {
          throw error;
        }
        failures.push(
          error instanceof AttemptFailure
            ? error
            : new AttemptFailure(address, (error as Error)?.message ?? String(error), false, error),
        );
        this.index = (this.index + 1) % this.addresses.length;
        if (failures.length < this.addresses.length) continue; // the rest of this round first
        const giveUp = unreachable(this.addresses, failures);
        failures = [];
        const outOfTime = limitMs > 0 && Date.now() - started + delay > limitMs;
        if (!reconnect || outOfTime || this.closed) throw giveUp;
        this.emit('retrying', giveUp, delay);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, this.options.maxBackoffMs ?? 2000);
      }
    }
  }

  /** One attempt: TCP connect (and the TLS handshake), within attemptTimeoutMs. Rejects with AttemptFailure or TlsError. */
  private openSocket(address: Required<HubAddress>): Promise<void> {
    const attemptMs = this.options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      let phase: AttemptPhase = 'connect';
      const socket = address.tls
        ? tls.connect({
            host: address.host,
            port: address.port,
            ...(this.options.tlsCa !== undefined ? { ca: this.options.tlsCa } : {}),
            ...(this.tlsServername(address) ? { servername: this.tlsServername(address) } : {}),
          })
        : net.connect({ host: address.host, port: address.port });
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(attemptFailure(address, error, phase, attemptMs));
      };
      const timer = setTimeout(
        () => fail(Object.assign(new Error('attempt timed out'), { code: 'ATTEMPT_TIMEOUT' })),
        attemptMs,
      );
      // Kept after a failure too: a destroyed socket may still report an error, which must not throw.
      const onError = (error: Error) => fail(error);
      const onClose = () => fail(Object.assign(new Error('connection closed'), { code: 'ECONNRESET' }));
      socket.on('error', onError);
      socket.once('close', onClose);
      socket.once('connect', () => {
        if (address.tls) phase = 'handshake';
      });
      socket.once(address.tls ? 'secureConnect' : 'connect', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off('close', onClose);
        this.adopt(socket, address);
        resolve();
      });
    });
  }

  private tlsServername(address: HubAddress): string | undefined {
    const name = this.options.tlsServername ?? address.host;
    return net.isIP(name) === 0 ? name : undefined;
  }

  /** Make a freshly connected socket the one in use: framing, close handling. */
  private adopt(socket: net.Socket, address: Required<HubAddress>): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    this.socket = socket;
    this.greeted = false;
    this.received = 0;
    const limit = this.options.maxLineBytes ?? 256 * 1024 * 1024;
    const reader = new LineReader({
      maxLineBytes: limit,
      onLine: (line) => {
        if (this.socket !== socket) return;
        this.received += 1;
        if (line.trim()) this.onLine(line, address);
      },
      onTooLarge: (bytes) => {
        if (this.socket !== socket) return;
        const why = `an answer was over this client's limit of ${limit} bytes (${bytes}+ received; maxLineBytes)`;
        this.failPending((method) => new ConnectionClosedError(method, address, why));
        this.abandon(socket, address);
      },
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => {}); // the close that follows says it
    socket.on('close', () => {
      reader.stop();
      this.onClose(socket, address);
    });
  }

  /** Forget the socket of a failed attempt (its pending hello, if any, has been failed). */
  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
  }

  /** hello (with token and identity) and re-subscribe; a v0.1 hub has no hello, which is fine. */
  private async greet(address: Required<HubAddress>): Promise<void> {
    const params: Record<string, unknown> = { client: this.options.client ?? 'mittelo-client' };
    if (this.options.token) params.token = this.options.token;
    if (this.options.workerId) params.worker_id = this.options.workerId;
    if (this.options.backend) params.backend = this.options.backend;
    if (this.options.tags) params.tags = this.options.tags;
    if (this.options.features) params.features = this.options.features;
    const timeout = this.timeoutFor('hello', params);
    try {
      this.hello = await this.send<HelloResult>('hello', params, timeout);
    } catch (error) {
      // v0.1 hubs answer {"message": "Unknown method: hello"} with no code.
      if (isUnknownMethod(error)) {
        this.hello = null;
        return;
      }
      throw this.asAttemptError(error, address);
    }
    try {
      if (this.subscribedTo) await this.send('subscribe', this.subscribeParams(), timeout);
    } catch (error) {
      throw this.asAttemptError(error, address);
    }
  }

  /** A hello that failed for a connection reason is a failed attempt at this address. */
  private asAttemptError(error: unknown, address: Required<HubAddress>): unknown {
    if (error instanceof RequestTimeoutError) {
      return new AttemptFailure(
        address,
        `it accepted the connection, but hello got no answer within ${error.timeoutMs} ms: is the hub stopped or overloaded?`,
        false,
        error,
      );
    }
    if (error instanceof HubUnreachableError) {
      return new AttemptFailure(
        address,
        'it accepted the connection, then closed it before answering hello (a hub stopping, or one that turned this client away)',
        false,
        error,
      );
    }
    return error;
  }

  private send<T>(method: string, params: object, timeoutMs: number): Promise<T> {
    const socket = this.socket;
    if (!socket || socket.destroyed) {
      return Promise.reject(
        new HubUnreachableError(
          `not connected to the hub at ${this.where}: \`${method}\` was not sent (the connection had just closed); send it again`,
          [this.address],
        ),
      );
    }
    const address = this.address;
    const id = this.nextId++;
    let line: string;
    try {
      line = `${JSON.stringify({ id, method, params })}\n`;
    } catch (error) {
      return Promise.reject(error); // params that cannot be JSON (a cycle, a BigInt): nothing was sent
    }
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { method, resolve: resolve as (value: unknown) => void, reject, timer: null };
      if (timeoutMs > 0) {
        const receivedAtSend = this.received;
        pending.timer = setTimeout(
          () => this.timedOut(id, socket, address, receivedAtSend, timeoutMs),
          timeoutMs,
        );
        pending.timer.unref();
      }
      this.pending.set(id, pending);
      socket.write(line);
    });
  }

  /**
   * A call got no answer in time: it rejects, and its answer, should it come, is ignored. When
   * nothing at all has come from the hub since the call went out, the connection is taken for
   * dead (a hub stopped or cut off without a reset) and dropped, so the client reconnects — to the
   * next address, when there are several.
   */
  private timedOut(
    id: number,
    socket: net.Socket,
    address: Required<HubAddress>,
    receivedAtSend: number,
    timeoutMs: number,
  ): void {
    const pending = this.take(id);
    if (!pending) return;
    const dead = socket === this.socket && this.received === receivedAtSend;
    pending.reject(new RequestTimeoutError(pending.method, address, timeoutMs, dead));
    if (dead) this.abandon(socket, address);
  }

  /** Drop the socket in use now, not when its close event comes: the next call must not use it. */
  private abandon(socket: net.Socket, address: Required<HubAddress>): void {
    socket.destroy();
    this.onClose(socket, address);
  }

  /** Remove a pending call and its timer. */
  private take(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    if (!pending) return undefined;
    this.pending.delete(id);
    if (pending.timer) clearTimeout(pending.timer);
    return pending;
  }

  private onLine(line: string, address: Required<HubAddress>): void {
    let message: {
      id?: number | null;
      result?: unknown;
      error?: { code?: ErrorCode; message?: string; details?: Record<string, unknown> } | null;
      event?: string;
    };
    try {
      message = JSON.parse(line);
    } catch {
      return; // not ours to fix; the matching call will time out or the hub will close
    }
    if (message.event !== undefined && message.id === undefined) {
      this.emit('event', message as unknown as ClientEvent);
      return;
    }
    if (message.id === null || message.id === undefined) {
      // An error the hub could not tie to a request (for example a line that was too large).
      if (message.error) {
        const { code, message: text, details } = message.error;
        const error =
          details?.tls_required === true
            ? tlsRequired(address)
            : new HubError(code ?? 'internal', text ?? 'hub error', details);
        this.failPending(() => error);
      }
      return;
    }
    const pending = typeof message.id === 'number' ? this.take(message.id) : undefined;
    if (!pending) return; // a call that timed out: its answer is ignored
    if (message.error) {
      pending.reject(
        new HubError(
          message.error.code ?? 'internal',
          message.error.message ?? 'hub error',
          message.error.details,
        ),
      );
    } else {
      pending.resolve(message.result);
    }
  }

  private onClose(socket: net.Socket, address: Required<HubAddress>): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.failPending((method) => new ConnectionClosedError(method, address));
    // A drop before hello was answered is a failed attempt; connectWithRetry carries on from it.
    if (!this.greeted) return;
    this.greeted = false;
    // The next connection starts with the next address: this one just failed.
    this.index = (this.index + 1) % this.addresses.length;
    const error = this.closed
      ? null
      : new HubUnreachableError(`lost the hub at ${formatHubAddress(address)}`, [address]);
    this.emit('disconnected', error);
    // A listener that only receives events makes no calls that would reconnect it: do it here.
    if (!this.closed && (this.options.reconnect ?? true) && this.subscribedTo) {
      void this.ensureConnected().catch(() => {});
    }
  }

  private failPending(error: (method: string) => unknown): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const call of pending) {
      if (call.timer) clearTimeout(call.timer);
      call.reject(error(call.method));
    }
  }
}

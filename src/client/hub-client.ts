/**
 * HubClient: the typed way to talk to a hub. One persistent TCP connection, request ids so many
 * calls can be in flight at once, automatic reconnect with backoff, and `hello` (token, identity)
 * repeated on every new connection. Used by the CLI, the agent, the tests, and users.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { type ErrorCode, MitteloError } from '../errors.ts';
import type { HubEvent, LeaseRevokedEvent } from '../hub/events.ts';
import type { AgentInfo } from '../hub/registry.ts';
import type { MethodName } from '../protocol/schemas.ts';
import type { NewTask, QueuedCount, Stats, Task, TaskStatus } from '../store/types.ts';

export interface HubClientOptions {
  host?: string;
  port?: number;
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
  /** Give up connecting after this long; 0 = keep trying (default 0 with reconnect, else one try). */
  connectTimeoutMs?: number;
  /** Longest pause between reconnect attempts (default 2000 ms). */
  maxBackoffMs?: number;
  /** Answers larger than this are refused (the connection is dropped); default 256 MiB. */
  maxLineBytes?: number;
}

export interface HelloResult {
  protocol: string;
  server: string;
  features: string[];
  lease_seconds: number;
  auth_required: boolean;
}

/** The `agents` answer: who is there, and (newer hubs) how much work waits on each route. */
export interface AgentsReport {
  agents: AgentInfo[];
  queued_by_backend: QueuedCount[] | null;
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** The error a call rejects with when the hub answered with an error. */
export class HubError extends MitteloError {}

/** The hub does not know this method: a v0.1 hub, which answers {"message": "Unknown method: x"} with no code. */
export function isUnknownMethod(error: unknown): boolean {
  return (
    error instanceof HubError && (error.code === 'unknown_method' || /^unknown method/i.test(error.message))
  );
}

/** No connection could be made, or it dropped with calls in flight. */
export class HubUnreachableError extends Error {
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number, cause?: unknown) {
    super(`no hub at ${host}:${port} — start one with \`mittelo hub\``, { cause });
    this.name = 'HubUnreachableError';
    this.host = host;
    this.port = port;
  }
}

/** What a client hears: broadcast events after `subscribe`, and pushes meant for it alone. */
export type ClientEvent = HubEvent | LeaseRevokedEvent;

export interface HubClientEvents {
  connected: [];
  disconnected: [error: Error | null];
  /** A connection attempt failed; another follows after `delayMs`. */
  retrying: [error: Error, delayMs: number];
  /** Broadcast events after `subscribe`, and pushes meant for this agent alone (`lease.revoked`). */
  event: [event: ClientEvent];
}

export class HubClient extends EventEmitter<HubClientEvents> {
  readonly host: string;
  readonly port: number;
  private readonly options: HubClientOptions;
  private socket: net.Socket | null = null;
  private connecting: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffer = '';
  private closed = false;
  private subscribedTo: Array<'task' | 'agent'> | null = null;
  /** What the hub said in `hello`; null for a v0.1 hub that has no `hello`. */
  hello: HelloResult | null = null;

  constructor(options: HubClientOptions = {}) {
    super();
    this.options = options;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 8765;
  }

  /** Connect (and say hello) now rather than on the first call. */
  async connect(): Promise<void> {
    await this.ensureConnected();
  }

  get connected(): boolean {
    return this.socket !== null && !this.connecting;
  }

  /** A raw protocol call. Prefer the typed methods below. */
  async call<T = unknown>(method: MethodName | string, params: object = {}): Promise<T> {
    await this.ensureConnected();
    return this.send<T>(method, params);
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
  reportHealth(params: {
    healthy: boolean;
    reason?: string;
    fix?: string;
    worker_id?: string;
  }): Promise<unknown> {
    return this.call('report_health', params);
  }
  /** Receive hub events as 'event' emissions; renewed automatically after a reconnect. */
  async subscribe(events: Array<'task' | 'agent'> = ['task', 'agent']): Promise<void> {
    this.subscribedTo = events;
    await this.call('subscribe', { events });
  }

  /** Close the connection; calls in flight reject. */
  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = null;
    this.failPending(new Error('client closed'));
  }

  // ---- connection management ----

  private ensureConnected(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('client closed'));
    if (this.socket && !this.connecting) return Promise.resolve();
    this.connecting ??= this.connectWithRetry().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connectWithRetry(): Promise<void> {
    const reconnect = this.options.reconnect ?? true;
    const limitMs = this.options.connectTimeoutMs ?? (reconnect ? 0 : 1);
    const started = Date.now();
    let delay = 50;
    for (;;) {
      try {
        await this.openSocket();
        await this.greet();
        this.emit('connected');
        return;
      } catch (error) {
        this.socket?.destroy();
        this.socket = null;
        if (error instanceof HubError) throw error; // the hub answered: retrying will not help
        const outOfTime = limitMs > 0 && Date.now() - started + delay > limitMs;
        if (!reconnect || outOfTime || this.closed)
          throw new HubUnreachableError(this.host, this.port, error);
        this.emit('retrying', error as Error, delay);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, this.options.maxBackoffMs ?? 2000);
      }
    }
  }

  private openSocket(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      socket.setNoDelay(true);
      const onError = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        this.socket = socket;
        this.buffer = '';
        socket.setEncoding('utf8');
        socket.on('data', (text: string) => this.onData(text));
        socket.on('error', () => {});
        socket.on('close', () => this.onClose(socket));
        resolve();
      });
    });
  }

  /** hello (with token and identity) and re-subscribe; a v0.1 hub has no hello, which is fine. */
  private async greet(): Promise<void> {
    const params: Record<string, unknown> = { client: this.options.client ?? 'mittelo-client' };
    if (this.options.token) params.token = this.options.token;
    if (this.options.workerId) params.worker_id = this.options.workerId;
    if (this.options.backend) params.backend = this.options.backend;
    if (this.options.tags) params.tags = this.options.tags;
    if (this.options.features) params.features = this.options.features;
    try {
      this.hello = await this.send<HelloResult>('hello', params);
    } catch (error) {
      // v0.1 hubs answer {"message": "Unknown method: hello"} with no code.
      if (
        error instanceof HubError &&
        (error.code === 'unknown_method' || /^unknown method/i.test(error.message))
      ) {
        this.hello = null;
        return;
      }
      throw error;
    }
    if (this.subscribedTo) await this.send('subscribe', { events: this.subscribedTo });
  }

  private send<T>(method: string, params: object): Promise<T> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new HubUnreachableError(this.host, this.port));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (value: unknown) => void, reject });
      socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  private onData(text: string): void {
    this.buffer += text;
    const limit = this.options.maxLineBytes ?? 256 * 1024 * 1024;
    let newline = this.buffer.indexOf('\n');
    while (newline !== -1) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (line.trim()) this.onLine(line);
      newline = this.buffer.indexOf('\n');
    }
    if (this.buffer.length > limit) this.socket?.destroy(new Error('answer over the size limit'));
  }

  private onLine(line: string): void {
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
        const error = new HubError(message.error.code ?? 'internal', message.error.message ?? 'hub error');
        this.failPending(error);
      }
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
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

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    const error = new HubUnreachableError(this.host, this.port, new Error('connection closed'));
    this.failPending(error);
    this.emit('disconnected', this.closed ? null : error);
    // A listener that only receives events makes no calls that would reconnect it: do it here.
    if (!this.closed && (this.options.reconnect ?? true) && this.subscribedTo) {
      void this.ensureConnected().catch(() => {});
    }
  }

  private failPending(error: unknown): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/**
 * Keeps a dashboard's picture of the hub current: a snapshot every interval and soon after hub
 * events, and when the hub is down or goes away, the last snapshot kept (stale) while it retries
 * with backoff. Only a refused token ends it, since retrying cannot fix that.
 */
import { EventEmitter } from 'node:events';
import { HubClient, HubError, HubUnreachableError, TlsError } from '../../client/hub-client.ts';
import {
  CliError,
  type ConnectionFlags,
  describeHubs,
  EXIT,
  hubAddressesFrom,
  hubClientOptions,
  refusedToken,
} from '../common.ts';
import { NewestOutput } from './newest-output.ts';
import type { ConnectionState } from './render.ts';
import { backendsIn, type DashboardFilter, type Snapshot, takeSnapshot } from './snapshot.ts';

export interface SessionOptions {
  flags: ConnectionFlags;
  intervalMs: number;
  filter: DashboardFilter;
  /** How many tasks to ask for (a terminal asks for as many as its height can show). */
  limit: () => number;
  /** Refresh soon after hub events too, not only every interval (default true). */
  events?: boolean;
  /** Longest pause between attempts while the hub is away (default 5 s, or the interval if longer). */
  maxBackoffMs?: number;
  /** A snapshot slower than this counts as a failed attempt (default 5 s, or twice the interval). */
  snapshotTimeoutMs?: number;
}

export interface SessionState {
  connection: ConnectionState;
  problem: string | null;
  snapshot: Snapshot | null;
  /** Every backend seen so far, for the backend filter. */
  backends: ReadonlySet<string>;
}

interface SessionEvents {
  /** The state changed: redraw. */
  change: [];
  /** Retrying cannot help (the hub refused the token): the dashboard should end with this error. */
  fatal: [error: CliError];
}

/** Hub events come in bursts: one refresh this long after the first of a burst. */
const EVENT_REFRESH_MS = 150;

export class DashboardSession extends EventEmitter<SessionEvents> {
  private readonly options: SessionOptions;
  private filterNow: DashboardFilter;
  private stateNow: SessionState;
  private readonly backends = new Set<string>();
  /** The running tasks' newest output lines, kept between snapshots (asked for only what is new). */
  private readonly newest = new NewestOutput();
  private client: HubClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dueAt = 0;
  private running = false;
  /** A refresh asked for while one was running: the delay to run the next one after. */
  private pendingDelay: number | null = null;
  private failures = 0;
  private stopped = false;

  constructor(options: SessionOptions) {
    super();
    this.options = options;
    this.filterNow = { ...options.filter };
    this.stateNow = { connection: 'connecting', problem: null, snapshot: null, backends: this.backends };
  }

  get state(): SessionState {
    return this.stateNow;
  }

  get filter(): DashboardFilter {
    return this.filterNow;
  }

  get hub(): string {
    if (this.client?.connected) return this.client.where;
    try {
      return describeHubs(hubAddressesFrom(this.options.flags));
    } catch {
      return `${this.options.flags.host}:${this.options.flags.port}`; // bad flags: the first snapshot says so
    }
  }

  start(): void {
    this.refresh(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dropClient();
  }

  setFilter(filter: DashboardFilter): void {
    this.filterNow = { ...filter };
    this.refresh(0);
  }

  /** Take a snapshot after `delayMs` (or sooner, if one is already due sooner). */
  refresh(delayMs = 0): void {
    if (this.stopped) return;
    if (this.running) {
      this.pendingDelay = Math.min(this.pendingDelay ?? delayMs, delayMs);
      return;
    }
    const dueAt = Date.now() + delayMs;
    if (this.timer && this.dueAt <= dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = dueAt;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.cycle();
    }, delayMs);
  }

  private backoffMs(): number {
    const { intervalMs } = this.options;
    const max = this.options.maxBackoffMs ?? Math.max(5000, intervalMs);
    return Math.min(max, intervalMs * 2 ** Math.min(this.failures - 1, 20));
  }

  private async cycle(): Promise<void> {
    this.running = true;
    let delay = this.options.intervalMs;
    try {
      // Connecting is timed too: a stopped (SIGSTOP) hub accepts connections but never answers.
      const snapshot = await this.withTimeout(
        this.connected().then((client) =>
          takeSnapshot(client, this.filterNow, this.options.limit(), this.newest),
        ),
      );
      if (this.stopped) return;
      for (const name of backendsIn(snapshot)) this.backends.add(name);
      this.failures = 0;
      this.stateNow = { connection: 'connected', problem: null, snapshot, backends: this.backends };
    } catch (error) {
      if (this.stopped) return;
      const fatal = asFatal(error, this.options.flags);
      if (fatal) {
        this.stop();
        this.emit('fatal', fatal);
        return;
      }
      this.dropClient();
      this.failures += 1;
      delay = this.backoffMs();
      this.stateNow = { ...this.stateNow, ...describeFailure(error) };
    } finally {
      this.running = false;
    }
    this.emit('change');
    const pending = this.pendingDelay;
    this.pendingDelay = null;
    this.refresh(pending ?? delay);
  }

  /** The open connection, or a new one (subscribed to events, so changes show without waiting). */
  private async connected(): Promise<HubClient> {
    if (this.client?.connected) return this.client;
    this.dropClient();
    const { flags } = this.options;
    // Held from the start (not only once connected), so a timed-out attempt can be closed.
    const client = new HubClient({
      ...hubClientOptions(flags),
      reconnect: false,
      client: 'mittelo-dashboard',
    });
    this.client = client;
    client.on('disconnected', () => this.lost(client));
    await client.connect();
    if (this.options.events === false) return client;
    client.on('event', (event) => {
      if (event.event === 'hub.stopping') this.lost(client);
      else this.refresh(EVENT_REFRESH_MS);
    });
    try {
      await client.subscribe(['task', 'agent']);
    } catch (error) {
      // A v0.1 hub has no events; the interval alone keeps the screen current.
      if (!(error instanceof HubError) || error.code === 'unauthorized') throw error;
    }
    return client;
  }

  /** The connection went away between snapshots: say so now rather than at the next interval. */
  private lost(client: HubClient): void {
    if (client !== this.client || this.stopped) return;
    this.dropClient();
    this.refresh(0);
  }

  private dropClient(): void {
    const client = this.client;
    this.client = null;
    if (!client) return;
    client.removeAllListeners();
    client.close();
  }

  private withTimeout<T>(work: Promise<T>): Promise<T> {
    const ms = this.options.snapshotTimeoutMs ?? Math.max(5000, 2 * this.options.intervalMs);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SlowHubError(ms)), ms);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}

class SlowHubError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms / 1000}s (is the hub stopped or overloaded?)`);
  }
}

/** Errors retrying cannot fix: a refused token, in the same words as the other client commands. */
function asFatal(error: unknown, flags: ConnectionFlags): CliError | null {
  if (error instanceof CliError) return error;
  // A certificate not trusted, TLS against a plain hub or the reverse: no retry fixes it.
  if (error instanceof TlsError) return new CliError(error.message, EXIT.unreachable);
  return refusedToken(error, flags);
}

function describeFailure(error: unknown): { connection: ConnectionState; problem: string | null } {
  if (error instanceof HubUnreachableError) return { connection: 'unreachable', problem: null };
  if (error instanceof SlowHubError || error instanceof HubError) {
    return { connection: 'error', problem: error.message };
  }
  // A socket error before the client wrapped it (reset mid-call): the hub is as good as gone.
  return { connection: 'unreachable', problem: null };
}

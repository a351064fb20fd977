/**
 * The PostgreSQL Store: the queue in a PostgreSQL database, which several hubs may share
 * (`mittelo hub --db postgres://user@host:port/db`). It behaves like the SQLite store (both pass
 * test/store-contract.ts, and every rule comes from queue-policy.ts); what differs is how:
 *
 * - Time comes from the database's clock (several hubs, several clocks), unless a clock is
 *   injected (tests): see NOW in db.ts.
 * - Leases take their rows with FOR UPDATE SKIP LOCKED in a transaction (lease.ts), so hubs never
 *   hand out one task twice; ack, extend, release and cancel write with the decision's premises in
 *   the WHERE clause (claims.ts), so races between hubs end in one final state.
 * - Requests of one event-loop turn share statements (turn-batch.ts): enqueues one INSERT
 *   (enqueue.ts), leases one transaction (lease.ts), acks one UPDATE (claims.ts). The pool's
 *   connections pipeline, so a transaction's statements do not each wait a round trip. Every
 *   promise of a write settles after its COMMIT.
 * - stats are counters kept by triggers in the database (migrations.ts), exact across hubs.
 * - `fleet` carries the hubs' messages over LISTEN/NOTIFY (fleet.ts).
 *
 * Database failures become `storage_full` / `storage_error` / `unavailable` (faults.ts), never a
 * success; opening refuses bad input with one line (connect.ts, migrations.ts).
 */
import pg from 'pg';
import { MitteloError } from '../../errors.ts';
import type {
  Budget,
  BudgetState,
  Cap,
  CapState,
  NewTask,
  Pause,
  QueuedCount,
  SpendRow,
  Stats,
  Task,
} from '../../protocol/model.ts';
import { pruneInWindows } from '../prune-batches.ts';
import { checkPrunable, type RetryPolicy, resolveRetryPolicy, wakeWithBudgets } from '../queue-policy.ts';
import { FaultEpisodes } from '../sqlite/storage-faults.ts';
import type {
  AckRequest,
  ExtendRequest,
  LeaseRequest,
  LeaseResult,
  ListQuery,
  PauseRequest,
  PruneRequest,
  ReleaseRequest,
  Store,
  Transition,
} from '../types.ts';
import { capQueries, clearCap, listCaps, setCap } from './caps.ts';
import {
  ackDecision,
  type ClaimOp,
  cancelDecision,
  claimQueries,
  extendDecision,
  fastAck,
  releaseDecision,
  runClaims,
} from './claims.ts';
import {
  type ConnectionSettings,
  clientConfig,
  connectClient,
  type DatabaseTarget,
  DEFAULT_CONNECT_TIMEOUT_MS,
  describeConnectError,
  errorCode,
  errorText,
  parseDatabaseUrl,
} from './connect.ts';
import { Db, NOW } from './db.ts';
import { ENQUEUE_BATCH_ROWS, type EnqueueItem, enqueueQuery, runEnqueue } from './enqueue.ts';
import { describeDatabaseFault, isDatabaseFault, isTransient } from './faults.ts';
import { PostgresFleet } from './fleet.ts';
import { type LeaseItem, leaseQueries, runLeases } from './lease.ts';
import { loadQueries, loadTasks } from './load.ts';
import { ident, migrate, SCHEMA_VERSION, schemaVersion } from './migrations.ts';
import { pause, pauseQueries, pauses, resume } from './pauses.ts';
import { pruneQuery, pruneWindow } from './prune.ts';
import { dumpTasks, getTasks, listTasks, nextWakeAt, queuedByBackend, readQueries, stats } from './reads.ts';
import { clearBudget, listBudgets, setBudget, spendQueries, spendRows } from './spend.ts';
import { TurnBatch } from './turn-batch.ts';

export interface PostgresStoreOptions {
  /** `postgres://user[:password]@host[:port]/database` (also `postgresql://`, `?sslmode=...`). */
  url: string;
  retry?: Partial<RetryPolicy>;
  /** Unix seconds; injectable for tests. Default: the database server's clock. */
  now?: () => number;
  /** Where faults and fleet news are reported, one line each (the hub's log). Default: stderr. */
  log?: (line: string) => void;
  /** Connections in the pool (default 10; the fleet's listener is one more). */
  poolSize?: number;
  /** The schema holding the store's tables (default `mittelo`): several stores may share a database. */
  schema?: string;
  /** How long a connection may take to open before the server counts as not answering (default 10 s). */
  connectTimeoutMs?: number;
  /** false: no fleet channel (tools such as `mittelo copy` that are not a hub). Default true. */
  fleet?: boolean;
}

export const DEFAULT_SCHEMA = 'mittelo';
export const DEFAULT_POOL_SIZE = 10;

/** How often the status counters' rows are folded (when this store wrote since the last time). */
const COMPACT_EVERY_MS = 1000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** What `probe` found. */
export interface StoreProbe {
  /** host:port/database */
  where: string;
  /** The schema's version there (0: not created yet; the first hub creates it). */
  schema_version: number;
  /** The version this build migrates to. */
  current_version: number;
}

export class PostgresStore implements Store {
  /** `host:port/db` (no password): where the store lives. */
  readonly where: string;
  readonly schema: string;
  readonly fleet: PostgresFleet | undefined;
  private readonly db: Db;
  private readonly faults: FaultEpisodes;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly running = new Set<Promise<unknown>>();
  private readonly enqueues: TurnBatch<EnqueueItem>;
  private readonly claims: TurnBatch<ClaimOp>;
  private readonly leases: TurnBatch<LeaseItem>;
  private readonly compactTimer: NodeJS.Timeout;
  private wroteSinceCompact = false;
  private readonly sql;

  /**
   * Connect, check and migrate the schema, open the pool and the fleet's channel. Refuses with a
   * MitteloError (`bad_request`: fix --db; `unavailable`: the server is not there) and writes
   * nothing when the URL, the server, the login, the database or the schema is not right.
   */
  /**
   * Check, writing nothing, that the store could open here: the server answers, is recent enough,
   * and the schema is absent, empty or ours at a version this build knows. For `mittelo doctor`.
   */
  static async probe(url: string, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<StoreProbe> {
    const target = parseDatabaseUrl(url);
    const client = await connectClient(target, { connectTimeoutMs });
    try {
      await checkServer(client, target, () => {});
      const version = await schemaVersion(client, DEFAULT_SCHEMA, target.where);
      return { where: target.where, schema_version: version, current_version: SCHEMA_VERSION };
    } catch (error) {
      throw describeOpenError(error, target, DEFAULT_SCHEMA);
    } finally {
      await client.end().catch(() => {});
    }
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const target = parseDatabaseUrl(options.url);
    const schema = options.schema ?? DEFAULT_SCHEMA;
    if (!SCHEMA_NAME.test(schema)) {
      throw new MitteloError(
        'bad_request',
        `the schema name "${schema}" is not a plain lowercase identifier (letters, digits, _)`,
      );
    }
    const settings: ConnectionSettings = {
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    };
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const setup = await connectClient(target, settings);
    try {
      await checkServer(setup, target, log);
      await migrate(setup, schema, target.where);
    } catch (error) {
      throw describeOpenError(error, target, schema);
    } finally {
      await setup.end().catch(() => {});
    }
    const pool = new pg.Pool({
      ...clientConfig(target, settings),
      // Statements of one request go out without waiting for the answers before (lease.ts).
      pipeline: true,
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      idleTimeoutMillis: 30_000,
    });
    // An idle connection that breaks (server restarted) is dropped by the pool; the next request
    // opens a new one. Without a listener the error would end the process.
    pool.on('error', () => {});
    const store = new PostgresStore(target, schema, pool, options, log, settings);
    if (store.fleet) {
      try {
        await store.fleet.start();
      } catch (error) {
        await pool.end().catch(() => {});
        clearInterval(store.compactTimer);
        throw describeConnectError(error, target, settings);
      }
    }
    return store;
  }

  private constructor(
    target: DatabaseTarget,
    schema: string,
    pool: pg.Pool,
    options: PostgresStoreOptions,
    log: (line: string) => void,
    settings: ConnectionSettings,
  ) {
    this.where = target.where;
    this.schema = schema;
    this.faults = new FaultEpisodes(log);
    this.db = new Db({
      pool,
      target,
      settings,
      schemaSql: ident(schema),
      policy: resolveRetryPolicy(options.retry),
      now: options.now,
    });
    this.sql = {
      enqueue: enqueueQuery(this.db),
      claims: claimQueries(this.db),
      lease: leaseQueries(this.db),
      reads: readQueries(this.db),
      load: loadQueries(this.db),
      pauses: pauseQueries(this.db),
      caps: capQueries(this.db),
      spend: spendQueries(this.db),
      prune: pruneQuery(this.db),
      retryAll: {
        name: 'retry-all',
        text: `UPDATE ${this.db.s}.tasks SET status = 'queued', worker_id = NULL, leased_until = NULL,
            lease_token = NULL, result = NULL, parsed = NULL, error = NULL, error_kind = NULL, error_fix = NULL,
            attempts = 0, lease_expirations = 0, available_at = 0, updated_at = ${NOW(1)}
          WHERE status = 'failed'`,
      },
      retrySome: {
        name: 'retry-some',
        text: `UPDATE ${this.db.s}.tasks SET status = 'queued', worker_id = NULL, leased_until = NULL,
            lease_token = NULL, result = NULL, parsed = NULL, error = NULL, error_kind = NULL, error_fix = NULL,
            attempts = 0, lease_expirations = 0, available_at = 0, updated_at = ${NOW(1)}
          WHERE status = 'failed' AND task_id = ANY($2::bigint[])`,
      },
    };
    const wrote = () => this.wrote();
    this.enqueues = new TurnBatch((items) => runEnqueue(this.db, this.sql.enqueue, items, wrote), {
      maxInFlight: 2,
      maxWeight: ENQUEUE_BATCH_ROWS,
      weight: (item) => item.tasks.length,
    });
    this.claims = new TurnBatch((ops) => runClaims(this.db, this.sql.claims, ops, wrote), {
      maxInFlight: 2,
      maxWeight: 2000,
      weight: () => 1,
    });
    this.leases = new TurnBatch((items) => runLeases(this.db, this.sql.lease, items, wrote), {
      maxInFlight: 2,
      maxWeight: 64,
      weight: () => 1,
    });
    this.fleet =
      options.fleet === false
        ? undefined
        : new PostgresFleet({
            db: this.db,
            target,
            settings,
            channel: `${schema}_fleet`,
            log,
          });
    this.compactTimer = setInterval(() => void this.compactCounts(), COMPACT_EVERY_MS);
    this.compactTimer.unref();
  }

  enqueue(tasks: NewTask[]): Promise<Task[]> {
    return this.guard(() => {
      if (tasks.length === 0) return Promise.resolve([]);
      return this.faulted(
        new Promise<Task[]>((resolve, reject) => this.enqueues.add({ tasks, resolve, reject })),
      );
    });
  }

  lease(request: LeaseRequest): Promise<LeaseResult> {
    return this.guard(async () => {
      if (!(request.max_tasks >= 1)) return { tasks: [], expired: [] };
      return this.faulted(
        new Promise<LeaseResult>((resolve, reject) => this.leases.add({ request, resolve, reject })),
      );
    });
  }

  ack(request: AckRequest): Promise<Transition> {
    return this.claim(request.task_id, ackDecision(request, this.db), fastAck(request));
  }

  extend(request: ExtendRequest): Promise<Task> {
    return this.claim(request.task_id, extendDecision(request));
  }

  release(request: ReleaseRequest): Promise<Task> {
    return this.claim(request.task_id, releaseDecision(request));
  }

  cancel(taskId: number): Promise<Task> {
    return this.claim(taskId, cancelDecision(taskId));
  }

  retryFailed(taskIds?: number[]): Promise<number> {
    return this.guard(async () => {
      if (taskIds && taskIds.length === 0) return 0;
      const query = taskIds
        ? { ...this.sql.retrySome, values: [this.db.clock(), taskIds] }
        : { ...this.sql.retryAll, values: [this.db.clock()] };
      return this.faulted(
        this.write(async (client) => {
          const result = await client.query(query);
          return result.rowCount ?? 0;
        }),
      );
    });
  }

  get(taskIds: number[]): Promise<Task[]> {
    return this.guard(() => getTasks(this.db, this.sql.reads, taskIds));
  }

  list(query: ListQuery): Promise<Task[]> {
    return this.guard(() => listTasks(this.db, query));
  }

  stats(): Promise<Stats> {
    return this.guard(() => stats(this.db, this.sql.reads));
  }

  queuedByBackend(): Promise<QueuedCount[]> {
    return this.guard(() => queuedByBackend(this.db, this.sql.reads));
  }

  nextWakeAt(): Promise<number | null> {
    return this.guard(async () => {
      const [wake, { now, budgets }] = await Promise.all([
        nextWakeAt(this.db, this.sql.reads),
        listBudgets(this.db, this.sql.spend),
      ]);
      return wakeWithBudgets(wake, budgets, now);
    });
  }

  pause(request: PauseRequest): Promise<Pause> {
    return this.guard(() =>
      this.faulted(this.write((client) => pause(client, this.db, this.sql.pauses, request))),
    );
  }

  resume(backend: string | null): Promise<boolean> {
    return this.guard(() =>
      this.faulted(this.write((client) => resume(client, this.db, this.sql.pauses, backend))),
    );
  }

  pauses(): Promise<Pause[]> {
    return this.guard(() => pauses(this.db, this.sql.pauses));
  }

  setCap(cap: Cap): Promise<Cap> {
    return this.guard(() => this.faulted(this.write((client) => setCap(client, this.sql.caps, cap))));
  }

  clearCap(scope: string): Promise<boolean> {
    return this.guard(() => this.faulted(this.write((client) => clearCap(client, this.sql.caps, scope))));
  }

  caps(): Promise<CapState[]> {
    return this.guard(() => listCaps(this.db, this.sql.caps));
  }

  setBudget(budget: Budget): Promise<Budget> {
    return this.guard(() => this.faulted(this.write((client) => setBudget(client, this.sql.spend, budget))));
  }

  clearBudget(backend: string): Promise<boolean> {
    return this.guard(() =>
      this.faulted(this.write((client) => clearBudget(client, this.sql.spend, backend))),
    );
  }

  budgets(): Promise<BudgetState[]> {
    return this.guard(async () => (await listBudgets(this.db, this.sql.spend)).budgets);
  }

  spend(days: number): Promise<SpendRow[]> {
    return this.guard(() => spendRows(this.db, this.sql.spend, days));
  }

  /** Window by window (prune-batches.ts), each one statement (prune.ts) in its own transaction. */
  prune(request: PruneRequest): Promise<number> {
    return this.guard(async () => {
      checkPrunable(request);
      let cutoff: number | null = null;
      return this.faulted(
        pruneInWindows(
          (afterId, windowRows) =>
            this.write(async (client) => {
              const step = await pruneWindow(client, this.db, this.sql.prune, {
                afterId,
                windowRows,
                statuses: request.statuses,
                olderThanS: request.older_than_s,
                cutoff,
              });
              cutoff = step.cutoff;
              return step;
            }),
          () => this.closed,
        ),
      );
    });
  }

  dump(afterId: number, limit: number): Promise<Task[]> {
    return this.guard(() => dumpTasks(this.db, this.sql.reads, afterId, limit));
  }

  load(tasks: Task[]): Promise<void> {
    return this.guard(async () => {
      try {
        await loadTasks(this.db, this.sql.load, tasks);
        this.wrote();
      } catch (error) {
        throw this.refused(this.db.fault(error, 'write'));
      }
    });
  }

  /** Finish what is running, then end the fleet's channel and the pool. Later calls are refused. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      clearInterval(this.compactTimer);
      await Promise.allSettled([...this.running]);
      await this.enqueues.idle();
      await this.leases.idle();
      await this.claims.idle();
      await this.fleet?.close();
      await this.compactCounts();
      await this.db.pool.end().catch(() => {});
    })();
    return this.closing;
  }

  // ---- internals ----

  /** Refuse once closed; otherwise run, counting the call as running until it settles. */
  private guard<T>(call: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    let promise: Promise<T>;
    try {
      promise = call();
    } catch (error) {
      return Promise.reject(error);
    }
    this.running.add(promise);
    const done = () => this.running.delete(promise);
    promise.then(done, done);
    return promise;
  }

  private claim<T>(taskId: number, decide: ClaimOp<T>['decide'], fast?: ClaimOp<T>['fast']): Promise<T> {
    return this.guard(() =>
      this.faulted(
        new Promise<T>((resolve, reject) =>
          this.claims.add({ task_id: taskId, decide, fast, resolve, reject } as unknown as ClaimOp),
        ),
      ),
    );
  }

  /** Note database faults in the log (one line per episode). */
  private faulted<T>(promise: Promise<T>): Promise<T> {
    return promise.catch((error: unknown) => {
      throw this.refused(error);
    });
  }

  private refused(error: unknown): unknown {
    if (error instanceof MitteloError && isDatabaseFault(error)) this.faults.failed(error, 1);
    return error;
  }

  private wrote(): void {
    this.wroteSinceCompact = true;
    this.faults.committed();
  }

  /** One write statement (or several, `body` decides) on one connection, autocommit. */
  private async write<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const result = await this.db.withClient(body);
        this.wrote();
        return result;
      } catch (error) {
        if (isTransient(error) && attempt < 3) continue;
        throw this.db.fault(error, 'write');
      }
    }
  }

  /** Fold the status counters' rows (see migrations.ts); failures wait for the next time. */
  private async compactCounts(): Promise<void> {
    if (!this.wroteSinceCompact) return;
    this.wroteSinceCompact = false;
    try {
      await this.db.withClient((client) => client.query(this.sql.reads.compactCounts));
    } catch {
      this.wroteSinceCompact = true;
    }
  }
}

function closedError(): MitteloError {
  return new MitteloError('unavailable', 'the store is closed (the hub is shutting down)');
}

/** Refuse a server we cannot work with; note one that may lose acknowledged commits. */
async function checkServer(client: pg.Client, target: DatabaseTarget, log: (line: string) => void) {
  const { rows } = await client.query<{ version: number; sync: string }>(
    `SELECT current_setting('server_version_num')::int AS version, current_setting('synchronous_commit') AS sync`,
  );
  const { version, sync } = rows[0]!;
  if (version < 120000) {
    throw new MitteloError(
      'bad_request',
      `PostgreSQL at ${target.where} is version ${Math.floor(version / 10000)}; Mittelö needs 12 or newer`,
      { db: target.where },
    );
  }
  if (sync === 'off') {
    log(
      `mittelo hub: ${target.where} has synchronous_commit=off: an answered write may be lost if the database server crashes (set it to on for the hub's user to make answers durable)`,
    );
  }
}

/** Why the store could not be opened once connected: privileges, a failing server, or as thrown. */
function describeOpenError(error: unknown, target: DatabaseTarget, schema: string): unknown {
  if (error instanceof MitteloError) return error;
  const code = errorCode(error);
  if (code === '42501') {
    const user = target.user ? `user "${target.user}"` : 'this user';
    return new MitteloError(
      'bad_request',
      `${user} may not create the schema "${schema}" in ${target.where} (${errorText(error)}): run \`GRANT CREATE ON DATABASE ${target.database} TO ${target.user ?? 'the_user'}\` as the database's owner, or create the schema for it`,
      { db: target.where, pg_code: code },
    );
  }
  if (isDatabaseFault(error)) return describeDatabaseFault(error, target.where, 'unsent');
  return new MitteloError('unavailable', `cannot open the store in ${target.where}: ${errorText(error)}`, {
    db: target.where,
    pg_code: code ?? 'unknown',
  });
}

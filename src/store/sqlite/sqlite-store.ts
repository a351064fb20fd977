/**
 * The embedded Store: one SQLite file in WAL mode, written through group commit.
 *
 * The hub owns the file exclusively (locking_mode=EXCLUSIVE): a second hub on the same file is
 * refused at open with a clear message instead of two dispatchers handing out the same tasks.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { MitteloError } from '../../errors.ts';
import type {
  Budget,
  BudgetState,
  Cap,
  CapState,
  NewTask,
  Pause,
  SpendRow,
  Stats,
  Task,
} from '../../protocol/model.ts';
import { TASK_STATUSES } from '../../protocol/model.ts';
import { taskAnswerBytes } from '../answer-budget.ts';
import { type PauseRow, pauseFromRow, pauseHolds, pauseScope } from '../pause-row.ts';
import { pruneInWindows } from '../prune-batches.ts';
import {
  ackCost,
  capScopesOf,
  checkCancelable,
  checkCap,
  checkClaim,
  checkPrunable,
  firstAvailableAt,
  freshTask,
  fullTags,
  grantLease,
  leaseExpiredFailure,
  leaseOrder,
  newTaskFields,
  type RetryPolicy,
  rateScopesOf,
  reachedLeaseExpiryLimit,
  releasedAvailableAt,
  resolveRetryPolicy,
  retriesAfterFailure,
  retryDelaySeconds,
  slotsOf,
  spendOfAck,
  takeSlot,
  taskNotFound,
  wakeWithBudgets,
} from '../queue-policy.ts';
import type {
  AckRequest,
  ExtendRequest,
  LeaseClaim,
  LeaseRequest,
  LeaseResult,
  ListQuery,
  PauseRequest,
  PruneRequest,
  ReleaseRequest,
  Store,
  Transition,
} from '../types.ts';
import { SqliteCaps } from './caps.ts';
import { FileIdentity } from './file-identity.ts';
import { GroupCommit } from './group-commit.ts';
import { countByStatus, describeOpenError, openDatabase, STATUS_INDEX } from './open-database.ts';
import { SqlitePruneWindow } from './prune.ts';
import { countQueuedByBackend } from './queued-by-backend.ts';
import { jsonOrNull, jsonText, rowToTask, TASK_COLUMNS, type TaskRow } from './rows.ts';
import { SqliteSpend } from './spend.ts';
import { StatusCounts } from './status-counts.ts';
import { describeStorageFault, FaultEpisodes, isStorageFault } from './storage-faults.ts';

export interface SqliteStoreOptions {
  /** Path of the database file; its folder is created. */
  path: string;
  /**
   * true: fsync the WAL on every commit, so an answered write also survives a power loss.
   * false (default): an answered write survives the hub being killed (kill -9), not the OS dying.
   */
  fsync?: boolean;
  retry?: Partial<RetryPolicy>;
  /** Unix seconds; injectable for tests. */
  now?: () => number;
  /** Where storage faults are reported, one line per episode (the hub's log). Default: stderr. */
  log?: (line: string) => void;
  /**
   * Cap the database at this many pages (PRAGMA max_page_count): past it every write is refused
   * with `storage_full`, exactly as on a full disk. For tests of that path.
   */
  maxPageCount?: number;
}

const wallClock = () => Date.now() / 1000;

interface LeaseQueries {
  readyUnrouted: Database.Statement;
  readyRouted: Database.Statement;
  expired: Database.Statement;
}

export class SqliteStore implements Store {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly batch: GroupCommit;
  private readonly counts: StatusCounts;
  private readonly policy: RetryPolicy;
  private readonly now: () => number;
  private closed = false;
  /** Set once the database file was deleted or replaced under us: every write is refused with it. */
  private lost: MitteloError | null = null;
  private readonly identity: FileIdentity;
  private readonly faults: FaultEpisodes;
  private readonly log: (line: string) => void;
  private readonly sql;
  private readonly listStatements = new Map<string, Database.Statement>();
  private readonly leaseStatements = new Map<number, LeaseQueries>();
  private readonly pruneWindow: SqlitePruneWindow;
  private readonly capTable: SqliteCaps;
  private readonly spendTable: SqliteSpend;

  // Each write is a better-sqlite3 transaction function: a savepoint inside the group batch.
  private readonly insertTasks: (tasks: NewTask[]) => Task[];
  private readonly enqueueTx;
  private readonly leaseTx;
  private readonly ackTx;
  private readonly extendTx;
  private readonly releaseTx;
  private readonly cancelTx;
  private readonly retryFailedTx;
  private readonly loadTx;

  constructor(options: SqliteStoreOptions) {
    this.path = resolve(options.path);
    this.policy = resolveRetryPolicy(options.retry);
    this.now = options.now ?? wallClock;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.faults = new FaultEpisodes(this.log);
    try {
      mkdirSync(dirname(this.path), { recursive: true });
    } catch (error) {
      throw describeOpenError(error, this.path);
    }
    this.db = openDatabase(this.path, options.fsync ?? false, options.maxPageCount);
    try {
      // Reads every status index: a damaged page there is found now, not on the first request.
      this.counts = new StatusCounts(countByStatus(this.db));
      this.identity = new FileIdentity(this.path);
    } catch (error) {
      this.db.close();
      throw describeOpenError(error, this.path);
    }
    this.batch = new GroupCommit(this.db, {
      beforeCommit: () => this.identity.check(),
      committed: () => {
        this.counts.committedBatch();
        this.faults.committed();
      },
      failed: (cause, refused) => this.batchFailed(cause, refused),
    });

    const db = this.db;
    this.sql = {
      insert: db.prepare(
        `INSERT INTO tasks (prompt, status, created_at, updated_at, backend, tags, priority, max_attempts, timeout_s,
           metadata, available_at, max_cost_usd, output_schema, resume, workspace, base_ref, permissions)
         VALUES (@prompt, 'queued', @now, @now, @backend, @tags, @priority, @max_attempts, @timeout_s, @metadata,
           @available_at, @max_cost_usd, @output_schema, @resume, @workspace, @base_ref, @permissions)`,
      ),
      grantLease: db.prepare(
        `UPDATE tasks SET status = 'leased', worker_id = @worker_id, leased_until = @leased_until,
           lease_token = @lease_token, attempts = attempts + 1, available_at = 0, updated_at = @now,
           lease_expirations = @lease_expirations, lease_backend = @lease_backend
         WHERE task_id = @task_id`,
      ),
      byId: db.prepare(`SELECT ${TASK_COLUMNS} FROM tasks WHERE task_id = ?`),
      // The acks return lease_backend too: the backend of the agent whose spend this is.
      finish: db.prepare(
        `UPDATE tasks SET status = @status, result = @result, error = @error, error_kind = @error_kind,
           error_fix = @error_fix, duration_ms = @duration_ms, usage = @usage, leased_until = NULL,
           lease_token = NULL, updated_at = @now, cost_usd = @cost_usd, cost_basis = @cost_basis,
           parsed = @parsed, session_id = COALESCE(@session_id, session_id),
           worktree = COALESCE(@worktree, worktree)
         WHERE task_id = @task_id RETURNING ${TASK_COLUMNS}, lease_backend`,
      ),
      finishIfHeld: db.prepare(
        `UPDATE tasks SET status = 'done', result = @result, error = @error, error_kind = @error_kind,
           error_fix = @error_fix, duration_ms = @duration_ms, usage = @usage, leased_until = NULL,
           lease_token = NULL, updated_at = @now, cost_usd = @cost_usd, cost_basis = @cost_basis,
           parsed = @parsed, session_id = COALESCE(@session_id, session_id),
           worktree = COALESCE(@worktree, worktree)
         WHERE task_id = @task_id AND status = 'leased'
           AND (@lease_token IS NULL OR lease_token = @lease_token)
           AND (@worker_id IS NULL OR worker_id = @worker_id)
         RETURNING ${TASK_COLUMNS}, lease_backend`,
      ),
      requeue: db.prepare(
        `UPDATE tasks SET status = 'queued', worker_id = NULL, leased_until = NULL, lease_token = NULL,
           result = NULL, parsed = NULL, error = @error, error_kind = @error_kind, error_fix = @error_fix,
           duration_ms = @duration_ms, available_at = @available_at, attempts = attempts - @refund,
           updated_at = @now, cost_usd = @cost_usd, cost_basis = @cost_basis,
           session_id = COALESCE(@session_id, session_id), worktree = COALESCE(@worktree, worktree)
         WHERE task_id = @task_id RETURNING ${TASK_COLUMNS}, lease_backend`,
      ),
      extend: db.prepare(
        `UPDATE tasks SET leased_until = @leased_until, updated_at = @now
         WHERE task_id = @task_id RETURNING ${TASK_COLUMNS}`,
      ),
      cancel: db.prepare(
        `UPDATE tasks SET status = 'canceled', leased_until = NULL, lease_token = NULL, updated_at = @now
         WHERE task_id = @task_id RETURNING ${TASK_COLUMNS}`,
      ),
      poison: db.prepare(
        `UPDATE tasks SET status = 'failed', leased_until = NULL, lease_token = NULL, updated_at = @now,
           lease_expirations = lease_expirations + 1, error_kind = @error_kind, error = @error,
           error_fix = @error_fix
         WHERE task_id = @task_id RETURNING ${TASK_COLUMNS}`,
      ),
      dump: db.prepare(`SELECT ${TASK_COLUMNS} FROM tasks WHERE task_id > ? ORDER BY task_id LIMIT ?`),
      load: db.prepare(
        `INSERT INTO tasks (${TASK_COLUMNS}) VALUES (${TASK_COLUMNS.split(', ')
          .map((column) => `@${column}`)
          .join(', ')})`,
      ),
      retryAll: db.prepare(
        `UPDATE tasks SET status = 'queued', worker_id = NULL, leased_until = NULL, lease_token = NULL,
           result = NULL, parsed = NULL, error = NULL, error_kind = NULL, error_fix = NULL, attempts = 0,
           lease_expirations = 0, available_at = 0, updated_at = ?
         WHERE status = 'failed'`,
      ),
      retryOne: db.prepare(
        `UPDATE tasks SET status = 'queued', worker_id = NULL, leased_until = NULL, lease_token = NULL,
           result = NULL, parsed = NULL, error = NULL, error_kind = NULL, error_fix = NULL, attempts = 0,
           lease_expirations = 0, available_at = 0, updated_at = ?
         WHERE status = 'failed' AND task_id = ?`,
      ),
      // INDEXED BY: left alone, the planner may pick another index and scan every leased row.
      // Only ends still ahead count: one already past is available now, and answering with it would
      // wake the dispatcher again at once, in a loop, whenever no waiting agent can take that task.
      nextLeaseEnd: db.prepare(
        `SELECT MIN(leased_until) AS t FROM tasks INDEXED BY tasks_leased
         WHERE status = 'leased' AND leased_until >= ?`,
      ),
      nextBackoffEnd: db.prepare(
        `SELECT MIN(available_at) AS t FROM tasks INDEXED BY tasks_delayed
         WHERE status = 'queued' AND available_at > 0 AND available_at > ?`,
      ),
      // Pauses (a handful of rows at most). Pausing a scope again keeps the time it was paused
      // since, unless that pause had already ended.
      pause: db.prepare(
        `INSERT INTO pauses (backend, paused_at, until, reason) VALUES (@backend, @now, @until, @reason)
         ON CONFLICT (backend) DO UPDATE SET
           paused_at = CASE WHEN pauses.until IS NULL OR pauses.until > excluded.paused_at
             THEN pauses.paused_at ELSE excluded.paused_at END,
           until = excluded.until, reason = excluded.reason
         RETURNING backend, paused_at, until, reason`,
      ),
      resume: db.prepare('DELETE FROM pauses WHERE backend = ? RETURNING until'),
      pauses: db.prepare(
        'SELECT backend, paused_at, until, reason FROM pauses WHERE until IS NULL OR until > ? ORDER BY backend',
      ),
      // Whether a lease for this backend is paused: by its own pause or by the whole queue's.
      paused: db.prepare(
        `SELECT 1 FROM pauses WHERE backend IN ('', @backend) AND (until IS NULL OR until > @now) LIMIT 1`,
      ),
      nextPauseEnd: db.prepare('SELECT MIN(until) AS t FROM pauses WHERE until > ?'),
    };

    this.pruneWindow = new SqlitePruneWindow(db);
    this.capTable = new SqliteCaps(db);
    this.spendTable = new SqliteSpend(db);

    this.insertTasks = (tasks: NewTask[]) => {
      const now = this.now();
      return tasks.map((task) => {
        const fields = newTaskFields(task, this.policy);
        const availableAt = firstAvailableAt(task, now);
        const { lastInsertRowid } = this.sql.insert.run({
          ...fields,
          now,
          tags: jsonOrNull(fields.tags),
          metadata: jsonOrNull(fields.metadata),
          output_schema: jsonText(fields.output_schema),
          resume: fields.resume ? 1 : 0,
          available_at: availableAt,
        });
        // Built here rather than read back (RETURNING): everything but the id is what we wrote,
        // and enqueue_many of 10,000 tasks spends most of its time on exactly this.
        this.counts.move(null, 'queued');
        return freshTask(Number(lastInsertRowid), now, fields, availableAt);
      });
    };
    this.enqueueTx = db.transaction(this.insertTasks);
    this.leaseTx = db.transaction((request: LeaseRequest, expiredFailures: Task[]) =>
      this.leaseNow(request, expiredFailures),
    );
    // extend, release and cancel read, then change one row with one statement: atomic without a
    // savepoint (a savepoint costs two more statements on the hottest path). An ack also adds to
    // its spend row, so its two writes share a savepoint: both are stored or neither.
    this.ackTx = db.transaction((request: AckRequest) => this.ackNow(request));
    this.extendTx = (request: ExtendRequest) => {
      this.claimed(request, 'extend');
      const now = this.now();
      const row = this.sql.extend.get({
        task_id: request.task_id,
        leased_until: now + request.lease_seconds,
        now,
      }) as TaskRow;
      return rowToTask(row, true);
    };
    this.releaseTx = (request: ReleaseRequest) => {
      const current = this.claimed(request, 'release');
      const now = this.now();
      const row = this.sql.requeue.get({
        task_id: request.task_id,
        error: request.error ?? null,
        error_kind: request.error_kind ?? null,
        error_fix: request.error_fix ?? null,
        duration_ms: null,
        available_at: releasedAvailableAt(now, request.delay_ms),
        refund: 1, // giving work back is not an attempt
        now,
        // Not a run: the last run's cost stays.
        cost_usd: current.cost_usd,
        cost_basis: current.cost_basis,
        session_id: request.session_id ?? null,
        worktree: null,
      }) as TaskRow;
      this.counts.move('leased', 'queued');
      return rowToTask(row);
    };
    this.cancelTx = (taskId: number) => {
      const current = this.existing(taskId);
      checkCancelable(current);
      const row = this.sql.cancel.get({ task_id: taskId, now: this.now() }) as TaskRow;
      this.counts.move(current.status, 'canceled');
      return rowToTask(row);
    };
    this.retryFailedTx = db.transaction((taskIds?: number[]) => {
      const now = this.now();
      let changed = 0;
      if (!taskIds) changed = this.sql.retryAll.run(now).changes;
      else for (const id of taskIds) changed += this.sql.retryOne.run(now, id).changes;
      this.counts.move('failed', 'queued', changed);
      return changed;
    });
    this.loadTx = db.transaction((tasks: Task[]) => {
      for (const task of tasks) {
        if (this.sql.byId.get(task.task_id)) {
          throw new MitteloError('conflict', `task ${task.task_id} already exists in ${this.path}`, {
            task_id: task.task_id,
          });
        }
        this.sql.load.run({
          ...task,
          tags: jsonOrNull(task.tags),
          usage: jsonOrNull(task.usage),
          metadata: jsonOrNull(task.metadata),
          output_schema: jsonText(task.output_schema),
          parsed: jsonText(task.parsed),
          // A dump from before resumed sessions has neither.
          resume: task.resume ? 1 : 0,
          session_id: task.session_id ?? null,
          // ...nor workspaces and permissions.
          workspace: task.workspace ?? null,
          base_ref: task.base_ref ?? null,
          permissions: task.permissions ?? null,
          worktree: jsonText(task.worktree ?? null),
        });
        this.counts.move(null, task.status);
      }
    });
  }

  enqueue(tasks: NewTask[]): Promise<Task[]> {
    // One task is one INSERT, atomic by itself; a batch needs its savepoint to be all-or-nothing.
    return this.write(() => (tasks.length === 1 ? this.insertTasks(tasks) : this.enqueueTx(tasks)));
  }

  lease(request: LeaseRequest): Promise<LeaseResult> {
    return this.write(() => {
      const expired: Task[] = [];
      const tasks = this.leaseTx(request, expired);
      return { tasks, expired };
    });
  }

  ack(request: AckRequest): Promise<Transition> {
    return this.write(() => this.ackTx(request));
  }

  extend(request: ExtendRequest): Promise<Task> {
    return this.write(() => this.extendTx(request));
  }

  release(request: ReleaseRequest): Promise<Task> {
    return this.write(() => this.releaseTx(request));
  }

  cancel(taskId: number): Promise<Task> {
    return this.write(() => this.cancelTx(taskId));
  }

  retryFailed(taskIds?: number[]): Promise<number> {
    return this.write(() => this.retryFailedTx(taskIds));
  }

  get(taskIds: number[]): Promise<Task[]> {
    return this.read(() => {
      const found: Task[] = [];
      for (const id of taskIds) {
        const row = this.sql.byId.get(id) as TaskRow | undefined;
        if (row) found.push(rowToTask(row));
      }
      return found;
    });
  }

  list(query: ListQuery): Promise<Task[]> {
    return this.read(() => {
      const where: string[] = [];
      const args: Record<string, unknown> = {};
      if (query.status) {
        // Written into the SQL (it is one of TASK_STATUSES, checked below) so that SQLite can
        // use the partial index on failed/canceled rows; a bound value rules partial indexes out.
        if (!TASK_STATUSES.includes(query.status))
          throw new MitteloError('bad_request', `unknown status ${query.status}`);
        where.push(`status = '${query.status}'`);
      }
      if (query.backend) {
        where.push('backend = @backend');
        args.backend = query.backend;
      }
      if (query.before_id !== undefined) {
        where.push('task_id < @before_id');
        args.before_id = query.before_id;
      }
      if (query.search) {
        where.push('instr(lower(prompt), lower(@search)) > 0');
        args.search = query.search;
      }
      const limited = query.limit > 0;
      if (limited) args.limit = query.limit;
      // Read each status from its own index, so a listing costs in proportion to that status's
      // rows, not the table's: without statistics the planner would scan the table newest-first
      // and may read a million done rows to find a few old queued ones. Done rows are most of the
      // table, so for them (and for no status) that scan is the right plan.
      const index = query.status ? STATUS_INDEX[query.status] : undefined;
      const text =
        `SELECT ${TASK_COLUMNS} FROM tasks ${index ? `INDEXED BY ${index} ` : ''}` +
        `${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
        `ORDER BY task_id DESC ${limited ? 'LIMIT @limit' : ''}`;
      let statement = this.listStatements.get(text);
      if (!statement) {
        statement = this.db.prepare(text);
        this.listStatements.set(text, statement);
      }
      // Row by row, so a listing of every task stops at the byte budget instead of first loading
      // the whole table into memory.
      const budget = query.max_bytes ?? Number.POSITIVE_INFINITY;
      const tasks: Task[] = [];
      let bytes = 0;
      for (const row of statement.iterate(args) as IterableIterator<TaskRow>) {
        tasks.push(rowToTask(row));
        bytes += taskAnswerBytes(row);
        if (bytes >= budget) break;
      }
      return tasks;
    });
  }

  dump(afterId: number, limit: number): Promise<Task[]> {
    return this.read(() =>
      (this.sql.dump.all(afterId, limit) as TaskRow[]).map((row) => rowToTask(row, true)),
    );
  }

  load(tasks: Task[]): Promise<void> {
    return this.write(() => this.loadTx(tasks));
  }

  stats(): Promise<Stats> {
    return this.read(() => this.counts.current());
  }

  pause(request: PauseRequest): Promise<Pause> {
    return this.write(() => {
      const row = this.sql.pause.get({
        backend: pauseScope(request.backend),
        now: this.now(),
        until: request.until ?? null,
        reason: request.reason ?? null,
      }) as PauseRow;
      return pauseFromRow(row);
    });
  }

  resume(backend: string | null): Promise<boolean> {
    return this.write(() => {
      const row = this.sql.resume.get(pauseScope(backend)) as { until: number | null } | undefined;
      return row !== undefined && pauseHolds(row.until, this.now());
    });
  }

  pauses(): Promise<Pause[]> {
    return this.read(() => (this.sql.pauses.all(this.now()) as PauseRow[]).map(pauseFromRow));
  }

  setCap(cap: Cap): Promise<Cap> {
    return this.write(() => {
      checkCap(cap);
      return this.capTable.set(cap);
    });
  }

  clearCap(scope: string): Promise<boolean> {
    return this.write(() => this.capTable.clear(scope));
  }

  caps(): Promise<CapState[]> {
    return this.read(() => this.capTable.list(this.now()));
  }

  setBudget(budget: Budget): Promise<Budget> {
    return this.write(() => this.spendTable.set(budget));
  }

  clearBudget(backend: string): Promise<boolean> {
    return this.write(() => this.spendTable.clear(backend));
  }

  budgets(): Promise<BudgetState[]> {
    return this.read(() => this.spendTable.budgets(this.now()));
  }

  spend(days: number): Promise<SpendRow[]> {
    return this.read(() => this.spendTable.rows(days, this.now()));
  }

  nextWakeAt(): Promise<number | null> {
    return this.read(() => {
      const now = this.now();
      const ends = [this.sql.nextLeaseEnd, this.sql.nextBackoffEnd, this.sql.nextPauseEnd]
        .map((statement) => (statement.get(now) as { t: number | null }).t)
        .concat(this.capTable.nextRateSlot(now))
        .filter((end): end is number => end !== null);
      return wakeWithBudgets(ends.length > 0 ? Math.min(...ends) : null, this.spendTable.budgets(now), now);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.batch.flush();
    this.db.close();
    this.identity.close();
  }

  // ---- internals: synchronous, run inside a savepoint of the open batch ----

  private write<T>(change: () => T): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    if (this.lost) {
      this.faults.failed(this.lost, 1);
      return Promise.reject(this.lost);
    }
    return this.batch.write(() => this.counts.track(change));
  }

  private read<T>(query: () => T): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    return this.batch.read(query).catch((error: unknown) => {
      throw isStorageFault(error) ? describeStorageFault(error, this.path) : error;
    });
  }

  /**
   * A batch was rolled back because the database failed: say so once, count again from what is on
   * disk (the batch's moves are gone with it), and hand every refused request the same error.
   */
  private batchFailed(cause: unknown, refused: number): MitteloError {
    const error = describeStorageFault(cause, this.path);
    try {
      this.counts.reset(countByStatus(this.db));
    } catch {
      this.counts.rolledBackBatch(); // counting failed too: the committed counts still hold
    }
    if (error.details?.reason && !this.lost) {
      this.lost = error;
      this.rescue(error);
    }
    this.faults.failed(error, refused);
    return error;
  }

  /**
   * The database file was deleted or replaced: what the hub acknowledged lives only in the file it
   * still has open. Copy it next to the path, so a restart can go on from it.
   */
  private rescue(error: MitteloError): void {
    const copy = `${this.path}.rescued-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      this.db.exec(`VACUUM INTO '${copy.replaceAll("'", "''")}'`);
      this.log(
        `mittelo hub: ${error.message}. Everything it acknowledged was saved to ${copy}: stop the hub, move that file to ${this.path} (and remove ${this.path}-wal), then start it again`,
      );
    } catch (rescueError) {
      this.log(
        `mittelo hub: ${error.message}. Saving a copy to ${copy} failed (${(rescueError as Error).message}): while this hub runs its data is readable at /proc/${process.pid}/fd/${this.identity.descriptor}; copy that file before stopping it`,
      );
    }
  }

  private leaseNow(request: LeaseRequest, expiredFailures: Task[]): Task[] {
    const granted: Task[] = [];
    const now = this.now();
    if (this.sql.paused.get({ backend: pauseScope(request.backend), now })) return granted;
    // A backend out of its budget for today gets nothing until the next UTC day.
    if (request.backend && this.spendTable.exhausted(request.backend, now)) return granted;
    // The caps touching this lease, read in its transaction (queue-policy.ts decides with them).
    const caps = this.capTable.use(capScopesOf(request), now);
    const slots = slotsOf(caps);
    if (request.backend && slots.get(request.backend) === 0) return granted;
    const budget = request.max_bytes ?? Number.POSITIVE_INFINITY;
    let bytes = 0;
    // Poison tasks found among the candidates are failed, not handed out; look again for the rest.
    while (granted.length < request.max_tasks && bytes < budget) {
      const want = request.max_tasks - granted.length;
      // Tasks carrying a tag whose cap is full are looked past, so they never hide the others.
      const full = fullTags(slots);
      const queries = this.leaseQueries(want, full.length > 0);
      const args = {
        now,
        backend: request.backend ?? null,
        tags: JSON.stringify(request.tags ?? []),
        ...(full.length > 0 ? { full: JSON.stringify(full) } : {}),
      };
      const candidates = [
        ...(queries.readyUnrouted.all(args) as TaskRow[]),
        ...(request.backend ? (queries.readyRouted.all(args) as TaskRow[]) : []),
        ...(queries.expired.all(args) as TaskRow[]),
      ];
      if (candidates.length === 0) break;
      candidates.sort(leaseOrder);
      let poisoned = false;
      let capped = false;
      for (const candidate of candidates.slice(0, want)) {
        if (bytes >= budget) break;
        if (reachedLeaseExpiryLimit(candidate, this.policy)) {
          const row = this.sql.poison.get({
            task_id: candidate.task_id,
            now,
            ...leaseExpiredFailure(candidate),
          }) as TaskRow;
          expiredFailures.push(rowToTask(row));
          this.counts.move('leased', 'failed');
          poisoned = true;
          continue;
        }
        const tags = candidate.tags === null ? [] : (JSON.parse(candidate.tags) as string[]);
        if (!takeSlot(slots, request.backend, { tags })) {
          capped = true;
          continue;
        }
        if (caps.length > 0) this.capTable.logStarts(rateScopesOf(caps, request.backend, { tags }), now);
        // The candidate row plus what this UPDATE changes: no need to read it back.
        const leased: TaskRow = { ...candidate, status: 'leased', ...grantLease(candidate, request, now) };
        this.sql.grantLease.run({
          task_id: leased.task_id,
          worker_id: leased.worker_id,
          leased_until: leased.leased_until,
          lease_token: leased.lease_token,
          lease_expirations: leased.lease_expirations,
          lease_backend: request.backend ?? null,
          now,
        });
        this.counts.move(candidate.status, 'leased');
        granted.push(rowToTask(leased, true));
        bytes += taskAnswerBytes(candidate);
      }
      // A capped candidate may have filled a tag's cap: look again past that tag's tasks.
      if (!poisoned && !(capped && fullTags(slots).length > full.length)) break;
    }
    return granted;
  }

  /**
   * The candidate queries for leasing `limit` tasks. The limit is written into the SQL rather than
   * bound: with a bound LIMIT SQLite plans for an unknown row count and the query costs ~10x more.
   */
  private leaseQueries(limit: number, pastFullTags: boolean): LeaseQueries {
    const key = pastFullTags ? -limit : limit;
    let queries = this.leaseStatements.get(key);
    if (queries) return queries;
    const count = Math.trunc(limit);
    const fits = `AND (tags IS NULL OR NOT EXISTS (
        SELECT 1 FROM json_each(tasks.tags) AS need WHERE need.value NOT IN (SELECT value FROM json_each(@tags))))`;
    const routed = pastFullTags
      ? `${fits} AND (tags IS NULL OR NOT EXISTS (
        SELECT 1 FROM json_each(tasks.tags) AS has WHERE has.value IN (SELECT value FROM json_each(@full))))`
      : fits;
    queries = {
      readyUnrouted: this.db.prepare(
        `SELECT ${TASK_COLUMNS} FROM tasks INDEXED BY tasks_ready
         WHERE status = 'queued' AND backend IS NULL AND available_at <= @now ${routed}
         ORDER BY priority DESC, task_id LIMIT ${count}`,
      ),
      readyRouted: this.db.prepare(
        `SELECT ${TASK_COLUMNS} FROM tasks INDEXED BY tasks_ready
         WHERE status = 'queued' AND backend = @backend AND available_at <= @now ${routed}
         ORDER BY priority DESC, task_id LIMIT ${count}`,
      ),
      expired: this.db.prepare(
        `SELECT ${TASK_COLUMNS} FROM tasks INDEXED BY tasks_leased
         WHERE status = 'leased' AND leased_until < @now AND (backend IS NULL OR backend = @backend) ${routed}
         ORDER BY priority DESC, task_id LIMIT ${count}`,
      ),
    };
    this.leaseStatements.set(key, queries);
    return queries;
  }

  private ackNow(request: AckRequest): Transition {
    const cost = ackCost(request);
    if (request.status === 'done') {
      // The common case in one statement; only when it matches nothing do we look at why.
      const done = this.sql.finishIfHeld.get({
        ...cost,
        task_id: request.task_id,
        lease_token: request.lease_token ?? null,
        worker_id: request.worker_id ?? null,
        result: request.result ?? null,
        error: request.error ?? null,
        error_kind: request.error_kind ?? null,
        error_fix: request.error_fix ?? null,
        duration_ms: request.duration_ms ?? null,
        usage: jsonOrNull(request.usage),
        parsed: jsonText(request.parsed),
        session_id: request.session_id ?? null,
        worktree: jsonText(request.worktree),
        now: this.now(),
      }) as AckedRow | undefined;
      if (done) {
        this.counts.move('leased', 'done');
        this.spendTable.add(done.updated_at, done.lease_backend, spendOfAck(request));
        return { task: rowToTask(done) };
      }
    }
    const current = this.claimed(request, 'ack');
    const now = this.now();
    const outcome = {
      task_id: request.task_id,
      error: request.error ?? null,
      error_kind: request.error_kind ?? null,
      error_fix: request.error_fix ?? null,
      duration_ms: request.duration_ms ?? null,
      session_id: request.session_id ?? null,
      worktree: jsonText(request.worktree),
      now,
      ...cost,
    };
    // Every accepted ack is a run that cost something, a retried one too.
    const spent = (row: AckedRow) => this.spendTable.add(now, row.lease_backend, spendOfAck(request));
    if (retriesAfterFailure(current, request)) {
      const row = this.sql.requeue.get({
        ...outcome,
        available_at: now + retryDelaySeconds(current.attempts, this.policy),
        refund: 0,
      }) as AckedRow;
      this.counts.move('leased', 'queued');
      spent(row);
      return { task: rowToTask(row), requeued: true };
    }
    const row = this.sql.finish.get({
      ...outcome,
      status: request.status,
      result: request.result ?? null,
      usage: jsonOrNull(request.usage),
      parsed: jsonText(request.parsed),
    }) as AckedRow;
    this.counts.move('leased', request.status);
    spent(row);
    return { task: rowToTask(row) };
  }

  private existing(taskId: number): TaskRow {
    const row = this.sql.byId.get(taskId) as TaskRow | undefined;
    if (!row) throw taskNotFound(taskId);
    return row;
  }

  /** The task, if the caller still holds its lease (queue-policy.ts says what holding means). */
  private claimed(claim: LeaseClaim, action: string): TaskRow {
    const row = this.existing(claim.task_id);
    checkClaim(row, claim, action);
    return row;
  }

  /**
   * Window by window (prune-batches.ts), each window one write of its own group batch: a lease
   * arriving meanwhile waits for at most one window's DELETE. Finish times are compared with the
   * clock as it was when the prune began.
   */
  prune(request: PruneRequest): Promise<number> {
    try {
      checkPrunable(request);
    } catch (error) {
      return Promise.reject(error);
    }
    const cutoff = this.now() - request.older_than_s;
    return pruneInWindows(
      (afterId, windowRows) =>
        this.write(() => this.pruneWindow.step(afterId, windowRows, cutoff, request.statuses, this.counts)),
      () => this.closed,
    );
  }

  /** Queued tasks per backend: one covering scan of the queued rows' index (queued-by-backend.ts). */
  queuedByBackend(): Promise<ReturnType<typeof countQueuedByBackend>> {
    return this.read(() => countQueuedByBackend(this.db, this.now()));
  }
}

/** A task row as an ack's UPDATE returns it: with the backend of the agent that held it. */
type AckedRow = TaskRow & { lease_backend: string | null };

function closedError(): MitteloError {
  return new MitteloError('unavailable', 'the store is closed (the hub is shutting down)');
}

/**
 * Group commit: every write that arrives in one turn of the event loop runs at once inside a
 * shared transaction (each in its own savepoint, so one failing write does not undo the others),
 * and the transaction commits once, just before the loop goes back to waiting for I/O. Callers'
 * promises settle only after that commit, so an answer to a client always means "on disk" (in
 * the WAL; with fsync on, on stable storage) while the commit cost is shared by everyone who
 * asked at the same time.
 *
 * Reads made while a batch is open see its writes; their promises also wait for the commit, so
 * nobody is told about a change that could still be lost, and answers keep their order.
 *
 * A write that fails for its own reasons (a conflict, a constraint) undoes its own savepoint and
 * nothing else. A failure of the database itself (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, ...:
 * see isStorageFault) is different: SQLite may have rolled back the whole transaction on its own,
 * and a fresh transaction begun after it would let the requests before the failure be answered as
 * committed. So the batch is over: it is rolled back, and every request in it is refused with the
 * same storage error, the ones that ran before the failure included. The next write starts a fresh
 * batch. The same goes for a failed COMMIT.
 */
import type Database from 'better-sqlite3';
import { isStorageFault } from './storage-faults.ts';

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  value: unknown;
}

export interface GroupCommitHooks {
  /** Just before COMMIT: throw to refuse the batch instead (the database file is gone, say). */
  beforeCommit?: () => void;
  /** The batch is on disk. */
  committed?: () => void;
  /**
   * The batch was rolled back after a failed statement or COMMIT. Returns the error that each of
   * its `refused` requests gets.
   */
  failed?: (cause: unknown, refused: number) => Error;
}

export class GroupCommit {
  private readonly db: Database.Database;
  private readonly hooks: GroupCommitHooks;
  private waiters: Waiter[] = [];
  private scheduled = false;
  /** A batch of ours is open (not the same as db.inTransaction after a failed ROLLBACK). */
  private open = false;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;

  constructor(db: Database.Database, hooks: GroupCommitHooks = {}) {
    this.db = db;
    this.hooks = hooks;
    this.begin = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
  }

  /**
   * Run `change` now, inside the open batch. `change` must be a better-sqlite3 transaction
   * function (which becomes a savepoint inside the batch) or a single statement.
   */
  write<T>(change: () => T): Promise<T> {
    let value: T;
    try {
      if (!this.open) {
        this.undoLeftovers();
        this.begin.run();
        this.open = true;
        this.schedule();
      }
      value = change();
    } catch (error) {
      // A batch SQLite has already ended on its own counts as failed, whatever the error says.
      const batchLost = !this.open || !this.db.inTransaction;
      if (!batchLost && !isStorageFault(error)) return Promise.reject(error);
      return Promise.reject(this.fail(error, 1));
    }
    return this.defer(value);
  }

  /** Run `query` now; answer at once unless a batch is open, then after it commits. */
  read<T>(query: () => T): Promise<T> {
    let value: T;
    try {
      value = query();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.open ? this.defer(value) : Promise.resolve(value);
  }

  /** Commit now (used before closing the database). */
  flush(): void {
    this.scheduled = false;
    if (!this.open) {
      const waiters = this.take();
      for (const waiter of waiters) waiter.resolve(waiter.value);
      return;
    }
    try {
      this.hooks.beforeCommit?.();
      this.commit.run();
    } catch (error) {
      this.fail(error, 0);
      return;
    }
    this.open = false;
    const waiters = this.take();
    this.hooks.committed?.();
    for (const waiter of waiters) waiter.resolve(waiter.value);
  }

  /**
   * The database failed: undo the batch and refuse everyone in it. `extra` requests (the one
   * whose statement failed) are refused by the caller with the returned error.
   */
  private fail(cause: unknown, extra: number): Error {
    const waiters = this.take();
    this.open = false;
    this.undoLeftovers();
    const error = this.hooks.failed?.(cause, waiters.length + extra) ?? (cause as Error);
    for (const waiter of waiters) waiter.reject(error);
    return error;
  }

  /** Roll back whatever transaction is still open; a ROLLBACK that fails is tried again next time. */
  private undoLeftovers(): void {
    if (!this.db.inTransaction) return;
    try {
      this.rollback.run();
    } catch {
      // The next write tries again before it begins; until then nothing is answered as stored.
    }
  }

  private take(): Waiter[] {
    const waiters = this.waiters;
    this.waiters = [];
    return waiters;
  }

  private defer<T>(value: T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiters.push({ resolve: resolve as (value: unknown) => void, reject, value });
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }
}

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
 */
import type Database from 'better-sqlite3';

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  value: unknown;
}

export interface GroupCommitHooks {
  /** The batch is on disk. */
  committed?: () => void;
  /** The batch's COMMIT failed and it was rolled back. */
  rolledBack?: () => void;
}

export class GroupCommit {
  private readonly db: Database.Database;
  private readonly hooks: GroupCommitHooks;
  private waiters: Waiter[] = [];
  private scheduled = false;
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
   * function, which becomes a savepoint when a transaction is already open.
   */
  write<T>(change: () => T): Promise<T> {
    if (!this.db.inTransaction) {
      this.begin.run();
      this.schedule();
    }
    let value: T;
    try {
      value = change();
    } catch (error) {
      return Promise.reject(error);
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
    return this.db.inTransaction ? this.defer(value) : Promise.resolve(value);
  }

  /** Commit now (used before closing the database). */
  flush(): void {
    this.scheduled = false;
    const waiters = this.waiters;
    this.waiters = [];
    if (!this.db.inTransaction) {
      for (const waiter of waiters) waiter.resolve(waiter.value);
      return;
    }
    try {
      this.commit.run();
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run();
      this.hooks.rolledBack?.();
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    this.hooks.committed?.();
    for (const waiter of waiters) waiter.resolve(waiter.value);
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

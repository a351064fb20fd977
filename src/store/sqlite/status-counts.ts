/**
 * Task counts per status, kept in memory so `stats` costs nothing at any table size. Counted once
 * when the database opens; after that every write reports the moves it made. Moves of a write
 * that fails are dropped with it, and moves of a batch count only once the batch has committed,
 * so the numbers always describe what is on disk (plus, while a batch is open, what it will add).
 *
 * Triggers on the tasks table did the same job but cost about a third of every write.
 */
import { type Stats, TASK_STATUSES, type TaskStatus } from '../../protocol/model.ts';

type Delta = Map<TaskStatus, number>;

function emptyStats(): Stats {
  return Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Stats;
}

export class StatusCounts {
  private readonly committed: Stats;
  /** Moves of the open batch. */
  private batch: Delta = new Map();
  /** Moves of the write running now. */
  private write: Delta | null = null;

  constructor(rows: Iterable<{ status: string; n: number }>) {
    this.committed = emptyStats();
    this.reset(rows);
  }

  /** Take the counts from the database again (after a batch failed part way), dropping the open batch. */
  reset(rows: Iterable<{ status: string; n: number }>): void {
    Object.assign(this.committed, emptyStats());
    for (const { status, n } of rows) {
      if (status in this.committed) this.committed[status as TaskStatus] = n;
    }
    this.batch = new Map();
  }

  /** Run one write, keeping its moves only if it succeeds. */
  track<T>(change: () => T): T {
    this.write = new Map();
    try {
      const value = change();
      for (const [status, n] of this.write) this.batch.set(status, (this.batch.get(status) ?? 0) + n);
      return value;
    } finally {
      this.write = null;
    }
  }

  /** `n` tasks went from `from` (null: new) to `to`. Only valid inside `track`. */
  move(from: TaskStatus | null, to: TaskStatus, n = 1): void {
    if (n === 0 || from === to) return;
    const write = this.write;
    if (!write) throw new Error('StatusCounts.move outside of a tracked write');
    if (from) write.set(from, (write.get(from) ?? 0) - n);
    write.set(to, (write.get(to) ?? 0) + n);
  }

  /** `n` tasks in `status` were deleted (prune). Only valid inside `track`. */
  removed(status: TaskStatus, n: number): void {
    if (n === 0) return;
    const write = this.write;
    if (!write) throw new Error('StatusCounts.removed outside of a tracked write');
    write.set(status, (write.get(status) ?? 0) - n);
  }

  committedBatch(): void {
    for (const [status, n] of this.batch) this.committed[status] += n;
    this.batch = new Map();
  }

  rolledBackBatch(): void {
    this.batch = new Map();
  }

  /** Counts including the open batch (reads during a batch see its writes). */
  current(): Stats {
    const stats = { ...this.committed };
    for (const [status, n] of this.batch) stats[status] += n;
    return stats;
  }
}

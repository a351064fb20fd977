/**
 * Requests of one kind that arrive in the same turn of the event loop go to the database together
 * (one statement, one commit), like group commit in the SQLite store: eight clients enqueueing at
 * once cost one INSERT, not eight. A batch starts at the end of the turn; while `maxInFlight`
 * batches are running, new requests wait and join the next one, so batches grow with the load.
 *
 * `run` must settle every item it is given; if it throws instead, the items it left are rejected
 * with that error.
 */

export interface BatchItem<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  /** Set once the item was answered (see settle). */
  settled?: boolean;
}

interface Settleable {
  settled?: boolean;
  reject: (error: unknown) => void;
}

export interface TurnBatchOptions<I> {
  maxInFlight: number;
  /** Cap on a batch's weight (one item is always taken, however heavy). */
  maxWeight: number;
  weight: (item: I) => number;
}

export class TurnBatch<I extends Settleable> {
  private pending: I[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly run: (items: I[]) => Promise<void>;
  private readonly options: TurnBatchOptions<I>;
  private idleWaiters: (() => void)[] = [];

  constructor(run: (items: I[]) => Promise<void>, options: TurnBatchOptions<I>) {
    this.run = run;
    this.options = options;
  }

  add(item: I): void {
    this.pending.push(item);
    this.schedule();
  }

  /** Resolves once nothing is pending or running (for close). */
  idle(): Promise<void> {
    if (this.pending.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  private start(): void {
    while (this.pending.length > 0 && this.inFlight < this.options.maxInFlight) {
      const items = this.take();
      this.inFlight += 1;
      void this.execute(items);
    }
  }

  private take(): I[] {
    let weight = 0;
    let count = 0;
    for (const item of this.pending) {
      const next = this.options.weight(item);
      if (count > 0 && weight + next > this.options.maxWeight) break;
      weight += next;
      count += 1;
    }
    return this.pending.splice(0, count);
  }

  private async execute(items: I[]): Promise<void> {
    try {
      await this.run(items);
    } catch (error) {
      for (const item of items) {
        if (item.settled) continue;
        item.settled = true;
        item.reject(error);
      }
    } finally {
      this.inFlight -= 1;
      if (this.pending.length > 0) this.start();
      else if (this.inFlight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const waiter of waiters) waiter();
      }
    }
  }
}

/** Settle an item once (run's helper). */
export function settle<T>(item: BatchItem<T>, outcome: { value: T } | { error: unknown }): void {
  if (item.settled) return;
  item.settled = true;
  if ('value' in outcome) item.resolve(outcome.value);
  else item.reject(outcome.error);
}

/**
 * `mittelo hub --keep-finished 7d`: the hub prunes finished tasks older than that, once when it
 * starts and then every minute. One prune at a time (a slow one is not joined by the next); a
 * failure is logged and tried again at the next round. With several hubs on one PostgreSQL
 * database each may prune: the store removes every row once (postgres/prune.ts).
 */
import { PRUNABLE_STATUSES } from '../store/queue-policy.ts';
import type { Store } from '../store/types.ts';

export const RETENTION_EVERY_MS = 60_000;

export interface RetentionOptions {
  store: Store;
  /** Keep finished tasks this long (seconds). */
  keepFinishedS: number;
  log: (line: string) => void;
  /** How often to prune (default every minute). */
  everyMs?: number | undefined;
}

export class Retention {
  private readonly options: RetentionOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** The last failure's message, so an outage is logged once, not every minute. */
  private failing: string | null = null;

  constructor(options: RetentionOptions) {
    this.options = options;
  }

  /** Prune now, then every `everyMs`. */
  start(): void {
    void this.round();
    this.timer = setInterval(() => void this.round(), this.options.everyMs ?? RETENTION_EVERY_MS);
    this.timer.unref();
  }

  /**
   * No more rounds. A prune still running is not waited for: closing the store (which the hub does
   * next) ends it at its next batch, so a hub stops at once however large the prune.
   */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private round(): Promise<void> {
    if (this.stopped || this.running) return this.running ?? Promise.resolve();
    this.running = this.prune().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async prune(): Promise<void> {
    const { store, keepFinishedS, log } = this.options;
    try {
      const removed = await store.prune({ older_than_s: keepFinishedS, statuses: PRUNABLE_STATUSES });
      if (this.failing !== null) log('mittelo hub: pruning finished tasks works again');
      this.failing = null;
      if (removed > 0) {
        log(
          `mittelo hub: pruned ${removed} finished task(s) older than ${keepFinishedS} s (--keep-finished)`,
        );
      }
    } catch (error) {
      if (this.stopped) return; // the store closed under it: the hub is stopping
      const message = (error as Error)?.message ?? String(error);
      if (message !== this.failing) {
        log(`mittelo hub: pruning finished tasks failed (tried again every minute): ${message}`);
      }
      this.failing = message;
    }
  }
}

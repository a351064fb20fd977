/**
 * Follows a set of tasks to the end: hub events say when each finishes (fast), and a periodic
 * `wait` with no timeout re-reads the ones still open (safe: catches what events missed while the
 * hub was restarting, and tasks that finished before their ids were known).
 */
import type { HubClient } from '../client/hub-client.ts';
import type { Task } from '../protocol/model.ts';
import { TERMINAL_STATUSES } from '../protocol/model.ts';

/** The protocol's `wait` takes at most this many ids per call. */
const WAIT_CHUNK = 10_000;
const RESYNC_MS = 3000;

export class TaskTracker {
  private readonly open = new Set<number>();
  private readonly client: HubClient;
  private readonly onFinished: (task: Task) => void;
  private allFinished: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private resyncing = false;
  private expected = 0;
  private finishedCount = 0;

  /** `client` must be subscribed to task events (HubClient renews that after a reconnect). */
  constructor(client: HubClient, onFinished: (task: Task) => void) {
    this.client = client;
    this.onFinished = onFinished;
    client.on('event', (event) => {
      if ('task' in event && TERMINAL_STATUSES.includes(event.task.status)) this.finish(event.task);
    });
    client.on('connected', () => void this.resync());
  }

  get finished(): number {
    return this.finishedCount;
  }

  /** Start following these ids (as soon as enqueue returns them). */
  add(ids: readonly number[]): void {
    for (const id of ids) this.open.add(id);
    this.expected += ids.length;
  }

  /** Resolves when every added task has finished; `expected` is how many will be added in all. */
  untilFinished(expected: number): Promise<void> {
    this.timer ??= setInterval(() => void this.resync(), RESYNC_MS);
    return new Promise((resolve) => {
      this.allFinished = () => {
        if (this.expected >= expected && this.open.size === 0) resolve();
      };
      void this.resync();
    });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Read the open tasks again; finishes those that are done. */
  async resync(): Promise<void> {
    if (this.resyncing) return;
    this.resyncing = true;
    try {
      const ids = [...this.open];
      for (let start = 0; start < ids.length; start += WAIT_CHUNK) {
        const { tasks } = await this.client.wait(ids.slice(start, start + WAIT_CHUNK), { timeout_ms: 0 });
        for (const task of tasks) if (TERMINAL_STATUSES.includes(task.status)) this.finish(task);
      }
    } catch {
      // The hub is away; the reconnect triggers the next resync.
    } finally {
      this.resyncing = false;
      this.allFinished?.();
    }
  }

  /**
   * Read the open tasks once more (the run is over): those that finished meanwhile are finished as
   * usual; the rest are returned as they stand now (queued or leased).
   */
  async readOpen(): Promise<Task[]> {
    const ids = [...this.open];
    const unfinished: Task[] = [];
    for (let start = 0; start < ids.length; start += WAIT_CHUNK) {
      const { tasks } = await this.client.wait(ids.slice(start, start + WAIT_CHUNK), { timeout_ms: 0 });
      for (const task of tasks) {
        if (TERMINAL_STATUSES.includes(task.status)) this.finish(task);
        else unfinished.push(task);
      }
    }
    return unfinished;
  }

  private finish(task: Task): void {
    if (!this.open.delete(task.task_id)) return;
    this.finishedCount += 1;
    this.onFinished(task);
    if (this.open.size === 0) this.allFinished?.();
  }
}

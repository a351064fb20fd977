/**
 * Long-poll leases. A `lease` with `wait_ms` that finds nothing parks here; when work appears
 * (an enqueue, a release, a retry, a lease running out, a backoff ending) parked leases are tried
 * again, oldest first, so an idle agent gets a new task within milliseconds of its arrival.
 *
 * Waiters are grouped by what they can run (backend + tags). When the head of a group finds
 * nothing, the rest of that group would find nothing either, so one empty lease per group is the
 * most a wake-up costs, however many agents wait.
 */
import type { Task } from '../protocol/model.ts';
import type { LeaseRequest, LeaseResult, Store } from '../store/types.ts';

interface Waiter {
  request: LeaseRequest;
  resolve: (tasks: Task[]) => void;
  /** False once the asking connection is gone: never lease to a closed socket. */
  isAlive: () => boolean;
  timer: NodeJS.Timeout;
  group: Group;
}

interface Group {
  key: string;
  waiters: Waiter[];
  /** A lease for this group's head is in flight. */
  busy: boolean;
}

/** Re-check the clock at least this often while agents wait (a lease may have been shortened). */
const MAX_WAKE_DELAY_MS = 5000;

/** What the dispatcher tells the hub about the leases it makes. */
export interface DispatcherEvents {
  /** These tasks were handed to the worker that asked. */
  leased(request: LeaseRequest, tasks: Task[]): void;
  /** A lease failed these tasks instead of handing them out (their lease ran out too often). */
  expired(tasks: Task[]): void;
}

export class Dispatcher {
  private readonly store: Store;
  private readonly events: DispatcherEvents;
  private readonly groups = new Map<string, Group>();
  private readonly maxWakeDelayMs: number;
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakeAt = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(store: Store, events: DispatcherEvents, options: { maxWakeDelayMs?: number } = {}) {
    this.store = store;
    this.events = events;
    this.maxWakeDelayMs = options.maxWakeDelayMs ?? MAX_WAKE_DELAY_MS;
  }

  get waiting(): number {
    let count = 0;
    for (const group of this.groups.values()) count += group.waiters.length;
    return count;
  }

  /** Lease now; if nothing is available and `waitMs` > 0, wait up to that long for work. */
  async lease(request: LeaseRequest, waitMs: number, isAlive: () => boolean): Promise<Task[]> {
    const tasks = await this.leaseFromStore(request);
    if (tasks.length > 0 || waitMs <= 0 || this.stopped) return this.deliver(request, tasks, isAlive);
    return new Promise<Task[]>((resolve) => {
      const group = this.groupFor(request);
      const waiter: Waiter = {
        request,
        resolve,
        isAlive,
        group,
        timer: setTimeout(() => this.expire(waiter), waitMs),
      };
      group.waiters.push(waiter);
      void this.scheduleWake();
      // Work may have arrived while our first lease was being committed.
      this.drain(group);
    });
  }

  /** Work may be available: try parked leases. Call after any change that makes tasks leasable. */
  notify(): void {
    for (const group of this.groups.values()) this.drain(group);
  }

  /** Answer every parked lease with no tasks (the hub is stopping). */
  stop(): void {
    this.stopped = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    for (const group of this.groups.values()) {
      for (const waiter of group.waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.resolve([]);
      }
    }
    this.groups.clear();
  }

  /** Drop the parked leases of a connection that closed. */
  forget(isAlive: () => boolean): void {
    for (const group of this.groups.values()) {
      group.waiters = group.waiters.filter((waiter) => {
        if (waiter.isAlive !== isAlive) return true;
        clearTimeout(waiter.timer);
        return false;
      });
    }
  }

  private groupFor(request: LeaseRequest): Group {
    const key = `${request.backend ?? ''}\u0000${[...(request.tags ?? [])].sort().join(',')}`;
    let group = this.groups.get(key);
    if (!group) {
      group = { key, waiters: [], busy: false };
      this.groups.set(key, group);
    }
    return group;
  }

  /** Serve the group's waiters in order until one finds nothing. */
  private drain(group: Group): void {
    if (group.busy || this.stopped) return;
    const waiter = group.waiters[0];
    if (!waiter) {
      this.groups.delete(group.key);
      return;
    }
    group.busy = true;
    this.leaseFromStore(waiter.request).then(
      async (tasks) => {
        group.busy = false;
        if (tasks.length === 0) return;
        const index = group.waiters.indexOf(waiter);
        if (index === -1) {
          // It timed out or its connection closed while we leased: give the tasks back.
          await this.giveBack(tasks);
        } else {
          group.waiters.splice(index, 1);
          clearTimeout(waiter.timer);
          waiter.resolve(await this.deliver(waiter.request, tasks, waiter.isAlive));
        }
        this.drain(group);
      },
      () => {
        // The store refused (shutting down); the waiter will time out or be stopped.
        group.busy = false;
      },
    );
  }

  /** One lease; the tasks it failed instead of handing out are announced, whoever asked. */
  private async leaseFromStore(request: LeaseRequest): Promise<Task[]> {
    const { tasks, expired }: LeaseResult = await this.store.lease(request);
    if (expired.length > 0) this.events.expired(expired);
    return tasks;
  }

  private async deliver(request: LeaseRequest, tasks: Task[], isAlive: () => boolean): Promise<Task[]> {
    if (tasks.length === 0) return tasks;
    if (!isAlive()) {
      await this.giveBack(tasks);
      return [];
    }
    this.events.leased(request, tasks);
    return tasks;
  }

  /** Release leases nobody received (the caller left before its answer went out). */
  async giveBack(tasks: Task[], why?: string): Promise<void> {
    await Promise.allSettled(
      tasks.map((task) =>
        this.store.release({
          task_id: task.task_id,
          lease_token: task.lease_token,
          ...(why ? { error: why } : {}),
        }),
      ),
    );
    this.notify();
  }

  private expire(waiter: Waiter): void {
    const group = waiter.group;
    const index = group.waiters.indexOf(waiter);
    if (index === -1) return;
    group.waiters.splice(index, 1);
    if (group.waiters.length === 0 && !group.busy) this.groups.delete(group.key);
    waiter.resolve([]);
  }

  /** Arm a timer for the next moment a task becomes leasable by the clock alone. */
  private async scheduleWake(): Promise<void> {
    if (this.stopped || this.waiting === 0) return;
    let next: number | null;
    try {
      next = await this.store.nextWakeAt();
    } catch {
      return;
    }
    const nowMs = Date.now();
    const target = Math.min(
      next === null ? Number.POSITIVE_INFINITY : next * 1000 + 1,
      nowMs + this.maxWakeDelayMs,
    );
    if (this.wakeTimer && target >= this.wakeAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = target;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = null;
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.notify();
        void this.scheduleWake();
      },
      Math.max(0, target - nowMs),
    );
    this.wakeTimer.unref();
  }
}

/**
 * The hub's own throughput history: tasks finished (done, failed) and enqueued per minute over the
 * last day, so a dashboard opened now can draw what happened before it opened (`stats_history`,
 * `GET /stats/history`). Kept in memory in a fixed ring of one slot per minute: the memory is the
 * same after a minute or a month, and recording is two array writes. A restarted hub starts
 * counting again (`since` says from when).
 */
import type { StatsHistory, TaskEventName, ThroughputMinute } from '../protocol/model.ts';

/** Minutes kept: one day. */
export const HISTORY_MINUTES = 24 * 60;

const COUNTED = ['done', 'failed', 'enqueued'] as const;
type Counted = (typeof COUNTED)[number];

/** Which counter a task event moves; events not listed move none. */
const COUNTER_OF: Partial<Record<TaskEventName, Counted>> = {
  'task.done': 'done',
  'task.failed': 'failed',
  'task.enqueued': 'enqueued',
};

export class ThroughputHistory {
  private readonly now: () => number;
  private readonly size: number;
  /** slot -> the minute (Unix minutes) its counts are for; a slot of an older minute is stale. */
  private readonly slotMinute: Float64Array;
  /** slot * 3 + counter index -> count. */
  private readonly counts: Uint32Array;
  private readonly since: number;
  readonly scope: StatsHistory['scope'];

  /**
   * `scope` says whose tasks are counted: `hub` (this hub's) or `fleet` (this hub's and those the
   * other hubs on its database told it about). `now` is in milliseconds (tests move it).
   */
  constructor(options: { scope: StatsHistory['scope']; now?: () => number; minutes?: number }) {
    this.now = options.now ?? Date.now;
    this.size = options.minutes ?? HISTORY_MINUTES;
    this.slotMinute = new Float64Array(this.size).fill(-1);
    this.counts = new Uint32Array(this.size * COUNTED.length);
    this.since = this.now() / 1000;
    this.scope = options.scope;
  }

  /** `count` tasks had this event just now. */
  record(event: TaskEventName, count: number): void {
    const counter = COUNTER_OF[event];
    if (counter === undefined || count <= 0) return;
    const minute = Math.floor(this.now() / 60_000);
    const slot = minute % this.size;
    if (this.slotMinute[slot] !== minute) {
      this.slotMinute[slot] = minute;
      this.counts.fill(0, slot * COUNTED.length, (slot + 1) * COUNTED.length);
    }
    this.counts[slot * COUNTED.length + COUNTED.indexOf(counter)]! += count;
  }

  /** The last `minutes` minutes (the current one included), oldest first; minutes with nothing left out. */
  series(minutes = this.size): StatsHistory {
    const nowMs = this.now();
    const current = Math.floor(nowMs / 60_000);
    const span = Math.min(Math.max(1, minutes), this.size);
    const rows: ThroughputMinute[] = [];
    for (let minute = current - span + 1; minute <= current; minute++) {
      const slot = minute % this.size;
      if (this.slotMinute[slot] !== minute) continue;
      const base = slot * COUNTED.length;
      rows.push({
        start: minute * 60,
        done: this.counts[base]!,
        failed: this.counts[base + 1]!,
        enqueued: this.counts[base + 2]!,
      });
    }
    return { bucket_s: 60, now: nowMs / 1000, since: this.since, scope: this.scope, minutes: rows };
  }
}

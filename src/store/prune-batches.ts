/**
 * How every store prunes: a walk over the table in task-id order, a window of at most
 * PRUNE_WINDOW_ROWS rows per step, each step one short transaction that deletes the finished rows
 * of its window that qualify. A step's cost is bounded by the window (never by how many rows
 * qualify in all), and between steps the store pauses about as long as the step took, so leases
 * and acks keep at least half of the store's time while a million rows go.
 *
 * Walking by id rather than asking "the next N old finished rows" each time keeps every step cheap
 * without an index on finish times (which every ack would have to update): a step reads its
 * window through the primary key and never rereads what an earlier one looked at.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Rows one step looks at (and at most deletes): a few milliseconds of work. */
export const PRUNE_WINDOW_ROWS = 2000;

/** The longest pause between steps, whatever a step took (a slow disk should not stretch a prune to hours). */
const MAX_PAUSE_MS = 50;

export interface PruneStep {
  /** Rows this step deleted. */
  removed: number;
  /** The largest task id in the window; null when no row was left past `afterId`. */
  lastId: number | null;
}

/**
 * Run `step` window after window from the start of the table until it finds no more rows, or
 * until `stopped()` (the store is closing; looked at between windows): returns how many rows the
 * steps deleted.
 */
export async function pruneInWindows(
  step: (afterId: number, windowRows: number) => Promise<PruneStep>,
  stopped: () => boolean,
): Promise<number> {
  let removed = 0;
  let afterId = 0;
  // The first step always runs: on a closed store it is refused like any other call.
  for (;;) {
    const began = performance.now();
    const result = await step(afterId, PRUNE_WINDOW_ROWS);
    removed += result.removed;
    if (result.lastId === null) return removed;
    afterId = result.lastId;
    // Give the event loop (and the database) back to leases and acks before the next window.
    await sleep(Math.min(MAX_PAUSE_MS, Math.max(1, performance.now() - began)));
    if (stopped()) return removed;
  }
}

/**
 * Carry a whole queue from one store to another (SQLite <-> PostgreSQL): every task with its id,
 * status, result, attempts, times and lease, in pages, so a million tasks never sit in memory.
 * Used by `mittelo copy`; the stores do the reading and writing (`dump`, `load`).
 */
import { MitteloError } from '../errors.ts';
import type { Stats } from '../protocol/model.ts';
import type { Store } from './types.ts';

/** Tasks per page: big enough that a page's transaction cost is small, small enough for memory. */
const PAGE = 1000;

export interface CopyOptions {
  /** Copy into a target that already holds tasks (no id may collide). Default: refuse. */
  allowNonEmpty?: boolean;
  /** Told after each page, with the number of tasks copied so far. */
  progress?: (copied: number) => void;
}

export interface CopyReport {
  copied: number;
  /** The target's counts after the copy. */
  target: Stats;
}

export async function copyQueue(
  source: Store,
  target: Store,
  options: CopyOptions = {},
): Promise<CopyReport> {
  await refuseRunningHub(source);
  const before = await target.stats();
  const held = Object.values(before).reduce((sum, count) => sum + count, 0);
  if (held > 0 && !options.allowNonEmpty) {
    throw new MitteloError(
      'conflict',
      `the target already holds ${held} task(s); copy into an empty one, or pass --allow-nonempty to add to it (no task id may be in both)`,
      { target_tasks: held },
    );
  }
  let copied = 0;
  let afterId = 0;
  for (;;) {
    const page = await source.dump(afterId, PAGE);
    if (page.length === 0) break;
    try {
      await target.load(page);
    } catch (error) {
      if (error instanceof MitteloError && copied > 0) {
        throw new MitteloError(
          error.code,
          `${error.message}. The target now holds the first ${copied} copied task(s) (ids up to ${afterId}); remove them before copying again`,
          { ...error.details, copied },
        );
      }
      throw error;
    }
    copied += page.length;
    afterId = page[page.length - 1]!.task_id;
    options.progress?.(copied);
  }
  return { copied, target: await target.stats() };
}

/**
 * A hub writing to the source while it is copied would leave the copy behind it. SQLite's lock
 * already refuses to open a file a hub holds; hubs on a shared database say they are alive in it.
 */
async function refuseRunningHub(source: Store): Promise<void> {
  if (!source.fleet) return;
  const live = (await source.fleet.loadAgents()).filter(
    (hub) => hub.hub_id !== source.fleet?.hubId && hub.age_s < 10,
  );
  if (live.length > 0) {
    throw new MitteloError(
      'conflict',
      `${live.length} hub(s) are running on the source database (last seen ${Math.round(Math.min(...live.map((hub) => hub.age_s)))} s ago); stop them before copying its queue`,
    );
  }
}

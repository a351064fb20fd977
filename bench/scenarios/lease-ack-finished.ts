/**
 * Scenario 4: does lease + ack slow down as finished tasks pile up? The same drain (8 workers,
 * batch 10) on an empty table and on one that already holds 1,000,000 done tasks, alternating,
 * each on a fresh copy of its database.
 */
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.ts';
import { copyDatabase, finishedTasksTemplate } from '../lib/finished-tasks-db.ts';
import { hubload, type Scenario, tasksPerSecond } from '../lib/measure.ts';
import { median, rowsLabel } from '../lib/numbers.ts';
import { notApplicable } from '../lib/v01-baseline.ts';

/** Within 20% of the empty table. */
const TARGET_PERCENT = 80;

async function run(ctx: BenchContext): Promise<void> {
  const finished = ctx.size(1_000_000, 100_000);
  const n = ctx.size(50_000, 5_000);
  const repeat = ctx.settings.repeat;
  const phase = { phase: 'leaseack', n, c: 8, batch: 10 } as const;

  ctx.log(`building a database with ${finished.toLocaleString('en-US')} done tasks`);
  const started = Date.now();
  const template = await finishedTasksTemplate(ctx.tempRoot, finished);
  ctx.log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const empty: number[] = [];
  const full: number[] = [];
  ctx.log(
    `our hub: ${repeat} x (empty table, then ${finished.toLocaleString('en-US')} done), ${n.toLocaleString('en-US')} tasks each`,
  );
  for (let i = 0; i < repeat; i++) {
    empty.push(await ctx.withHub({}, async (hub) => tasksPerSecond(await hubload(ctx, hub, phase))));
    const db = join(ctx.freshFolder(), 'hub.db');
    copyDatabase(template, db);
    full.push(await ctx.withHub({ db }, async (hub) => tasksPerSecond(await hubload(ctx, hub, phase))));
  }
  const emptyMedian = median(empty);
  const fullMedian = median(full);
  const rows = rowsLabel(finished);
  const v01 = notApplicable('slows as done rows pile up (no index; issue text, not same-run)');

  ctx.report({ label: 'lease+ack, empty table', value: emptyMedian, unit: 'tasks/s', better: 'higher' });
  ctx.report({ label: `lease+ack, ${rows} done rows`, value: fullMedian, unit: 'tasks/s', better: 'higher' });
  ctx.report({
    label: `${rows} done vs empty`,
    value: (100 * fullMedian) / emptyMedian,
    unit: '%',
    better: 'higher',
    target: { op: '>=', value: TARGET_PERCENT },
    baseline: v01,
    digits: 1,
  });
}

export const leaseAckFinishedScenario: Scenario = {
  name: 'lease-ack-1m',
  title: 'lease + ack with 1,000,000 done tasks in the table vs an empty table',
  needsHubload: true,
  run,
};

/**
 * Scenario 1: single enqueues, 8 connections with one call in flight each (hubload --phase
 * enqueue), with the default durability (survives kill -9) and with --fsync (survives power loss).
 */
import type { BenchContext } from '../lib/context.ts';
import { hubload, medianOf, type Scenario, tasksPerSecond } from '../lib/measure.ts';
import type { Baseline } from '../lib/report.ts';
import { recorded, V01_RECORDED } from '../lib/v01-baseline.ts';

const CONNECTIONS = 8;
const TARGET = 25_000;

async function run(ctx: BenchContext): Promise<void> {
  const n = ctx.size(100_000, 5_000);
  const repeat = ctx.settings.repeat;
  const measure = (args: string[], count: number) =>
    medianOf(repeat, () =>
      ctx.withHub({ args }, async (hub) =>
        tasksPerSecond(await hubload(ctx, hub, { phase: 'enqueue', n: count, c: CONNECTIONS })),
      ),
    );

  ctx.log(`our hub: ${repeat} x ${n.toLocaleString('en-US')} enqueues`);
  const ours = await measure([], n);
  const fsyncN = ctx.size(50_000, 2_000);
  ctx.log(`our hub --fsync: ${repeat} x ${fsyncN.toLocaleString('en-US')} enqueues`);
  const fsync = await measure(['--fsync'], fsyncN);

  let baseline: Baseline = recorded(V01_RECORDED.enqueue8);
  if (ctx.settings.v01Dir) {
    const v01N = ctx.size(15_000, 1_000);
    ctx.log(`v0.1 hub: ${repeat} x ${v01N.toLocaleString('en-US')} enqueues`);
    const v01 = await medianOf(repeat, () =>
      ctx.withV01Hub(async (hub) =>
        tasksPerSecond(await hubload(ctx, hub, { phase: 'enqueue', n: v01N, c: CONNECTIONS })),
      ),
    );
    baseline = { value: v01.median, sameRun: true };
  }

  ctx.report({
    label: 'enqueue 8 conns',
    value: ours.median,
    unit: 'tasks/s',
    better: 'higher',
    target: { op: '>=', value: TARGET },
    baseline,
  });
  ctx.report({
    label: 'enqueue 8 conns --fsync',
    value: fsync.median,
    unit: 'tasks/s',
    better: 'higher',
    // v0.1 runs SQLite in WAL with synchronous=FULL: it fsyncs every commit too.
    baseline,
    note: 'power-loss durability (one fsync per group commit); the issue sets no target, only asks for the figure',
  });
}

export const enqueueScenario: Scenario = {
  name: 'enqueue',
  title: 'enqueue, 8 connections, one call in flight each (default durability and --fsync)',
  needsHubload: true,
  run,
};

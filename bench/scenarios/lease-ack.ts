/**
 * Scenario 3: drain a prefilled queue with lease + ack (hubload --phase leaseack): 8 workers
 * leasing 10 at a time, and 1 worker leasing 1 at a time. Only the drain is timed.
 */
import type { BenchContext } from '../lib/context.ts';
import { hubload, medianOf, type Scenario, tasksPerSecond } from '../lib/measure.ts';
import { type Baseline, formatNumber } from '../lib/report.ts';
import { notApplicable, recorded, V01_RECORDED } from '../lib/v01-baseline.ts';

interface Shape {
  label: string;
  workers: number;
  batch: number;
  target: number;
  n: number;
  nQuick: number;
  v01N: number;
  v01NQuick: number;
  recorded: Baseline;
}

const SHAPES: Shape[] = [
  {
    label: 'lease+ack 8 workers x10',
    workers: 8,
    batch: 10,
    target: 20_000,
    n: 100_000,
    nQuick: 5_000,
    v01N: 10_000,
    v01NQuick: 1_000,
    recorded: recorded(V01_RECORDED.leaseAck8x10),
  },
  {
    label: 'lease+ack 1 worker x1',
    workers: 1,
    batch: 1,
    target: 5_000,
    n: 30_000,
    nQuick: 2_000,
    v01N: 4_000,
    v01NQuick: 500,
    recorded: notApplicable('n/a (the issue records no v0.1 figure; set MITTELO_BENCH_V01_DIR)'),
  },
];

async function run(ctx: BenchContext): Promise<void> {
  const repeat = ctx.settings.repeat;
  for (const shape of SHAPES) {
    const n = ctx.size(shape.n, shape.nQuick);
    const phase = { phase: 'leaseack', c: shape.workers, batch: shape.batch } as const;
    ctx.log(`our hub: ${shape.label}, ${repeat} x ${n.toLocaleString('en-US')} tasks`);
    const ours = await medianOf(repeat, () =>
      ctx.withHub({}, async (hub) => tasksPerSecond(await hubload(ctx, hub, { ...phase, n }))),
    );
    ctx.log(`no-op stub hub (the floor): ${shape.label}, ${repeat} x ${n.toLocaleString('en-US')} tasks`);
    const floor = await medianOf(repeat, () =>
      ctx.withStubHub(async (hub) => tasksPerSecond(await hubload(ctx, hub, { ...phase, n }))),
    );
    let baseline = shape.recorded;
    if (ctx.settings.v01Dir) {
      const v01N = ctx.size(shape.v01N, shape.v01NQuick);
      ctx.log(`v0.1 hub: ${shape.label}, ${repeat} x ${v01N.toLocaleString('en-US')} tasks`);
      const v01 = await medianOf(repeat, () =>
        ctx.withV01Hub(async (hub) => tasksPerSecond(await hubload(ctx, hub, { ...phase, n: v01N }))),
      );
      baseline = { value: v01.median, sameRun: true };
    }
    ctx.report({
      label: shape.label,
      value: ours.median,
      unit: 'tasks/s',
      better: 'higher',
      target: { op: '>=', value: shape.target },
      baseline,
      note: `floor on this machine (hubload vs a no-op in-memory stub hub): ${formatNumber(floor.median, 0)} tasks/s; the hub is at ${formatNumber((100 * ours.median) / floor.median, 0)}% of it`,
    });
  }
}

export const leaseAckScenario: Scenario = {
  name: 'lease-ack',
  title: 'lease + ack throughput: 8 workers batch 10, and 1 worker batch 1',
  needsHubload: true,
  run,
};

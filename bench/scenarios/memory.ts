/**
 * Scenario 5: memory. (a) hubload's protocol-abuse probe, which ends with two 50 MiB lines: the
 * hub must refuse them without its resident memory growing; growth is the peak RSS during the
 * probe (VmHWM, reset just before) minus the RSS before it. (b) RSS of a hub whose table holds
 * 1,000,000 tasks, after a lease + ack round: run from src/ as everywhere in the bench, and run
 * compiled, as installed (type stripping at start costs resident memory of its own).
 */

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compiledHub } from '../lib/compiled-hub.ts';
import type { BenchContext } from '../lib/context.ts';
import { copyDatabase, finishedTasksTemplate } from '../lib/finished-tasks-db.ts';
import type { BenchHub } from '../lib/hub-process.ts';
import { hubload, type Scenario } from '../lib/measure.ts';
import { round, rowsLabel } from '../lib/numbers.ts';
import { MB, peakRssBytes, resetPeakRss, rssBytes } from '../lib/proc-stats.ts';
import type { Baseline } from '../lib/report.ts';
import { notApplicable, recorded, V01_RECORDED } from '../lib/v01-baseline.ts';

interface ProbeMemory {
  beforeMb: number;
  afterMb: number;
  peakMb: number;
  /** Peak during the probe minus before: the figure. */
  growthMb: number;
  afterGrowthMb: number;
  peakIsExact: boolean;
  refused: boolean;
}

/** Run the probe and watch the hub's memory. */
async function probeMemory(ctx: BenchContext, hub: BenchHub): Promise<ProbeMemory> {
  await sleep(500); // let start-up allocations settle
  const before = rssBytes(hub.pid);
  const peakIsExact = resetPeakRss(hub.pid);
  const result = await hubload(ctx, hub, { phase: 'probe', timeoutS: 300 });
  const after = rssBytes(hub.pid);
  // Without a reset, VmHWM may be a start-up peak: then only the after-figure is meaningful.
  const peak = peakIsExact ? peakRssBytes(hub.pid) : after;
  const results = (result.results ?? {}) as Record<string, { reply?: string; hub_alive_after?: boolean }>;
  const big = [results.line_50MB_valid_enqueue, results.line_50MB_garbage];
  // Refused means an error answer with code too_large (a success answer also has an "error" key).
  const refused = big.every(
    (probe) => probe?.hub_alive_after === true && (probe.reply ?? '').includes('"too_large"'),
  );
  const memory = {
    beforeMb: round(before / MB, 1),
    afterMb: round(after / MB, 1),
    peakMb: round(peak / MB, 1),
    growthMb: round((peak - before) / MB, 2),
    afterGrowthMb: round((after - before) / MB, 2),
    peakIsExact,
    refused,
  };
  ctx.keep({ hub: hub.kind, probe_memory: memory });
  return memory;
}

async function run(ctx: BenchContext): Promise<void> {
  ctx.log('our hub: hubload probe (ends with two 50 MiB lines)');
  const ours = await ctx.withHub({}, (hub) => probeMemory(ctx, hub));
  let baseline: Baseline = recorded(V01_RECORDED.probeRssGrowthMb);
  let v01After = '';
  if (ctx.settings.v01Dir) {
    ctx.log('v0.1 hub: hubload probe');
    const v01 = await ctx.withV01Hub((hub) => probeMemory(ctx, hub));
    baseline = { value: v01.growthMb, sameRun: true };
    v01After = `, v0.1 ${v01.afterGrowthMb >= 0 ? '+' : ''}${v01.afterGrowthMb} MB`;
  }
  const notes = [
    `${ours.peakIsExact ? 'peak during the probe' : 'after the probe (peak RSS could not be reset)'}; RSS ${ours.beforeMb} -> ${ours.afterMb} MB after (${ours.afterGrowthMb >= 0 ? '+' : ''}${ours.afterGrowthMb} MB${v01After})`,
  ];
  if (!ours.refused) notes.push('WARNING: a 50 MiB line was not refused with an error, or the hub died');
  ctx.report({
    label: 'RSS growth, 50 MiB lines',
    value: ours.growthMb,
    unit: 'MB',
    better: 'lower',
    target: { op: '<', value: 10 },
    baseline,
    note: notes.join('; '),
  });

  const stored = ctx.size(1_000_000, 100_000);
  const n = ctx.size(20_000, 2_000);
  const rows = rowsLabel(stored);
  const template = await finishedTasksTemplate(ctx.tempRoot, stored);
  /** RSS after a lease+ack round on a fresh copy of the database with `stored` done tasks. */
  const storedTasksRss = (entry: string | undefined) => {
    const db = join(ctx.freshFolder(), 'hub.db');
    copyDatabase(template, db);
    return ctx.withHub({ db, entry }, async (hub) => {
      await hubload(ctx, hub, { phase: 'leaseack', n, c: 8, batch: 10 });
      const memory = {
        rssMb: round(rssBytes(hub.pid) / MB, 1),
        peakMb: round(peakRssBytes(hub.pid) / MB, 1),
      };
      ctx.keep({ hub: hub.kind, entry: entry ?? 'src', stored_tasks: stored + n, ...memory });
      return memory;
    });
  };
  const round2 = `after a lease+ack round of ${n.toLocaleString('en-US')}`;

  ctx.log(
    `our hub (src/, type-stripped) on ${stored.toLocaleString('en-US')} done tasks: lease+ack of ${n.toLocaleString('en-US')} more`,
  );
  const fromSource = await storedTasksRss(undefined);
  ctx.report({
    label: `RSS, ${rows} stored tasks`,
    value: fromSource.rssMb,
    unit: 'MB',
    better: 'lower',
    target: { op: '<=', value: 150 },
    baseline: notApplicable('n/a (not measured for v0.1)'),
    digits: 1,
    note: `node src/cli/main.ts (Node strips the types at start); ${round2}; peak since start ${fromSource.peakMb} MB`,
  });

  ctx.log('compiling src/ with tsc, to measure the hub as installed');
  const compiled = await compiledHub(ctx.tempRoot);
  if (!compiled.entry) {
    process.stdout.write(`(no compiled-hub figure: ${compiled.problem})\n`);
    return;
  }
  const fromBuild = await storedTasksRss(compiled.entry);
  ctx.report({
    label: `RSS, ${rows} stored, compiled`,
    value: fromBuild.rssMb,
    unit: 'MB',
    better: 'lower',
    target: { op: '<=', value: 150 },
    baseline: notApplicable('n/a (not measured for v0.1)'),
    digits: 1,
    note: `the same, run as installed (tsc output, as in dist/); ${round2}; peak since start ${fromBuild.peakMb} MB${compiled.problem ? `; ${compiled.problem}` : ''}`,
  });
}

export const memoryScenario: Scenario = {
  name: 'memory',
  title: 'hub RSS: growth during the 50 MiB-line probe, and with 1,000,000 stored tasks',
  needsHubload: true,
  run,
};

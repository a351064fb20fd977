/**
 * Caps on leasing (issue 13): lease + ack throughput of 8 workers of one backend, leasing 1 at a
 * time, on a hub with no cap, with a cap too large to bind (1000), and with a cap equal to the
 * workers (8: full whenever every worker holds its task, so every lease counts against it).
 * Each worker is a HubClient on its own connection in this process, the same for all three, so
 * the ratios show what the cap costs the hub. Target: a capped run within 10% of no cap.
 */
import { drainOneAtATime, prefillTasks } from '../lib/client-drain.ts';
import type { BenchContext } from '../lib/context.ts';
import type { BenchHub } from '../lib/hub-process.ts';
import type { Scenario } from '../lib/measure.ts';
import { median } from '../lib/numbers.ts';
import { formatNumber } from '../lib/report.ts';

const WORKERS = 8;
const BACKEND = 'echo';

/** Prefill `n` tasks of the backend, then time the workers draining them. */
async function drain(hub: BenchHub, n: number): Promise<number> {
  await prefillTasks(hub, n, BACKEND);
  return drainOneAtATime(hub, n, { workers: WORKERS, backend: BACKEND });
}

async function run(ctx: BenchContext): Promise<void> {
  const n = ctx.size(20_000, 3_000);
  const repeat = ctx.settings.repeat;
  const shapes = [
    { label: 'no cap', args: [] as string[] },
    { label: 'cap 1000 (not binding)', args: ['--limit', `${BACKEND}=1000`] },
    { label: `cap ${WORKERS} (= the workers)`, args: ['--limit', `${BACKEND}=${WORKERS}`] },
  ];
  // Round by round, every shape once per round: a machine that slows down mid-run (other work on
  // it) slows all three alike instead of the last one measured.
  const samples: number[][] = shapes.map(() => []);
  for (let round = 0; round < repeat; round += 1) {
    for (const [index, shape] of shapes.entries()) {
      ctx.log(
        `round ${round + 1}/${repeat}: lease+ack ${WORKERS} workers x1, ${shape.label}, ${n.toLocaleString('en-US')} tasks`,
      );
      samples[index]!.push(await ctx.withHub({ args: shape.args }, (hub) => drain(hub, n)));
    }
  }
  const rates = samples.map(median);
  for (const [index, shape] of shapes.entries()) {
    ctx.report({
      label: `lease+ack ${WORKERS} workers x1, ${shape.label}`,
      value: rates[index]!,
      unit: 'tasks/s',
      better: 'higher',
    });
  }
  for (const [index, shape] of shapes.entries()) {
    if (index === 0) continue;
    ctx.report({
      label: `${shape.label}, % of no cap`,
      value: (100 * rates[index]!) / rates[0]!,
      unit: '%',
      better: 'higher',
      target: { op: '>=', value: 90 },
      note: `${formatNumber(rates[index]!, 0)} vs ${formatNumber(rates[0]!, 0)} tasks/s (medians of ${repeat})`,
    });
  }
}

export const leaseAckCapsScenario: Scenario = {
  name: 'lease-ack-caps',
  title: 'lease + ack throughput with a cap on the backend (1000, and = the workers) against no cap',
  needsHubload: false,
  run,
};

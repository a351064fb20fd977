/**
 * Scenario: our hub against BullMQ on Redis, in the same run and the same shapes (issue 17):
 * enqueue / add from 8 callers one call in flight each (at 10,000 and 100,000 tasks); one worker
 * process draining no-op tasks at concurrency 1 and 8 (ours: `mittelo agent --backend echo
 * --max-tasks 1|8`; both sides from the first bulk add / enqueue_many to all done); strict
 * one-at-a-time lease and ack (hubload 1 x 1) against BullMQ's concurrency-1 worker; and an idle
 * worker's add-to-completion latency as the producer sees it, p50 and p99. Each target is the
 * issue's ratio to BullMQ's figure of this run. Without redis-server (or npm to fetch BullMQ) our
 * figures are still measured and BullMQ's say "not measured" and why.
 */
import { measureOurDrain } from '../lib/agents.ts';
import { type BullmqFigures, bullmqUnavailable, measureBullmq } from '../lib/bullmq-baseline.ts';
import type { BenchContext } from '../lib/context.ts';
import { hubload, medianOf, type Scenario, tasksPerSecond } from '../lib/measure.ts';
import { percentile } from '../lib/numbers.ts';
import { BULLMQ_PACKAGES } from '../lib/peer-packages.ts';
import type { Figure, PeerValue, Target } from '../lib/report.ts';
import { measureOurLatency } from './agent-latency.ts';

const CALLERS = 8;
const CONCURRENCIES = [1, 8] as const;
const DRAIN_CHUNK = 5_000;
const DRAIN_TIMEOUT_MS = 300_000;
const WARM_UP = 20;
/** Issue 17's targets, as ratios to BullMQ's figure of the same run. */
const RATIO = { enqueue: 2, drain: 2, strict: 1.5 } as const;

type Measured = Omit<Figure, 'scenario' | 'peer' | 'target'>;

function report(
  ctx: BenchContext,
  figure: Measured,
  peer: PeerValue,
  target?: (value: number) => Target,
): void {
  ctx.report({
    ...figure,
    peer,
    ...(peer.value !== null && target ? { target: target(peer.value) } : {}),
  });
}

async function run(ctx: BenchContext): Promise<void> {
  const repeat = ctx.settings.repeat;
  const enqueueSizes = [ctx.size(10_000, 2_000), ctx.size(100_000, 5_000)];
  const drainN = ctx.size(10_000, 2_000);
  const latencyN = ctx.size(300, 100);

  // BullMQ first, on a quiet machine: its figures set this run's targets.
  const why = await bullmqUnavailable();
  const bullmq = new Map<number, number>();
  let figures: BullmqFigures | null = null;
  if (why) ctx.log(`BullMQ not measured: ${why}`);
  else {
    for (const n of enqueueSizes) {
      const measured = await measureBullmq(ctx, {
        add: { n, callers: CALLERS },
        // The drains and latency once, with the first size.
        drain: { n: drainN, concurrencies: n === enqueueSizes[0] ? [...CONCURRENCIES] : [] },
        latency: { n: n === enqueueSizes[0] ? latencyN : 0, warmUp: n === enqueueSizes[0] ? WARM_UP : 0 },
      });
      bullmq.set(n, measured.addPerS);
      if (n === enqueueSizes[0]) figures = measured;
    }
  }
  const peer = (value: number | undefined): PeerValue =>
    value === undefined
      ? { name: 'BullMQ', value: null, text: `not measured (${why ?? 'no figure'})` }
      : { name: 'BullMQ', value };

  for (const n of enqueueSizes) {
    ctx.log(`our hub: ${repeat} x ${n.toLocaleString('en-US')} enqueues, ${CALLERS} connections`);
    const ours = await medianOf(repeat, () =>
      ctx.withHub({}, async (hub) =>
        tasksPerSecond(await hubload(ctx, hub, { phase: 'enqueue', n, c: CALLERS })),
      ),
    );
    report(
      ctx,
      {
        label: `enqueue 8 conns, ${n.toLocaleString('en-US')}`,
        value: ours.median,
        unit: 'tasks/s',
        better: 'higher',
      },
      peer(bullmq.get(n)),
      (value) => ({ op: '>=', value: RATIO.enqueue * value }),
    );
  }

  for (const concurrency of CONCURRENCIES) {
    ctx.log(
      `our hub + one mittelo agent --max-tasks ${concurrency}: ${repeat} x ${drainN.toLocaleString('en-US')} tasks`,
    );
    const ours = await medianOf(repeat, () =>
      measureOurDrain(ctx, {
        label: `agent echo --max-tasks ${concurrency}`,
        args: ['agent', '--backend', 'echo', '--max-tasks', String(concurrency)],
        agents: 1,
        total: drainN,
        chunk: DRAIN_CHUNK,
        prefix: `drain-${concurrency}`,
        timeoutMs: DRAIN_TIMEOUT_MS,
      }),
    );
    report(
      ctx,
      {
        label: `1 agent process drain, c${concurrency}`,
        value: ours.median,
        unit: 'tasks/s',
        better: 'higher',
        note: `${drainN.toLocaleString('en-US')} no-op tasks; both sides from the first bulk add (${DRAIN_CHUNK.toLocaleString('en-US')} a call) to all done; BullMQ: one Worker at concurrency ${concurrency}`,
      },
      peer(figures?.drainPerS.get(concurrency)),
      (value) => ({ op: '>=', value: RATIO.drain * value }),
    );
  }

  ctx.log(`our hub: strict lease+ack 1 x 1, ${repeat} x ${drainN.toLocaleString('en-US')} tasks`);
  const strict = await medianOf(repeat, () =>
    ctx.withHub({}, async (hub) =>
      tasksPerSecond(await hubload(ctx, hub, { phase: 'leaseack', c: 1, batch: 1, n: drainN })),
    ),
  );
  report(
    ctx,
    {
      label: 'lease+ack strict 1 x 1',
      value: strict.median,
      unit: 'tasks/s',
      better: 'higher',
      note: "hubload leaseack, one worker leasing one at a time; BullMQ: its concurrency-1 worker's drain",
    },
    peer(figures?.drainPerS.get(1)),
    (value) => ({ op: '>=', value: RATIO.strict * value }),
  );

  const latency = await measureOurLatency(ctx, latencyN);
  for (const [q, name] of [
    [0.5, 'p50'],
    [0.99, 'p99'],
  ] as const) {
    report(
      ctx,
      {
        label: `idle add to done ${name}`,
        value: percentile(latency.latencies, q),
        unit: 'ms',
        better: 'lower',
        digits: 2,
        ...(name === 'p99'
          ? {
              note: `${latency.latencies.length} tasks one at a time; ours: enqueue then wait, one idle echo agent process; BullMQ ${BULLMQ_PACKAGES.bullmq}: add then waitUntilFinished, one idle worker process${figures ? ` (${figures.description})` : ''}`,
            }
          : {}),
      },
      peer(figures && figures.latenciesMs.length > 0 ? percentile(figures.latenciesMs, q) : undefined),
      (value) => ({ op: '<', value }),
    );
  }
}

export const bullmqScenario: Scenario = {
  name: 'bullmq',
  title:
    'our hub against BullMQ on Redis in the same run: enqueue, one agent draining at c1/c8, strict lease+ack, idle latency',
  needsHubload: true,
  run,
};

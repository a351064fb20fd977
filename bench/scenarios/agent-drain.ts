/**
 * Scenario 8: `mittelo swarm --agent echo=4` (four agents in one process) drains 20,000 tasks from
 * a fresh hub. The tasks are enqueued only once the four agents are connected (enqueue_many,
 * 5,000 a call), and the clock runs from the first enqueue until `wait` says every task is done.
 * The v0.1 baseline: its hub with four v0.1 echo agent processes draining a prefilled queue,
 * counted with `stats` every 50 ms.
 */
import { measureOurDrain, measureV01Drain } from '../lib/agents.ts';
import type { BenchContext } from '../lib/context.ts';
import { medianOf, type Scenario } from '../lib/measure.ts';
import { type Baseline, formatNumber } from '../lib/report.ts';
import { notApplicable } from '../lib/v01-baseline.ts';

const AGENTS = 4;
const CHUNK = 5_000;
const TARGET = 10_000;
const DRAIN_TIMEOUT_MS = 300_000;
const V01_POLL_MS = 50;

function measureOurs(ctx: BenchContext, total: number): Promise<number> {
  return measureOurDrain(ctx, {
    label: `swarm echo=${AGENTS}`,
    args: ['swarm', '--agent', `echo=${AGENTS}`],
    agents: AGENTS,
    total,
    chunk: CHUNK,
    prefix: 'drain',
    timeoutMs: DRAIN_TIMEOUT_MS,
    check: async (client) => {
      const stats = await client.stats();
      if (stats.done !== total) throw new Error(`expected ${total} done, stats say ${JSON.stringify(stats)}`);
      return { per_agent_done: (await client.agents()).map((agent) => agent.tasks_done) };
    },
  });
}

/** v0.1: prefill, then start four v0.1 echo agents; the rate after the first ack seen. */
function measureV01(ctx: BenchContext, total: number): Promise<number> {
  return measureV01Drain(ctx, {
    total,
    prefix: 'drain',
    agents: AGENTS,
    agentArgs: ['--backend', 'echo'],
    pollMs: V01_POLL_MS,
    timeoutMs: DRAIN_TIMEOUT_MS,
  });
}

async function run(ctx: BenchContext): Promise<void> {
  const total = ctx.size(20_000, 5_000);
  const repeat = ctx.settings.repeat;
  ctx.log(
    `our hub + mittelo swarm --agent echo=${AGENTS}: ${repeat} x ${total.toLocaleString('en-US')} tasks`,
  );
  const ours = await medianOf(repeat, () => measureOurs(ctx, total));

  let baseline: Baseline = notApplicable('not measured (MITTELO_BENCH_V01_DIR is not set)');
  if (ctx.settings.v01Dir) {
    const v01Total = ctx.size(2_000, 500);
    ctx.log(`v0.1 hub + ${AGENTS} v0.1 echo agents: ${repeat} x ${v01Total.toLocaleString('en-US')} tasks`);
    const v01 = await medianOf(repeat, () => measureV01(ctx, v01Total));
    baseline = {
      value: v01.median,
      sameRun: true,
      text: `same run, ${v01Total.toLocaleString('en-US')} tasks`,
    };
  }
  ctx.report({
    label: `swarm echo=${AGENTS} drain`,
    value: ours.median,
    unit: 'tasks/s',
    better: 'higher',
    target: { op: '>=', value: TARGET },
    baseline,
    note: `${total.toLocaleString('en-US')} tasks, from the first enqueue_many (${CHUNK.toLocaleString('en-US')} a call) to wait saying all done; runs ${ours.values.map((v) => formatNumber(v, 0)).join(', ')}${ctx.settings.v01Dir ? `; v0.1: prefilled queue, rate after its agents' first ack (their start-up and 1 s polling left out), stats every ${V01_POLL_MS} ms` : ''}`,
  });
}

export const agentDrainScenario: Scenario = {
  name: 'agent-drain',
  title: 'mittelo swarm --agent echo=4 drains 20,000 tasks: tasks/s from the first enqueue to all done',
  needsHubload: false,
  run,
};

/**
 * Scenario 2: one `enqueue_many` call with 10,000 tasks, timed from sending the call to the
 * answer (all ids back), through the project's own HubClient. One untimed call first, so the
 * figure is the warmed-up hub's, as in a hub that has been running for a while.
 */
import { HubClient } from '../../src/client/hub-client.ts';
import type { BenchContext } from '../lib/context.ts';
import { monotonicMicros } from '../lib/cpu-profile.ts';
import { medianOf, type Scenario } from '../lib/measure.ts';
import { round } from '../lib/numbers.ts';
import { NO_V1_METHODS, notApplicable } from '../lib/v01-baseline.ts';

const TASKS_PER_CALL = 10_000;
const TARGET = 100_000;

async function run(ctx: BenchContext): Promise<void> {
  const calls = ctx.size(7, 2);
  ctx.log(
    `our hub: 1 warm-up + ${calls} enqueue_many calls of ${TASKS_PER_CALL.toLocaleString('en-US')} tasks`,
  );
  const result = await ctx.withHub({}, async (hub) => {
    const client = new HubClient({ host: hub.host, port: hub.port, reconnect: false });
    try {
      await client.connect();
      let call = 0;
      const once = async () => {
        call += 1;
        const tasks = Array.from({ length: TASKS_PER_CALL }, (_, i) => ({ prompt: `many-${call}-${i}` }));
        const started = performance.now();
        const ids = await client.enqueueMany(tasks);
        const seconds = (performance.now() - started) / 1000;
        if (ids.length !== TASKS_PER_CALL || new Set(ids).size !== TASKS_PER_CALL) {
          throw new Error(`enqueue_many answered ${ids.length} ids (${new Set(ids).size} distinct)`);
        }
        ctx.keep({ call, tasks: TASKS_PER_CALL, seconds: round(seconds, 4) });
        return TASKS_PER_CALL / seconds;
      };
      await once();
      const started = monotonicMicros();
      const measured = await medianOf(calls, once);
      hub.timed.push([started, monotonicMicros()]);
      const stats = await client.stats();
      if (stats.queued !== TASKS_PER_CALL * (calls + 1)) {
        throw new Error(`expected ${TASKS_PER_CALL * (calls + 1)} queued tasks, stats say ${stats.queued}`);
      }
      return measured;
    } finally {
      client.close();
    }
  });

  ctx.report({
    label: 'enqueue_many 10,000',
    value: result.median,
    unit: 'tasks/s',
    better: 'higher',
    target: { op: '>=', value: TARGET },
    baseline: notApplicable(NO_V1_METHODS),
  });
}

export const enqueueManyScenario: Scenario = {
  name: 'enqueue-many',
  title: 'one enqueue_many call of 10,000 tasks (HubClient), median of several calls',
  needsHubload: false,
  run,
};

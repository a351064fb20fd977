/**
 * Scenario 7: one idle echo agent (`mittelo agent --backend echo`, its own process) on a fresh
 * hub; tasks one at a time, each timed from sending its `enqueue` to the answer of a `wait` on it
 * that says done: what a user sees between handing a task over and having its result. The v0.1
 * baseline is its hub with one v0.1 echo agent, which polls every second when idle and has no
 * `wait`: the bench polls `list` every 10 ms instead.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HubClient } from '../../src/client/hub-client.ts';
import {
  type BenchProcess,
  startMitteloAgents,
  startV01Agent,
  stopAll,
  until,
  untilAgentsConnected,
} from '../lib/agents.ts';
import type { BenchContext } from '../lib/context.ts';
import { monotonicMicros } from '../lib/cpu-profile.ts';
import type { Scenario } from '../lib/measure.ts';
import { percentile, round } from '../lib/numbers.ts';
import type { Baseline } from '../lib/report.ts';
import { notApplicable } from '../lib/v01-baseline.ts';

const WARM_UP = 20;
const DONE_TIMEOUT_MS = 5_000;
const V01_TASKS = 10;
const V01_POLL_MS = 10;
const V01_DONE_TIMEOUT_MS = 10_000;
/** v0.1's idle agent sleeps 1 s between polls: a pause drawn from [0, 1 s) samples every phase of it. */
const V01_PAUSE_MS = 1_000;

/** Enqueue-to-done latency of `count` tasks (after WARM_UP more), one at a time, on our hub (also the BullMQ scenario's). */
export async function measureOurLatency(
  ctx: BenchContext,
  count: number,
): Promise<{ latencies: number[]; max: number }> {
  return ctx.withHub({}, async (hub) => {
    const client = new HubClient({ host: hub.host, port: hub.port, reconnect: false });
    const processes: BenchProcess[] = [];
    try {
      await client.connect();
      processes.push(await startMitteloAgents(ctx, hub, 'agent echo', ['agent', '--backend', 'echo']));
      await untilAgentsConnected(client, 1, processes);
      await sleep(500); // its first long-poll lease is parked on the hub by now
      ctx.log(`our hub, one echo agent process: ${WARM_UP} warm-up + ${count} tasks, one at a time`);
      const latencies: number[] = [];
      const timedFrom = monotonicMicros();
      for (let k = 0; k < WARM_UP + count; k++) {
        const sent = performance.now();
        const id = await client.enqueue(`latency-${k}`);
        const answer = await client.wait([id], { timeout_ms: DONE_TIMEOUT_MS });
        const at = performance.now();
        const task = answer.tasks[0];
        if (answer.timed_out || task?.status !== 'done') {
          throw new Error(
            `task ${id} not done within ${DONE_TIMEOUT_MS} ms: ${JSON.stringify(task ?? answer).slice(0, 300)}`,
          );
        }
        if (task.result !== `echo:latency-${k}`) throw new Error(`task ${id} answered ${task.result}`);
        if (k >= WARM_UP) latencies.push(at - sent);
        // A short, varied pause, as in idle-agents: the agent parks its next lease meanwhile.
        await sleep(2 + Math.random() * 8);
      }
      hub.timed.push([timedFrom, monotonicMicros()]);
      return { latencies, max: Math.max(...latencies) };
    } finally {
      client.close();
      await stopAll(ctx, processes);
    }
  });
}

/** The same with v0.1: its hub, one v0.1 echo agent, `list` polled for the task's completion. */
async function measureV01(ctx: BenchContext): Promise<number[]> {
  return ctx.withV01Hub(async (hub) => {
    const client = new HubClient({ host: hub.host, port: hub.port, reconnect: false });
    const processes: BenchProcess[] = [];
    try {
      await client.connect();
      processes.push(startV01Agent(ctx, hub, ['--backend', 'echo']));
      // One warm-up task: done once the agent is up and polling.
      const warm = await client.enqueue('latency-warm-up');
      await until(async () => await isDone(client, warm), 'the v0.1 agent to start', 30_000, {
        intervalMs: 50,
      });
      ctx.log(`v0.1 hub, one v0.1 echo agent: ${V01_TASKS} tasks, one at a time, list polled every 10 ms`);
      const latencies: number[] = [];
      for (let k = 0; k < V01_TASKS; k++) {
        await sleep(Math.random() * V01_PAUSE_MS);
        const sent = performance.now();
        const id = await client.enqueue(`latency-${k}`);
        await until(() => isDone(client, id), `v0.1 task ${id} to be done`, V01_DONE_TIMEOUT_MS, {
          intervalMs: V01_POLL_MS,
        });
        latencies.push(performance.now() - sent);
      }
      return latencies;
    } finally {
      client.close();
      await stopAll(ctx, processes);
    }
  });
}

/** Tasks finish in order, one at a time: the newest done task is this one once it is done. */
async function isDone(client: HubClient, id: number): Promise<boolean> {
  const { tasks } = await client.list({ status: 'done', limit: 1 });
  return (tasks[0]?.task_id ?? 0) >= id;
}

async function run(ctx: BenchContext): Promise<void> {
  const count = ctx.size(300, 200);
  const ours = await measureOurLatency(ctx, count);
  const p50 = percentile(ours.latencies, 0.5);
  const p99 = percentile(ours.latencies, 0.99);

  let v01: number[] | null = null;
  if (ctx.settings.v01Dir) v01 = await measureV01(ctx);
  const baseline = (q: number): Baseline =>
    v01
      ? { value: percentile(v01, q), sameRun: true, text: `same run, ${v01.length} tasks` }
      : notApplicable('not measured (MITTELO_BENCH_V01_DIR is not set)');

  ctx.keep({
    tasks: ours.latencies.length,
    p50_ms: round(p50, 3),
    p99_ms: round(p99, 3),
    max_ms: round(ours.max, 3),
    v01_latencies_ms: v01?.map((ms) => round(ms, 1)) ?? null,
  });
  ctx.report({
    label: 'enqueue to done, 1 agent p50',
    value: p50,
    unit: 'ms',
    better: 'lower',
    target: { op: '<=', value: 2 },
    baseline: baseline(0.5),
    digits: 2,
  });
  ctx.report({
    label: 'enqueue to done, 1 agent p99',
    value: p99,
    unit: 'ms',
    better: 'lower',
    target: { op: '<=', value: 10 },
    baseline: baseline(0.99),
    digits: 2,
    note: `${ours.latencies.length} tasks one at a time (enqueue, then wait until done), one idle echo agent process; max ${round(ours.max, 2)} ms${v01 ? '; v0.1: its idle agent polls every 1 s, and the bench polls list every 10 ms' : ''}`,
  });
}

export const agentLatencyScenario: Scenario = {
  name: 'agent-latency',
  title: 'one idle echo agent process: enqueue-to-done latency, tasks one at a time',
  needsHubload: false,
  run,
};

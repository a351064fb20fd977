/**
 * Scenario 10: the one-command job. Wall time of `mittelo run <pack> --agent echo=2 --out <file>
 * --db <file>` on a 10,000-line pack, as a child process, from spawning it to its exit (embedded
 * hub, two echo agents, the pack enqueued, every result written); median of the repetitions. The
 * pack is examples/stress.jsonl when it exists, else one written for the run. v0.1 has no such
 * command: its hub with two v0.1 echo agents runs 500 tasks, and that is extrapolated to 10,000.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HubClient } from '../../src/client/hub-client.ts';
import {
  type BenchProcess,
  drainRate,
  enqueueOneByOne,
  mitteloCli,
  prompts,
  startMittelo,
  startV01Agent,
  stopAll,
  watchDone,
  writePack,
} from '../lib/agents.ts';
import type { BenchContext } from '../lib/context.ts';
import { REPO_ROOT } from '../lib/hub-process.ts';
import { medianOf, type Scenario } from '../lib/measure.ts';
import { round } from '../lib/numbers.ts';
import { type Baseline, formatNumber } from '../lib/report.ts';
import { notApplicable } from '../lib/v01-baseline.ts';

const PACK_TASKS = 10_000;
const AGENTS = 2;
const TARGET_S = 5;
const RUN_TIMEOUT_MS = 300_000;
const V01_TASKS = 500;
const V01_POLL_MS = 50;

function countLines(path: string): number {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim()).length;
}

/** The pack: examples/stress.jsonl when the repository has it, else a generated one. */
function pack(ctx: BenchContext): { path: string; tasks: number; source: string } {
  const stress = join(REPO_ROOT, 'examples', 'stress.jsonl');
  if (existsSync(stress)) return { path: stress, tasks: countLines(stress), source: 'examples/stress.jsonl' };
  const path = writePack(join(ctx.freshFolder(), 'pack.jsonl'), PACK_TASKS);
  return { path, tasks: PACK_TASKS, source: `a generated ${PACK_TASKS.toLocaleString('en-US')}-line pack` };
}

/** One `mittelo run`, spawn to exit, in seconds. */
async function runOnce(ctx: BenchContext, packPath: string, tasks: number): Promise<number> {
  const folder = ctx.freshFolder();
  const out = join(folder, 'results.jsonl');
  const args = ['run', packPath, '--agent', `echo=${AGENTS}`, '--out', out, '--db', join(folder, 'hub.db')];
  const started = performance.now();
  const child = await startMittelo(ctx, `run --agent echo=${AGENTS}`, args, folder);
  const timer = setTimeout(() => void child.stop(), RUN_TIMEOUT_MS);
  const how = await child.exited;
  const seconds = (performance.now() - started) / 1000;
  clearTimeout(timer);
  if (how.code !== 0) {
    throw new Error(
      `mittelo run exited with code ${how.code} (signal ${how.signal}) after ${seconds.toFixed(1)} s; stderr: ${child.stderr().trim().slice(-800)}; stdout: ${child.stdout().trim().slice(-400)}`,
    );
  }
  const results = countLines(out);
  if (results !== tasks) throw new Error(`mittelo run wrote ${results} results for ${tasks} tasks`);
  ctx.keep({ tasks, seconds: round(seconds, 3), summary: child.stdout().trim().slice(-600) });
  return seconds;
}

interface V01Estimate {
  /** Measured: from launching its hub to all V01_TASKS done. */
  measuredS: number;
  /** Launch to the first task seen done: start-up, agents starting, their first poll. */
  fixedS: number;
  rate: number;
  extrapolatedS: number;
}

/**
 * v0.1: launch its hub, start two echo agents, enqueue V01_TASKS one by one (as its `enqueue
 * --jsonl` does), count done with `stats`. Extrapolated linearly: the fixed part (launch to the
 * first task done) plus `tasks` at the measured drain rate.
 */
async function measureV01(ctx: BenchContext, tasks: number): Promise<V01Estimate> {
  const launched = performance.now();
  return ctx.withV01Hub(async (hub) => {
    const client = new HubClient({ host: hub.host, port: hub.port, reconnect: false });
    const processes: BenchProcess[] = [];
    try {
      for (let i = 0; i < AGENTS; i++) processes.push(startV01Agent(ctx, hub, ['--backend', 'echo']));
      await client.connect();
      await enqueueOneByOne(client, prompts(V01_TASKS));
      const watch = await watchDone(client, V01_TASKS, {
        intervalMs: V01_POLL_MS,
        timeoutMs: RUN_TIMEOUT_MS,
        processes,
      });
      const rate = drainRate(watch, V01_TASKS);
      const fixedS = (watch.firstAt - launched) / 1000;
      const estimate = {
        measuredS: (watch.endAt - launched) / 1000,
        fixedS,
        rate,
        extrapolatedS: fixedS + (tasks - watch.firstDone) / rate,
      };
      ctx.keep({
        hub: hub.kind,
        tasks: V01_TASKS,
        measured_s: round(estimate.measuredS, 3),
        fixed_s: round(fixedS, 3),
        tasks_per_s: round(rate, 1),
        extrapolated_to: tasks,
        extrapolated_s: round(estimate.extrapolatedS, 2),
      });
      return estimate;
    } finally {
      client.close();
      await stopAll(ctx, processes);
    }
  });
}

async function run(ctx: BenchContext): Promise<void> {
  const repeat = ctx.settings.repeat;
  const { path, tasks, source } = pack(ctx);
  await mitteloCli(ctx); // compile before the clock runs
  ctx.log(
    `mittelo run, ${source} (${tasks.toLocaleString('en-US')} tasks), --agent echo=${AGENTS}: ${repeat} runs`,
  );
  const ours = await medianOf(repeat, () => runOnce(ctx, path, tasks));

  let baseline: Baseline = notApplicable('not measured (MITTELO_BENCH_V01_DIR is not set)');
  let v01Note = '';
  if (ctx.settings.v01Dir) {
    ctx.log(
      `v0.1 hub + ${AGENTS} v0.1 echo agents: ${V01_TASKS} tasks, extrapolated to ${tasks.toLocaleString('en-US')}`,
    );
    const v01 = await measureV01(ctx, tasks);
    baseline = notApplicable(
      `~${formatNumber(v01.extrapolatedS, 0)} s EXTRAPOLATED from ${V01_TASKS} tasks (same run)`,
    );
    v01Note = `; v0.1 (no run command): hub + ${AGENTS} agents did ${V01_TASKS} tasks in ${formatNumber(v01.measuredS, 1)} s from launch (${formatNumber(v01.fixedS, 1)} s to the first done, then ${formatNumber(v01.rate, 0)} tasks/s); extrapolated linearly to ${tasks.toLocaleString('en-US')}: ${formatNumber(v01.extrapolatedS, 1)} s, x${formatNumber(v01.extrapolatedS / ours.median, 1)} ours`;
  }
  ctx.report({
    label: `mittelo run ${tasks.toLocaleString('en-US')}, echo=${AGENTS}`,
    value: ours.median,
    unit: 's',
    better: 'lower',
    target: { op: '<=', value: TARGET_S },
    baseline,
    digits: 2,
    note: `wall time of the child process, spawn to exit (${source}); runs ${ours.values.map((s) => formatNumber(s, 2)).join(', ')} s${v01Note}`,
  });
}

export const runPackScenario: Scenario = {
  name: 'run-pack',
  title: 'mittelo run on a 10,000-line pack with --agent echo=2: wall time, start to exit',
  needsHubload: false,
  run,
};

/**
 * Scenario 9: the shell backend. (a) One agent process, `--backend shell --shell-cmd cat
 * --max-tasks 16`, drains 2,000 tasks from a fresh hub: one `cat` process per task, up to 16 at
 * once; timed from the first enqueue until `wait` says all done. (b) What the project's process
 * runner adds to a spawn: in the bench's own process, `runProcess` of `cat` against a bare
 * `child_process.spawn('cat')` with the same input, one at a time, alternating. The v0.1 baseline
 * for (a) is its agent with its shell backend (`bash -lc cat` per task, one at a time).
 */
import { spawn } from 'node:child_process';
import { runProcess } from '../../src/backends/process-runner.ts';
import { measureOurDrain, measureV01Drain } from '../lib/agents.ts';
import type { BenchContext } from '../lib/context.ts';
import { medianOf, type Scenario } from '../lib/measure.ts';
import { median, round } from '../lib/numbers.ts';
import { type Baseline, formatNumber } from '../lib/report.ts';
import { notApplicable } from '../lib/v01-baseline.ts';

const MAX_TASKS = 16;
const TARGET = 200;
const OVERHEAD_TARGET_MS = 5;
const SPAWNS = 200;
const SPAWN_WARM_UP = 10;
const INPUT = 'a short prompt for cat\n';
const DRAIN_TIMEOUT_MS = 300_000;
const V01_TASKS = 200;
const V01_TASKS_QUICK = 50;
const V01_POLL_MS = 50;

function measureOurs(ctx: BenchContext, total: number): Promise<number> {
  return measureOurDrain(ctx, {
    label: 'agent shell cat',
    args: ['agent', '--backend', 'shell', '--shell-cmd', 'cat', '--max-tasks', String(MAX_TASKS)],
    agents: 1,
    total,
    chunk: total,
    prefix: 'cat',
    timeoutMs: DRAIN_TIMEOUT_MS,
    check: async (client) => {
      // cat answers the prompt itself: spot-check that the result is the prompt, not an error.
      const task = (await client.list({ status: 'done', limit: 1 })).tasks[0];
      if (!task || task.result?.trim() !== task.prompt.trim()) {
        throw new Error(`cat should echo the prompt; got ${JSON.stringify(task).slice(0, 300)}`);
      }
      return { max_tasks: MAX_TASKS };
    },
  });
}

function measureV01(ctx: BenchContext, total: number): Promise<number> {
  return measureV01Drain(ctx, {
    total,
    prefix: 'cat',
    agents: 1,
    agentArgs: ['--backend', 'shell', '--shell-cmd', 'cat'],
    pollMs: V01_POLL_MS,
    timeoutMs: DRAIN_TIMEOUT_MS,
  });
}

/** A bare spawn: write the input, collect stdout, wait for close. */
function bareCat(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('cat', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      output += text;
    });
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', () => resolve(output));
    child.stdin.end(INPUT);
  });
}

async function runnerCat(): Promise<string> {
  const result = await runProcess(
    { command: 'cat', args: [], input: INPUT },
    { timeoutMs: 10_000, maxOutputBytes: 1024 * 1024 },
  );
  if (result.exitCode !== 0) throw new Error(`runProcess cat: ${JSON.stringify(result).slice(0, 300)}`);
  return result.stdout;
}

/** Per-spawn times of both, interleaved so that drift in the machine's load hits both alike. */
async function spawnOverhead(): Promise<{ runner: number[]; bare: number[] }> {
  const runner: number[] = [];
  const bare: number[] = [];
  const time = async (into: number[] | null, once: () => Promise<string>) => {
    const started = performance.now();
    const output = await once();
    const ms = performance.now() - started;
    if (output !== INPUT) throw new Error(`cat gave back ${JSON.stringify(output.slice(0, 100))}`);
    into?.push(ms);
  };
  for (let k = 0; k < SPAWN_WARM_UP + SPAWNS; k++) {
    const measured = k >= SPAWN_WARM_UP;
    const pair: Array<[number[] | null, () => Promise<string>]> = [
      [measured ? runner : null, runnerCat],
      [measured ? bare : null, bareCat],
    ];
    if (k % 2) pair.reverse();
    for (const [into, once] of pair) await time(into, once);
  }
  return { runner, bare };
}

async function run(ctx: BenchContext): Promise<void> {
  const total = ctx.size(2_000, 500);
  const repeat = ctx.settings.repeat;
  ctx.log(
    `our hub + one agent --backend shell --shell-cmd cat --max-tasks ${MAX_TASKS}: ${repeat} x ${total.toLocaleString('en-US')} tasks`,
  );
  const ours = await medianOf(repeat, () => measureOurs(ctx, total));

  let baseline: Baseline = notApplicable('not measured (MITTELO_BENCH_V01_DIR is not set)');
  if (ctx.settings.v01Dir) {
    const v01Tasks = ctx.size(V01_TASKS, V01_TASKS_QUICK);
    ctx.log(`v0.1 hub + one v0.1 agent --backend shell --shell-cmd cat: ${v01Tasks} tasks`);
    const v01 = await measureV01(ctx, v01Tasks);
    baseline = { value: v01, sameRun: true, text: `same run, ${v01Tasks} tasks, one at a time` };
  }
  ctx.report({
    label: `shell cat, --max-tasks ${MAX_TASKS}`,
    value: ours.median,
    unit: 'tasks/s',
    better: 'higher',
    target: { op: '>=', value: TARGET },
    baseline,
    note: `${total.toLocaleString('en-US')} tasks, one cat process each, from the first enqueue to all done; runs ${ours.values.map((v) => formatNumber(v, 0)).join(', ')}${ctx.settings.v01Dir ? '; v0.1 runs bash -lc cat per task, one task at a time (prefilled queue, rate after its first ack)' : ''}`,
  });

  ctx.log(`process runner vs bare spawn: ${SPAWN_WARM_UP} warm-up + ${SPAWNS} of each, alternating`);
  const spawns = await spawnOverhead();
  const runnerMs = median(spawns.runner);
  const bareMs = median(spawns.bare);
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  ctx.keep({
    spawns: SPAWNS,
    runner_median_ms: round(runnerMs, 3),
    bare_median_ms: round(bareMs, 3),
    runner_mean_ms: round(mean(spawns.runner), 3),
    bare_mean_ms: round(mean(spawns.bare), 3),
  });
  ctx.report({
    label: 'runProcess overhead per spawn',
    value: runnerMs - bareMs,
    unit: 'ms',
    better: 'lower',
    target: { op: '<=', value: OVERHEAD_TARGET_MS },
    baseline: notApplicable('n/a (the runner is new in v1)'),
    digits: 2,
    note: `median runProcess(cat) ${formatNumber(runnerMs, 2)} ms vs bare spawn(cat) ${formatNumber(bareMs, 2)} ms, ${SPAWNS} each, one at a time in the bench process (means ${formatNumber(mean(spawns.runner), 2)} vs ${formatNumber(mean(spawns.bare), 2)} ms)`,
  });
}

export const shellCatScenario: Scenario = {
  name: 'shell-cat',
  title: 'shell backend: one agent running cat, 16 at once (tasks/s), and the process runner overhead',
  needsHubload: false,
  run,
};

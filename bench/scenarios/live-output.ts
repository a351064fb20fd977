/**
 * Live output (issue 14): lease + ack throughput of 8 workers of one backend, leasing 1 at a
 * time, on a hub where nobody streams output, against the same with 16 more clients streaming
 * `output` at full speed — each leases a task of its own and floods output for it, one call of
 * 50 lines in flight at a time, from a process of its own (bench/lib/output-streamer.ts). The
 * workers are HubClients in this process, the same for both shapes, so the ratio shows what the
 * streaming costs the hub. Target: streaming within 10% of none (>= 90%).
 */
import { performance } from 'node:perf_hooks';
import { startProcess } from '../lib/agents.ts';
import { drainOneAtATime, prefillTasks } from '../lib/client-drain.ts';
import type { BenchContext } from '../lib/context.ts';
import { type BenchHub, REPO_ROOT } from '../lib/hub-process.ts';
import type { Scenario } from '../lib/measure.ts';
import { median } from '../lib/numbers.ts';
import { formatNumber } from '../lib/report.ts';

const WORKERS = 8;
const STREAMERS = 16;
const LINES_PER_CALL = 50;
const BACKEND = 'echo';
const READY_TIMEOUT_MS = 60_000;

const prefill = (hub: BenchHub, n: number) => prefillTasks(hub, n, BACKEND);

/** Time the workers draining `n` prefilled tasks (lease 1, ack, again). */
const drain = (hub: BenchHub, n: number) => drainOneAtATime(hub, n, { workers: WORKERS, backend: BACKEND });

interface StreamedRun {
  tasksPerSecond: number;
  calls: number;
  linesSent: number;
  linesKept: number;
  seconds: number;
}

/** The drain with the streamers flooding the hub from start to end. */
async function drainWhileStreaming(ctx: BenchContext, hub: BenchHub, n: number): Promise<StreamedRun> {
  const streamer = startProcess(
    'output streamers',
    process.execPath,
    ['bench/lib/output-streamer.ts', hub.host, String(hub.port), String(STREAMERS), String(LINES_PER_CALL)],
    { cwd: REPO_ROOT },
  );
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!streamer.stdout().includes('"role":"ready"')) {
      if (streamer.stdout().includes('"fatal"') || Date.now() > deadline) {
        throw new Error(`the streamers did not start: ${streamer.stdout()} ${streamer.stderr().slice(-800)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const started = performance.now();
    const tasksPerSecond = await drain(hub, n);
    const seconds = (performance.now() - started) / 1000;
    await streamer.stop();
    const line = streamer
      .stdout()
      .split('\n')
      .find((text) => text.includes('"role":"streamer"'));
    if (!line) throw new Error(`the streamers printed no totals: ${streamer.stderr().slice(-800)}`);
    const totals = JSON.parse(line) as { calls: number; lines_sent: number; lines_kept: number };
    ctx.keep({ shape: 'streaming', tasks_per_s: tasksPerSecond, seconds, ...totals });
    return {
      tasksPerSecond,
      calls: totals.calls,
      linesSent: totals.lines_sent,
      linesKept: totals.lines_kept,
      seconds,
    };
  } finally {
    await streamer.stop();
  }
}

async function run(ctx: BenchContext): Promise<void> {
  const n = ctx.size(20_000, 3_000);
  const repeat = ctx.settings.repeat;
  const quiet: number[] = [];
  const streamed: StreamedRun[] = [];
  // Round by round, both shapes once per round: a machine that slows down mid-run slows both.
  for (let round = 0; round < repeat; round += 1) {
    ctx.log(`round ${round + 1}/${repeat}: lease+ack ${WORKERS} workers x1, nobody streaming, ${n} tasks`);
    quiet.push(
      await ctx.withHub({}, async (hub) => {
        await prefill(hub, n);
        const rate = await drain(hub, n);
        ctx.keep({ shape: 'quiet', tasks_per_s: rate });
        return rate;
      }),
    );
    ctx.log(
      `round ${round + 1}/${repeat}: the same with ${STREAMERS} clients streaming output at full speed`,
    );
    streamed.push(
      await ctx.withHub({}, async (hub) => {
        await prefill(hub, n);
        return drainWhileStreaming(ctx, hub, n);
      }),
    );
  }
  const quietRate = median(quiet);
  const streamingRate = median(streamed.map((s) => s.tasksPerSecond));
  const callsPerSecond = median(streamed.map((s) => s.calls / s.seconds));
  const keptPerSecond = median(streamed.map((s) => s.linesKept / s.seconds));
  const sentPerSecond = median(streamed.map((s) => s.linesSent / s.seconds));
  ctx.report({
    label: `lease+ack ${WORKERS} workers x1, nobody streaming`,
    value: quietRate,
    unit: 'tasks/s',
    better: 'higher',
  });
  ctx.report({
    label: `lease+ack ${WORKERS} workers x1, ${STREAMERS} clients streaming`,
    value: streamingRate,
    unit: 'tasks/s',
    better: 'higher',
    note: `the streamers sent ${formatNumber(callsPerSecond, 0)} output calls/s, ${formatNumber(sentPerSecond, 0)} lines/s; the hub kept ${formatNumber(keptPerSecond, 0)} lines/s (the rest over its per-connection budget)`,
  });
  ctx.report({
    label: 'streaming, % of nobody streaming',
    value: (100 * streamingRate) / quietRate,
    unit: '%',
    better: 'higher',
    target: { op: '>=', value: 90 },
    note: `${formatNumber(streamingRate, 0)} vs ${formatNumber(quietRate, 0)} tasks/s (medians of ${repeat})`,
  });
}

export const liveOutputScenario: Scenario = {
  name: 'live-output',
  title: 'lease + ack throughput with 16 clients streaming output at full speed against none',
  needsHubload: false,
  run,
};

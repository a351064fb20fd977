/**
 * Scenario: does pruning a million finished rows stall leases? A hub process on a copy of the
 * database of 1,000,000 done tasks, with queued work beside them; one client leases a task and
 * acks it, again and again, timing each lease+ack round trip: first with nothing else going on,
 * then (on a fresh copy) while another client's `prune` removes every one of the done rows. The
 * figure is p99 during the prune over p99 without it.
 */
import { join } from 'node:path';
import { HubClient } from '../../src/client/hub-client.ts';
import type { BenchContext } from '../lib/context.ts';
import { copyDatabase, finishedTasksTemplate } from '../lib/finished-tasks-db.ts';
import type { BenchHub } from '../lib/hub-process.ts';
import type { Scenario } from '../lib/measure.ts';
import { percentile, round, rowsLabel } from '../lib/numbers.ts';
import { notApplicable } from '../lib/v01-baseline.ts';

/** Round trips before each phase, not timed. */
const WARM_UP = 200;
/** Round trips timed without a prune (the baseline). */
const BASELINE_ROUND_TRIPS = 3000;
/** Queued tasks enqueued before measuring: more than any phase leases. */
const QUEUED = 50_000;
/** During the prune, p99 of a lease+ack may be at most this many times the one without it. */
const TARGET_RATIO = 5;

interface Phase {
  latencies: number[];
  pruned: number | null;
  pruneMs: number | null;
}

/** lease(1) + ack, timed, until `stop()` says so; the client holds nothing between round trips. */
async function roundTrips(client: HubClient, stop: (done: number) => boolean): Promise<number[]> {
  const latencies: number[] = [];
  while (!stop(latencies.length)) {
    const began = performance.now();
    const { tasks } = await client.call<{ tasks: { task_id: number; lease_token: string }[] }>('lease', {
      worker_id: 'bench-leaser',
      max_tasks: 1,
    });
    const task = tasks[0];
    if (!task) throw new Error('the queue ran dry: enqueue more tasks before measuring');
    await client.ack({ task_id: task.task_id, lease_token: task.lease_token, status: 'done', result: 'ok' });
    latencies.push(performance.now() - began);
  }
  return latencies;
}

async function measure(hub: BenchHub, withPrune: boolean): Promise<Phase> {
  const client = new HubClient({ host: hub.host, port: hub.port, reconnect: false });
  const pruner = new HubClient({ host: hub.host, port: hub.port, reconnect: false });
  try {
    await Promise.all([client.connect(), pruner.connect()]);
    for (let i = 0; i < QUEUED; i += 5000) {
      await client.enqueueMany(Array.from({ length: 5000 }, (_, k) => `work ${i + k}`));
    }
    await roundTrips(client, (done) => done >= WARM_UP);
    if (!withPrune)
      return {
        latencies: await roundTrips(client, (done) => done >= BASELINE_ROUND_TRIPS),
        pruned: null,
        pruneMs: null,
      };
    let finished = false;
    const began = performance.now();
    // Every task done by now: the template's and the warm-up's (those done during the prune are
    // younger than its cutoff, and stay).
    const prune = pruner.prune({ older_than_s: 0, statuses: ['done'] }).finally(() => {
      finished = true;
    });
    const latencies = await roundTrips(client, () => finished);
    const { removed } = await prune;
    return { latencies, pruned: removed, pruneMs: performance.now() - began };
  } finally {
    client.close();
    pruner.close();
  }
}

async function run(ctx: BenchContext): Promise<void> {
  const finished = ctx.size(1_000_000, 100_000);
  ctx.log(`building a database with ${finished.toLocaleString('en-US')} done tasks`);
  const template = await finishedTasksTemplate(ctx.tempRoot, finished);
  const onCopy = async (withPrune: boolean) => {
    const db = join(ctx.freshFolder(), 'hub.db');
    copyDatabase(template, db);
    return ctx.withHub({ db }, (hub) => measure(hub, withPrune));
  };
  ctx.log(
    `lease+ack round trips, one client, beside ${finished.toLocaleString('en-US')} done rows, no prune`,
  );
  const quiet = await onCopy(false);
  ctx.log(`the same while a prune removes the ${finished.toLocaleString('en-US')} done rows`);
  const during = await onCopy(true);
  if (during.pruned !== finished + WARM_UP) {
    throw new Error(
      `the prune removed ${during.pruned} rows, not the ${finished} done ones of the template and the ${WARM_UP} of the warm-up`,
    );
  }
  const p = (phase: Phase, q: number) => percentile(phase.latencies, q);
  const rows = rowsLabel(finished);
  const rate = (finished / (during.pruneMs ?? 1)) * 1000;
  ctx.keep({
    rows: finished,
    quiet: {
      round_trips: quiet.latencies.length,
      p50_ms: round(p(quiet, 0.5), 3),
      p99_ms: round(p(quiet, 0.99), 3),
    },
    during_prune: {
      round_trips: during.latencies.length,
      p50_ms: round(p(during, 0.5), 3),
      p99_ms: round(p(during, 0.99), 3),
      max_ms: round(Math.max(...during.latencies), 3),
      prune_ms: round(during.pruneMs ?? 0, 0),
      pruned_per_s: round(rate, 0),
    },
  });
  const none = notApplicable('v0.1 has no prune');
  ctx.report({
    label: 'lease+ack p50, no prune',
    value: p(quiet, 0.5),
    unit: 'ms',
    better: 'lower',
    baseline: none,
    digits: 2,
  });
  ctx.report({
    label: 'lease+ack p99, no prune',
    value: p(quiet, 0.99),
    unit: 'ms',
    better: 'lower',
    baseline: none,
    digits: 2,
    note: `${quiet.latencies.length.toLocaleString('en-US')} round trips; max ${round(Math.max(...quiet.latencies), 1)} ms`,
  });
  ctx.report({
    label: `lease+ack p50, pruning ${rows}`,
    value: p(during, 0.5),
    unit: 'ms',
    better: 'lower',
    baseline: none,
    digits: 2,
  });
  ctx.report({
    label: `lease+ack p99, pruning ${rows}`,
    value: p(during, 0.99),
    unit: 'ms',
    better: 'lower',
    baseline: none,
    digits: 2,
    note: `${during.latencies.length.toLocaleString('en-US')} round trips during a prune of ${rows} rows in ${((during.pruneMs ?? 0) / 1000).toFixed(1)} s (${Math.round(rate).toLocaleString('en-US')} rows/s); max ${round(Math.max(...during.latencies), 1)} ms`,
  });
  ctx.report({
    label: `p99 pruning ${rows} / p99 no prune`,
    value: p(during, 0.99) / p(quiet, 0.99),
    unit: 'x',
    better: 'lower',
    target: { op: '<=', value: TARGET_RATIO },
    baseline: none,
    digits: 2,
  });
}

export const pruneLeaseScenario: Scenario = {
  name: 'prune-lease',
  title: 'lease+ack latency (p50/p99) while a prune removes 1,000,000 done rows, vs without',
  needsHubload: false,
  run,
};

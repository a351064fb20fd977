/**
 * Scenario 11: the hub on PostgreSQL (`mittelo hub --db postgres://...`) against pg-boss 12, on ONE
 * local PostgreSQL for the run (a throwaway cluster, or MITTELO_BENCH_PG_URL), each measurement on
 * a fresh database. Same shapes on both sides: 8 callers sending one at a time; a prefilled queue
 * drained by 8 workers taking 10 a time; one idle worker's new-task-to-done latency as the producer
 * sees it (ours across two hubs: the producer on hub A, the echo agent on hub B). Plus what a second
 * hub adds: 4 workers on each of two hubs against 8 on one. Our figures carry the targets
 * and their ratio to pg-boss's. While the PostgreSQL store is missing, our half reports
 * "skipped: mittelo hub --db postgres:// not available: <the hub's error line>" and pg-boss's still
 * runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { HubClient } from '../../src/client/hub-client.ts';
import { type BenchProcess, startMitteloAgents, stopAll, untilAgentsConnected } from '../lib/agents.ts';
import type { BenchContext } from '../lib/context.ts';
import { type BenchHub, REPO_ROOT, startMitteloHub } from '../lib/hub-process.ts';
import { type HubloadResult, runHubload } from '../lib/hubload.ts';
import { hubload, type Scenario, tasksPerSecond } from '../lib/measure.ts';
import { median, percentile, round } from '../lib/numbers.ts';
import { pgBossLatency, pgBossThroughput } from '../lib/pgboss-baseline.ts';
import { type BenchPostgres, withBenchPostgres } from '../lib/postgres-server.ts';
import { formatNumber } from '../lib/report.ts';

const CALLERS = 8;
const WORKERS = 8;
const BATCH = 10;
const WARM_UP = 20;
const DONE_TIMEOUT_MS = 5_000;
/** The targets for the hub on PostgreSQL. */
const TARGET = { enqueue: 10_000, leaseAck: 5_000, latencyP50Ms: 5 } as const;
/** pg-boss as measured earlier on this machine (the issue), for reading a quick run's figures. */
const PGBOSS_EARLIER = { send: 1_460, work: 970, latencyMs: 10 } as const;

const pgBossVersion = (): string =>
  (
    JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'pg-boss', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

// ---------------------------------------------------------------- our hubs on one database

/** Start `count` hubs on one fresh database (one after the other: the first migrates it). */
async function withPgHubs<T>(
  ctx: BenchContext,
  server: BenchPostgres,
  count: number,
  use: (hubs: BenchHub[], url: string, cwd: string) => Promise<T>,
): Promise<T> {
  const url = await server.createDatabase();
  // A hub that does not know URLs takes one for a file path: let it write that here, not in the repo.
  const cwd = ctx.freshFolder();
  const hubs: BenchHub[] = [];
  try {
    for (let i = 0; i < count; i++) hubs.push(await startMitteloHub({ db: url, cwd }));
    return await use(hubs, url, cwd);
  } finally {
    await Promise.all(hubs.map((hub) => hub.stop()));
    await server.dropDatabase(url);
  }
}

/**
 * The line that says why a hub did not start: its last `mittelo: ...` line on stderr (how the CLI
 * reports an error), else its first line that is not a stack frame, else the error's first line.
 */
function hubErrorLine(error: Error): string {
  const stderr = /\nstderr: ([\s\S]*)$/.exec(error.message)?.[1] ?? '';
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('at '));
  return lines.findLast((line) => line.startsWith('mittelo:')) ?? lines[0] ?? error.message.split('\n')[0]!;
}

/**
 * Whether our hub runs on PostgreSQL at all: null when it does, else why not. A hub that starts
 * but put nothing in the database read the URL as a SQLite file path (a hub without the store).
 */
async function ourHubProblem(ctx: BenchContext, server: BenchPostgres): Promise<string | null> {
  try {
    return await withPgHubs(ctx, server, 1, async (_hubs, url, cwd) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const tables = await client.query(
          "select count(*)::int as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')",
        );
        if (tables.rows[0].n > 0) return null;
      } finally {
        await client.end();
      }
      const stray = readdirSync(cwd).find((name) => name.startsWith('postgres'));
      return stray
        ? `the hub took the URL for a SQLite file path (it created ${join(cwd, stray)})`
        : 'the hub started but created no tables in its database';
    });
  } catch (error) {
    return hubErrorLine(error as Error);
  }
}

/**
 * Drain whatever is queued with hubload's leaseack phase and no prefill of its own (`--n 0`), on
 * each hub at once: `workers` per hub leasing `batch` at a time, acking each. hubload's own count
 * checks expect its own prefill, so the checks are made here: every task acked exactly once
 * between them, no errors, and the hub's stats saying all done.
 */
async function drain(
  ctx: BenchContext,
  hubs: BenchHub[],
  total: number,
  workers: number,
): Promise<{ perSecond: number; results: HubloadResult[] }> {
  const path = ctx.settings.hubload!;
  const results = await Promise.all(
    hubs.map((hub) =>
      runHubload(path, { phase: 'leaseack', host: hub.host, port: hub.port, n: 0, c: workers, batch: BATCH }),
    ),
  );
  const acked = results.reduce((sum, result) => sum + Number(result.acked), 0);
  const errors = results.reduce((sum, result) => sum + Number(result.errors), 0);
  const client = new HubClient({ host: hubs[0]!.host, port: hubs[0]!.port, reconnect: false });
  try {
    await client.connect();
    const stats = await client.stats();
    ctx.keep({ drain: { hubs: hubs.length, workers_per_hub: workers, batch: BATCH, total, stats, results } });
    if (acked !== total || errors > 0 || stats.done !== total || stats.queued !== 0 || stats.leased !== 0) {
      throw new Error(
        `drain on ${hubs.length} hub(s): ${acked} of ${total} acked, ${errors} errors, stats ${JSON.stringify(stats)}; first errors: ${JSON.stringify(results.map((result) => result.error_samples))}`,
      );
    }
  } finally {
    client.close();
  }
  // The hubload processes start together; the longest timed part spans the whole drain.
  const seconds = Math.max(...results.map((result) => Number(result.wall_s)));
  return { perSecond: total / seconds, results };
}

interface OurThroughput {
  enqueue: number;
  leaseAck: number;
  twoHubs: number;
}

/** One repetition: enqueue (8 conns) and the 8-worker drain on one hub, then 4 + 4 on two hubs. */
async function ourThroughput(ctx: BenchContext, server: BenchPostgres, n: number): Promise<OurThroughput> {
  const one = await withPgHubs(ctx, server, 1, async ([hub]) => {
    const enqueue = tasksPerSecond(await hubload(ctx, hub!, { phase: 'enqueue', n, c: CALLERS }));
    const leaseAck = (await drain(ctx, [hub!], n, WORKERS)).perSecond;
    return { enqueue, leaseAck };
  });
  const twoHubs = await withPgHubs(ctx, server, 2, async (hubs) => {
    await hubload(ctx, hubs[0]!, { phase: 'enqueue', n, c: CALLERS }); // the prefill
    return (await drain(ctx, hubs, n, WORKERS / 2)).perSecond;
  });
  return { ...one, twoHubs };
}

/**
 * Idle latency across two hubs: one echo agent process on hub B, its long-poll lease parked; the
 * bench's client on hub A enqueues a task and `wait`s on it there. Timed from sending `enqueue` to
 * the `wait` answer saying done (so A has to hear of B's ack through the database).
 */
async function ourLatency(
  ctx: BenchContext,
  server: BenchPostgres,
  count: number,
  warmUp: number,
): Promise<number[]> {
  return withPgHubs(ctx, server, 2, async ([hubA, hubB]) => {
    const producer = new HubClient({ host: hubA!.host, port: hubA!.port, reconnect: false });
    const watcher = new HubClient({ host: hubB!.host, port: hubB!.port, reconnect: false });
    const processes: BenchProcess[] = [];
    try {
      await producer.connect();
      await watcher.connect();
      processes.push(
        await startMitteloAgents(ctx, hubB!, 'agent echo (hub B)', ['agent', '--backend', 'echo']),
      );
      await untilAgentsConnected(watcher, 1, processes);
      await sleep(500); // its first long-poll lease is parked on hub B by now
      const latencies: number[] = [];
      for (let k = 0; k < warmUp + count; k++) {
        const sent = performance.now();
        const id = await producer.enqueue(`latency-${k}`);
        const answer = await producer.wait([id], { timeout_ms: DONE_TIMEOUT_MS });
        const at = performance.now();
        const task = answer.tasks[0];
        if (answer.timed_out || task?.status !== 'done' || task.result !== `echo:latency-${k}`) {
          throw new Error(
            `task ${id} not done within ${DONE_TIMEOUT_MS} ms across hubs: ${JSON.stringify(task ?? answer).slice(0, 300)}`,
          );
        }
        if (k >= warmUp) latencies.push(at - sent);
        await sleep(2 + Math.random() * 8); // as in agent-latency: the agent parks its next lease
      }
      ctx.keep({ across_hubs_latencies_ms: latencies.map((ms) => round(ms, 2)) });
      return latencies;
    } finally {
      producer.close();
      watcher.close();
      await stopAll(ctx, processes);
    }
  });
}

// ---------------------------------------------------------------- pg-boss

interface PgBossFigures {
  send: number[];
  work: number[];
  latencies: number[];
}

async function measurePgBoss(
  ctx: BenchContext,
  server: BenchPostgres,
  n: number,
  latencyCount: number,
  warmUp: number,
) {
  const figures: PgBossFigures = { send: [], work: [], latencies: [] };
  for (let attempt = 0; attempt < ctx.settings.repeat; attempt++) {
    const url = await server.createDatabase();
    try {
      const once = await pgBossThroughput(ctx, url, { n, senders: CALLERS, workers: WORKERS, batch: BATCH });
      figures.send.push(once.sendPerS);
      figures.work.push(once.workPerS);
    } finally {
      await server.dropDatabase(url);
    }
  }
  const url = await server.createDatabase();
  try {
    figures.latencies = await pgBossLatency(ctx, url, latencyCount, warmUp);
  } finally {
    await server.dropDatabase(url);
  }
  return figures;
}

// ---------------------------------------------------------------- the report

const runs = (values: number[], digits = 0) => values.map((value) => formatNumber(value, digits)).join(', ');

/** "vs pg-boss <what> (same run): x6.85" or "...: x2.10 lower". */
function versus(what: string, ours: number | null, theirs: number, better: 'higher' | 'lower'): string {
  if (ours === null || ours <= 0 || theirs <= 0) return '';
  const times =
    better === 'higher' ? `x${formatNumber(ours / theirs, 2)}` : `x${formatNumber(theirs / ours, 2)} lower`;
  return `vs pg-boss ${what} (same run): ${times}`;
}

function reportPgBoss(ctx: BenchContext, boss: PgBossFigures, version: string): void {
  ctx.report({
    label: `pg-boss send, ${CALLERS} senders`,
    value: median(boss.send),
    unit: 'jobs/s',
    better: 'higher',
    note: `pg-boss ${version} in its own process, ${CALLERS} callers with one send() in flight each; runs ${runs(boss.send)}; earlier on this machine ~${formatNumber(PGBOSS_EARLIER.send, 0)}/s`,
  });
  ctx.report({
    label: `pg-boss work, ${WORKERS} x batch ${BATCH}`,
    value: median(boss.work),
    unit: 'jobs/s',
    better: 'higher',
    note: `work(localConcurrency ${WORKERS}, batchSize ${BATCH}, burstWhenBatchFull), no-op handler (one complete per batch), prefilled queue, until SQL counts all completed; runs ${runs(boss.work)}; earlier ~${formatNumber(PGBOSS_EARLIER.work, 0)}/s`,
  });
  ctx.report({
    label: 'pg-boss send to completed p50',
    value: percentile(boss.latencies, 0.5),
    unit: 'ms',
    better: 'lower',
    digits: 2,
    note: `${boss.latencies.length} jobs one at a time; one idle worker process woken by LISTEN/NOTIFY (notify queue); the producer process polls findJobs every 1 ms; p99 ${formatNumber(percentile(boss.latencies, 0.99), 2)} ms; earlier ~${PGBOSS_EARLIER.latencyMs} ms`,
  });
}

/** Our figures' notes: the text when measured, else the reason (in full once, then "as above"). */
function noter(skipped: string | null): (text: string) => string {
  let reasonGiven = false;
  return (text) => {
    if (skipped === null) return text;
    const first = !reasonGiven;
    reasonGiven = true;
    return first ? skipped : `${skipped.split(':')[0]} (as above)`;
  };
}

function reportOurThroughput(
  ctx: BenchContext,
  boss: PgBossFigures,
  throughput: OurThroughput[] | null,
  note: (text: string) => string,
): void {
  const pick = (key: keyof OurThroughput) =>
    throughput ? median(throughput.map((once) => once[key])) : null;
  const values = (key: keyof OurThroughput) =>
    throughput ? `; runs ${runs(throughput.map((once) => once[key]))}` : '';
  ctx.report({
    label: `PG enqueue ${CALLERS} conns`,
    value: pick('enqueue'),
    unit: 'tasks/s',
    better: 'higher',
    target: { op: '>=', value: TARGET.enqueue },
    note: note(
      `hubload enqueue, one hub; ${versus('send', pick('enqueue'), median(boss.send), 'higher')}${values('enqueue')}`,
    ),
  });
  ctx.report({
    label: `PG lease+ack ${WORKERS} workers x${BATCH}`,
    value: pick('leaseAck'),
    unit: 'tasks/s',
    better: 'higher',
    target: { op: '>=', value: TARGET.leaseAck },
    note: note(
      `hubload leaseack --n 0 draining the queue the enqueue filled, one hub, an ack per task; ${versus('work', pick('leaseAck'), median(boss.work), 'higher')}${values('leaseAck')}`,
    ),
  });
  const second = pick('twoHubs');
  const one = pick('leaseAck');
  ctx.report({
    label: `PG lease+ack 2 hubs x ${WORKERS / 2} x${BATCH}`,
    value: second,
    unit: 'tasks/s',
    better: 'higher',
    note: note(
      `${WORKERS / 2} workers on each of two hubs sharing one database; x${second && one ? formatNumber(second / one, 2) : '?'} the ${WORKERS} workers on one hub${values('twoHubs')}`,
    ),
  });
}

function reportOurLatency(
  ctx: BenchContext,
  boss: PgBossFigures,
  latencies: number[] | null,
  note: (text: string) => string,
): void {
  const p50 = latencies ? percentile(latencies, 0.5) : null;
  ctx.report({
    label: 'PG across hubs, enqueue to done p50',
    value: p50,
    unit: 'ms',
    better: 'lower',
    target: { op: '<=', value: TARGET.latencyP50Ms },
    digits: 2,
    note: note(
      `${latencies?.length} tasks one at a time: enqueue + wait on hub A, one idle echo agent process on hub B; ${versus('send to completed', p50, percentile(boss.latencies, 0.5), 'lower')}`,
    ),
  });
  ctx.report({
    label: 'PG across hubs, enqueue to done p99',
    value: latencies ? percentile(latencies, 0.99) : null,
    unit: 'ms',
    better: 'lower',
    digits: 2,
    note: note(`pg-boss p99 ${formatNumber(percentile(boss.latencies, 0.99), 2)} ms (same run)`),
  });
}

// ---------------------------------------------------------------- the scenario

async function run(ctx: BenchContext): Promise<void> {
  const n = ctx.size(10_000, 2_000);
  const latencyCount = ctx.size(300, 50);
  const warmUp = ctx.size(WARM_UP, 10);
  const version = pgBossVersion();
  await withBenchPostgres(async (server) => {
    ctx.log(`PostgreSQL: ${server.description}`);
    ctx.log(
      `pg-boss ${version}: ${ctx.settings.repeat} x (${n.toLocaleString('en-US')} sends, then a drain), ${latencyCount} latency jobs`,
    );
    const boss = await measurePgBoss(ctx, server, n, latencyCount, warmUp);
    reportPgBoss(ctx, boss, version);

    let problem: string | null = 'skipped: needs hubload.mjs (set MITTELO_HUBLOAD)';
    if (ctx.settings.hubload) {
      const why = await ourHubProblem(ctx, server);
      problem = why && `skipped: mittelo hub --db postgres:// not available: ${why}`;
    }
    if (problem) {
      process.stdout.write(`${problem}\n`);
      const note = noter(problem);
      reportOurThroughput(ctx, boss, null, note);
      reportOurLatency(ctx, boss, null, note);
      return;
    }
    ctx.log(
      `our hub on PostgreSQL: ${ctx.settings.repeat} x (${n.toLocaleString('en-US')} enqueues, drains on 1 and 2 hubs)`,
    );
    const throughput: OurThroughput[] = [];
    for (let attempt = 0; attempt < ctx.settings.repeat; attempt++)
      throughput.push(await ourThroughput(ctx, server, n));
    reportOurThroughput(ctx, boss, throughput, noter(null));
    ctx.log(`our hubs A + B on one database: ${warmUp} warm-up + ${latencyCount} tasks, one at a time`);
    let latencies: number[];
    try {
      latencies = await ourLatency(ctx, server, latencyCount, warmUp);
    } catch (error) {
      // The figures measured so far stay; the scenario still ends as FAILED, with the cause.
      reportOurLatency(ctx, boss, null, noter(`failed: ${(error as Error).message.split('\n')[0]}`));
      throw error;
    }
    reportOurLatency(ctx, boss, latencies, noter(null));
  });
}

export const postgresScenario: Scenario = {
  name: 'postgres',
  title: 'the hub on PostgreSQL (one and two hubs) against pg-boss 12, on one local PostgreSQL',
  needsHubload: false,
  run,
};

/**
 * The PostgreSQL baseline: pg-boss 12 (the `pg-boss` devDependency), each role in its own process
 * (bench/lib/pgboss-child.ts) on a fresh database of the run's server, measured in the same shapes
 * as our hub on PostgreSQL: sends from 8 concurrent callers, a prefilled queue drained by 8 workers,
 * and one idle worker's send-to-completed latency as its producer sees it.
 */
import { join } from 'node:path';
import { assertRunning, until } from './agents.ts';
import { type BaselineChild, runBaselineChild, startBaselineChild } from './baseline-child.ts';
import type { BenchContext } from './context.ts';
import { REPO_ROOT } from './hub-process.ts';
import { round } from './numbers.ts';

const QUEUE = 'bench';
const READY_TIMEOUT_MS = 60_000;

/** pg-boss's child on the database at `url`. */
const child = (url: string): BaselineChild => ({
  peer: 'pg-boss',
  script: join(REPO_ROOT, 'bench', 'lib', 'pgboss-child.ts'),
  common: ['--url', url, '--queue', QUEUE],
});

export interface PgBossThroughput {
  sendPerS: number;
  workPerS: number;
}

/** `n` sends from `senders` callers, then (a fresh process) `workers` x `batch` draining them. */
export async function pgBossThroughput(
  ctx: BenchContext,
  url: string,
  shape: { n: number; senders: number; workers: number; batch: number },
): Promise<PgBossThroughput> {
  const sent = await runBaselineChild(child(url), 'send', [
    '--n',
    String(shape.n),
    '--c',
    String(shape.senders),
  ]);
  const worked = await runBaselineChild(child(url), 'work', [
    '--n',
    String(shape.n),
    '--c',
    String(shape.workers),
    '--batch',
    String(shape.batch),
  ]);
  ctx.keep({ baseline: 'pg-boss', ...shape, send: sent, work: worked });
  return { sendPerS: Number(sent.per_s), workPerS: Number(worked.per_s) };
}

/**
 * One idle pg-boss worker process (woken by LISTEN/NOTIFY), and a producer process that sends one
 * job at a time and polls until it is completed: the latencies (ms) after `warmUp` jobs.
 */
export async function pgBossLatency(
  ctx: BenchContext,
  url: string,
  count: number,
  warmUp: number,
): Promise<number[]> {
  const worker = startBaselineChild(child(url), 'idle-worker', []);
  try {
    await until(
      async () => worker.stdout().includes('"ready":true'),
      'the pg-boss worker to start',
      READY_TIMEOUT_MS,
      {
        alive: () => assertRunning(worker),
      },
    );
    const producer = await runBaselineChild(child(url), 'latency', [
      '--n',
      String(count),
      '--warm-up',
      String(warmUp),
    ]);
    const latencies = (producer.latencies_ms as number[]) ?? [];
    ctx.keep({
      baseline: 'pg-boss',
      latency_tasks: latencies.length,
      latencies_ms: latencies.map((ms) => round(ms, 2)),
    });
    return latencies;
  } finally {
    await worker.stop();
  }
}

/**
 * The PostgreSQL baseline: pg-boss 12 (the `pg-boss` devDependency), each role in its own process
 * (bench/lib/pgboss-child.ts) on a fresh database of the run's server, measured in the same shapes
 * as our hub on PostgreSQL: sends from 8 concurrent callers, a prefilled queue drained by 8 workers,
 * and one idle worker's send-to-completed latency as its producer sees it.
 */
import { join } from 'node:path';
import { assertRunning, type BenchProcess, startProcess, until } from './agents.ts';
import type { BenchContext } from './context.ts';
import { REPO_ROOT } from './hub-process.ts';
import { round } from './numbers.ts';

const CHILD = join(REPO_ROOT, 'bench', 'lib', 'pgboss-child.ts');
const QUEUE = 'bench';
/** A hang guard per child, well above any healthy run (10,000 jobs take seconds). */
const CHILD_TIMEOUT_S = 300;
const READY_TIMEOUT_MS = 60_000;

type ChildResult = Record<string, unknown>;

function startChild(role: string, url: string, args: string[]): BenchProcess {
  return startProcess(
    `pg-boss ${role}`,
    process.execPath,
    [CHILD, role, '--url', url, '--queue', QUEUE, '--timeout-s', String(CHILD_TIMEOUT_S), ...args],
    { cwd: REPO_ROOT },
  );
}

/** The child's result line; throws with its own words when it failed. */
function resultOf(child: BenchProcess, role: string): ChildResult {
  const line = child
    .stdout()
    .split('\n')
    .filter((text) => text.startsWith('{'))
    .map((text) => JSON.parse(text) as ChildResult)
    .find((object) => object.role === role);
  if (!line)
    throw new Error(`pg-boss ${role} printed no result; stderr: ${child.stderr().trim().slice(-800)}`);
  if (line.fatal) throw new Error(`pg-boss ${role} failed: ${String(line.fatal).split('\n')[0]}`);
  return line;
}

async function runChild(role: string, url: string, args: string[]): Promise<ChildResult> {
  const child = startChild(role, url, args);
  const timer = setTimeout(() => void child.stop(), (CHILD_TIMEOUT_S + 60) * 1000);
  await child.exited;
  clearTimeout(timer);
  return resultOf(child, role);
}

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
  const sent = await runChild('send', url, ['--n', String(shape.n), '--c', String(shape.senders)]);
  const worked = await runChild('work', url, [
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
  const worker = startChild('idle-worker', url, []);
  try {
    await until(
      async () => worker.stdout().includes('"ready":true'),
      'the pg-boss worker to start',
      READY_TIMEOUT_MS,
      {
        alive: () => assertRunning(worker),
      },
    );
    const producer = await runChild('latency', url, ['--n', String(count), '--warm-up', String(warmUp)]);
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

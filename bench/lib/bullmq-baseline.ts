/**
 * The Redis baseline: BullMQ (installed on demand outside the project, bench/lib/peer-packages.ts)
 * on a throwaway Redis (bench/lib/redis-server.ts), each role in its own process
 * (bench/lib/bullmq-child.ts), in issue 17's shapes: adds from 8 callers one at a time, one worker
 * process at concurrency 1 and 8 draining no-op jobs added in bulk, and one idle worker's
 * add-to-completed latency as its producer sees it. Every measurement uses a queue of its own.
 */
import { join } from 'node:path';
import { assertRunning, until } from './agents.ts';
import { type BaselineChild, runBaselineChild, startBaselineChild } from './baseline-child.ts';
import type { BenchContext } from './context.ts';
import { REPO_ROOT } from './hub-process.ts';
import { round } from './numbers.ts';
import { BULLMQ_PACKAGES, ensurePeerPackages } from './peer-packages.ts';
import { redisMissing, withBenchRedis } from './redis-server.ts';

const READY_TIMEOUT_MS = 60_000;
let queues = 0;

/** BullMQ's child on the Redis at `url`, with a queue no earlier measurement used. */
const child = (peers: string, url: string): BaselineChild => {
  queues += 1;
  return {
    peer: 'BullMQ',
    script: join(REPO_ROOT, 'bench', 'lib', 'bullmq-child.ts'),
    common: ['--peers', peers, '--url', url, '--queue', `bench-${process.pid}-${queues}`],
  };
};

export interface BullmqShapes {
  /** Adds, `callers` one at a time each. */
  add: { n: number; callers: number };
  /** One worker process draining `n` jobs at each concurrency. */
  drain: { n: number; concurrencies: number[] };
  latency: { n: number; warmUp: number };
}

export interface BullmqFigures {
  description: string;
  addPerS: number;
  /** Jobs/s by worker concurrency. */
  drainPerS: Map<number, number>;
  latenciesMs: number[];
}

/** Why BullMQ cannot be measured on this machine, or null when it can (Redis and npm at hand). */
export async function bullmqUnavailable(): Promise<string | null> {
  const missing = redisMissing();
  if (missing) return missing;
  try {
    await ensurePeerPackages(BULLMQ_PACKAGES);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Every BullMQ figure of the shapes, on one fresh Redis. Call bullmqUnavailable() first. */
export async function measureBullmq(ctx: BenchContext, shapes: BullmqShapes): Promise<BullmqFigures> {
  const peers = await ensurePeerPackages(BULLMQ_PACKAGES);
  return withBenchRedis(async (redis) => {
    ctx.log(`BullMQ ${BULLMQ_PACKAGES.bullmq} on ${redis.description}`);
    const added = await runBaselineChild(child(peers, redis.url), 'add', [
      '--n',
      String(shapes.add.n),
      '--c',
      String(shapes.add.callers),
    ]);
    const drainPerS = new Map<number, number>();
    const drained: unknown[] = [];
    for (const concurrency of shapes.drain.concurrencies) {
      const result = await runBaselineChild(child(peers, redis.url), 'drain', [
        '--n',
        String(shapes.drain.n),
        '--c',
        String(concurrency),
      ]);
      drainPerS.set(concurrency, Number(result.per_s));
      drained.push(result);
    }
    const latenciesMs = await idleLatency(peers, redis.url, shapes.latency);
    ctx.keep({
      baseline: 'BullMQ',
      version: BULLMQ_PACKAGES.bullmq,
      redis: redis.description,
      add: added,
      drain: drained,
      latencies_ms: latenciesMs.map((ms) => round(ms, 2)),
    });
    return { description: redis.description, addPerS: Number(added.per_s), drainPerS, latenciesMs };
  });
}

/** One idle worker process, and a producer process adding one job at a time until it completes. */
async function idleLatency(peers: string, url: string, shape: BullmqShapes['latency']): Promise<number[]> {
  const on = child(peers, url);
  const worker = startBaselineChild(on, 'idle-worker', []);
  try {
    await until(
      async () => worker.stdout().includes('"ready":true'),
      'the BullMQ worker to start',
      READY_TIMEOUT_MS,
      {
        alive: () => assertRunning(worker),
      },
    );
    const producer = await runBaselineChild(on, 'latency', [
      '--n',
      String(shape.n),
      '--warm-up',
      String(shape.warmUp),
    ]);
    return (producer.latencies_ms as number[]) ?? [];
  } finally {
    await worker.stop();
  }
}

/**
 * The pg-boss baseline's own process (bench/lib/pgboss-baseline.ts runs it), so pg-boss never
 * shares the bench's event loop, just as our hub runs apart from its load. One role per process;
 * each prints one JSON line with its result (or {"fatal": ...}) on stdout.
 *
 *   node bench/lib/pgboss-child.ts send        --url U --queue Q --n N --c 8
 *   node bench/lib/pgboss-child.ts work        --url U --queue Q --n N --c 8 --batch 10
 *   node bench/lib/pgboss-child.ts idle-worker --url U --queue Q          (until SIGTERM)
 *   node bench/lib/pgboss-child.ts latency     --url U --queue Q --n N --warm-up W
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PgBoss } from 'pg-boss';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    queue: { type: 'string', default: 'bench' },
    n: { type: 'string', default: '1000' },
    c: { type: 'string', default: '8' },
    batch: { type: 'string', default: '10' },
    'warm-up': { type: 'string', default: '20' },
    'timeout-s': { type: 'string', default: '300' },
  },
});
const role = positionals[0];
const url = values.url ?? '';
const queue = values.queue;
const n = Number(values.n);
const concurrency = Number(values.c);
const batchSize = Number(values.batch);
const warmUp = Number(values['warm-up']);
const timeoutMs = Number(values['timeout-s']) * 1000;

const emit = (object: object) => process.stdout.write(`${JSON.stringify(object)}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * pg-boss as an application would run it: its own pool (8 callers + room for its internals), no
 * cron (this bench schedules nothing). `listen`: the LISTEN/NOTIFY listener, so that an idle
 * worker on a `notify` queue is woken by a new job instead of its next poll (pg-boss's fastest
 * idle path; without it an idle worker polls, every 2 s by default, 0.5 s at best).
 */
async function startBoss({ listen, notify }: { listen: boolean; notify: boolean }): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: url,
    max: concurrency + 4,
    schedule: false,
    useListenNotify: listen,
    application_name: `mittelo-bench-pgboss-${role}`,
  });
  boss.on('error', (error) => process.stderr.write(`pg-boss error: ${error.message}\n`));
  await boss.start();
  // Idempotent (ON CONFLICT DO NOTHING): every role may create it. `notify` (a NOTIFY per send)
  // only where a worker listens: the throughput figures keep pg-boss's defaults.
  await boss.createQueue(queue, { notify });
  return boss;
}

/** N sends from `concurrency` callers, one send in flight each (as hubload's enqueue phase). */
async function send(): Promise<object> {
  const boss = await startBoss({ listen: false, notify: false });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const sent = performance.now();
        const id = await boss.send(queue, { prompt: `pgboss-${i}` });
        if (!id) throw new Error(`send ${i} returned no id`);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await boss.stop({ graceful: false });
  return {
    sent: latencies.length,
    seconds,
    per_s: latencies.length / seconds,
    p50_ms: percentile(latencies, 0.5),
  };
}

/** Counts jobs in a state with plain SQL: pg-boss's own queue counts come from a cache. */
async function counter(): Promise<{ count(state: string): Promise<number>; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    async count(state) {
      const answer = await client.query(
        'select count(*)::int as n from pgboss.job where name = $1 and state = $2',
        [queue, state],
      );
      return answer.rows[0].n as number;
    },
    close: () => client.end(),
  };
}

/**
 * Drain a prefilled queue: `concurrency` pg-boss workers, `batchSize` jobs a fetch, a no-op handler
 * (pg-boss completes the batch when it resolves). burstWhenBatchFull: fetch again at once while
 * fetches come back full (without it each worker waits out its polling interval, at least 0.5 s,
 * between fetches). Timed from work() until SQL counts all N completed (polled every 20 ms).
 */
async function work(): Promise<object> {
  const boss = await startBoss({ listen: false, notify: false });
  const jobs = await counter();
  const queued = await jobs.count('created');
  if (queued !== n) throw new Error(`expected ${n} queued jobs, found ${queued}`);
  let handled = 0;
  const started = performance.now();
  await boss.work(
    queue,
    { localConcurrency: concurrency, batchSize, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
    async (batch) => {
      handled += batch.length;
    },
  );
  let completed = await jobs.count('completed');
  while (completed < n) {
    if (performance.now() - started > timeoutMs) throw new Error(`only ${completed} of ${n} completed`);
    await sleep(20);
    completed = await jobs.count('completed');
  }
  const seconds = (performance.now() - started) / 1000;
  await boss.stop({ graceful: true, timeout: 10_000 });
  await jobs.close();
  return { completed, handled, seconds, per_s: completed / seconds };
}

/** One worker (batch 1) that completes whatever it gets, woken by NOTIFY, until SIGTERM. */
async function idleWorker(): Promise<object> {
  const boss = await startBoss({ listen: true, notify: true });
  let handled = 0;
  await boss.work(queue, { batchSize: 1, localConcurrency: 1 }, async () => {
    handled += 1;
  });
  emit({ ready: true });
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  await boss.stop({ graceful: true, timeout: 5_000 });
  return { handled };
}

/**
 * The producer: send one job, then wait for it to be completed. pg-boss 12 tells a producer of no
 * completion (no event, no send-and-wait), so it polls findJobs(queue, { id }) every 1 ms (a query
 * each time: getJobById is deprecated in its favour) until the job's state is `completed`. Latency:
 * from calling send() to the poll that sees it completed. A 2-10 ms pause between jobs, as in the
 * other latency scenarios; the worker parks meanwhile.
 */
async function latency(): Promise<object> {
  const boss = await startBoss({ listen: false, notify: true });
  const latencies: number[] = [];
  for (let k = 0; k < warmUp + n; k++) {
    const started = performance.now();
    const id = await boss.send(queue, { prompt: `latency-${k}` });
    if (!id) throw new Error(`send ${k} returned no id`);
    for (;;) {
      const [job] = await boss.findJobs(queue, { id });
      if (job?.state === 'completed') break;
      if (job && job.state !== 'created' && job.state !== 'active')
        throw new Error(`job ${id} is ${job.state}`);
      if (performance.now() - started > 10_000) throw new Error(`job ${id} not completed within 10 s`);
      await sleep(1);
    }
    if (k >= warmUp) latencies.push(performance.now() - started);
    await sleep(2 + Math.random() * 8);
  }
  await boss.stop({ graceful: false });
  return { latencies_ms: latencies };
}

const roles: Record<string, () => Promise<object>> = {
  send,
  work,
  'idle-worker': idleWorker,
  latency,
};

const run = role ? roles[role] : undefined;
if (!run || !url) {
  process.stderr.write(`usage: pgboss-child.ts ${Object.keys(roles).join('|')} --url <postgres url> ...\n`);
  process.exit(2);
}
const guard = setTimeout(() => {
  emit({ role, fatal: `no result within ${timeoutMs / 1000} s` });
  process.exit(1);
}, timeoutMs + 30_000);
guard.unref();
try {
  emit({ role, ...(await run()) });
  process.exit(0);
} catch (error) {
  emit({ role, fatal: String((error as Error).stack ?? error) });
  process.exit(1);
}

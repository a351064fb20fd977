/**
 * The BullMQ baseline's own process (bench/lib/bullmq-baseline.ts runs it), so BullMQ never shares
 * the bench's event loop, as our hub runs apart from its load. BullMQ and ioredis are loaded from
 * the peers folder (bench/lib/peer-packages.ts), never from the project. One role per process;
 * each prints one JSON line with its result (or {"fatal": ...}) on stdout.
 *
 *   node bench/lib/bullmq-child.ts add         --peers DIR --url U --n N --c 8
 *   node bench/lib/bullmq-child.ts drain       --peers DIR --url U --n N --c 8 --chunk 5000
 *   node bench/lib/bullmq-child.ts idle-worker --peers DIR --url U            (until SIGTERM)
 *   node bench/lib/bullmq-child.ts latency     --peers DIR --url U --n N --warm-up W
 */
import { parseArgs } from 'node:util';
import { requireFromPeers } from './peer-packages.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    peers: { type: 'string' },
    url: { type: 'string' },
    queue: { type: 'string', default: 'bench' },
    n: { type: 'string', default: '1000' },
    c: { type: 'string', default: '8' },
    chunk: { type: 'string', default: '5000' },
    'warm-up': { type: 'string', default: '20' },
    'timeout-s': { type: 'string', default: '300' },
  },
});
const role = positionals[0];
const queueName = values.queue;
const n = Number(values.n);
const concurrency = Number(values.c);
const chunk = Number(values.chunk);
const warmUp = Number(values['warm-up']);
const timeoutMs = Number(values['timeout-s']) * 1000;

// biome-ignore lint/suspicious/noExplicitAny: BullMQ is loaded at run time from outside the project.
type Any = any;
const require = requireFromPeers(values.peers ?? '');
const { Queue, Worker, QueueEvents } = require('bullmq') as Any;
const IORedis = require('ioredis') as Any;
const url = new URL(values.url ?? 'redis://127.0.0.1:6379');

/** BullMQ's own advice for workers: a connection that never gives up a blocking command. */
const connection = () =>
  new IORedis({
    host: url.hostname,
    port: Number(url.port),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
  });

const emit = (object: object) => process.stdout.write(`${JSON.stringify(object)}\n`);

/** N adds from `concurrency` callers, one add in flight each (as hubload's enqueue phase). */
async function add(): Promise<object> {
  const queue = new Queue(queueName, { connection: connection() });
  await queue.waitUntilReady();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await queue.add('task', { prompt: `bullmq-${i}` });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await queue.close();
  return { n, c: concurrency, seconds, per_s: n / seconds };
}

/**
 * One worker process at `concurrency` drains N no-op jobs: the worker is up first, the jobs are
 * added in bulk (`chunk` a call, as our drain uses enqueue_many), and the clock runs from the
 * first add until the worker has completed them all (our drain: until `wait` says all done).
 */
async function drain(): Promise<object> {
  const queue = new Queue(queueName, { connection: connection() });
  await queue.waitUntilReady();
  let completed = 0;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const worker = new Worker(queueName, async (job: Any) => `echo:${job.data.prompt}`, {
    connection: connection(),
    concurrency,
  });
  worker.on('completed', () => {
    completed += 1;
    if (completed === n) allDone();
  });
  await worker.waitUntilReady();
  const started = performance.now();
  for (let from = 0; from < n; from += chunk) {
    const jobs = [];
    for (let i = from; i < Math.min(n, from + chunk); i++)
      jobs.push({ name: 'task', data: { prompt: `d-${i}` } });
    await queue.addBulk(jobs);
  }
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.close();
  return { n, c: concurrency, seconds, per_s: n / seconds };
}

/** An idle worker at concurrency 1, woken by BullMQ's blocking fetch; runs until SIGTERM. */
async function idleWorker(): Promise<never> {
  const worker = new Worker(queueName, async (job: Any) => `echo:${job.data.prompt}`, {
    connection: connection(),
    concurrency: 1,
  });
  await worker.waitUntilReady();
  emit({ role, ready: true });
  process.once('SIGTERM', () => {
    void worker.close().then(() => process.exit(0));
  });
  return new Promise<never>(() => {});
}

/** One add at a time, each timed until the producer sees it completed (waitUntilFinished). */
async function latency(): Promise<object> {
  const queue = new Queue(queueName, { connection: connection() });
  const events = new QueueEvents(queueName, { connection: connection() });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  const latencies: number[] = [];
  for (let k = 0; k < warmUp + n; k++) {
    const sent = performance.now();
    const job = await queue.add('task', { prompt: `latency-${k}` });
    const result = await job.waitUntilFinished(events, 5_000);
    const at = performance.now();
    if (result !== `echo:latency-${k}`) throw new Error(`job ${job.id} answered ${String(result)}`);
    if (k >= warmUp) latencies.push(at - sent);
    // A short, varied pause, as in our agent-latency scenario: the worker blocks on its fetch meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8));
  }
  await events.close();
  await queue.close();
  return { n, latencies_ms: latencies };
}

const ROLES: Record<string, () => Promise<object>> = { add, drain, 'idle-worker': idleWorker, latency };

const guard = setTimeout(() => {
  emit({ role, fatal: `timed out after ${timeoutMs / 1000} s` });
  process.exit(1);
}, timeoutMs);
guard.unref();

const chosen = role ? ROLES[role] : undefined;
if (!chosen) {
  emit({ role, fatal: `unknown role ${role}: one of ${Object.keys(ROLES).join(', ')}` });
  process.exit(2);
}
chosen()
  .then((result) => {
    emit({ role, ...result });
    process.exit(0);
  })
  .catch((error: Error) => {
    emit({ role, fatal: error.stack ?? error.message });
    process.exit(1);
  });

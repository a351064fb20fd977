/**
 * Lease + ack from HubClients in the bench's own process: a prefill of one backend's tasks, and
 * `workers` clients draining them one task at a time (lease 1, ack, again; a worker that gets
 * nothing while others still hold tasks long-polls for the next). Shared by the scenarios that
 * compare one hub setting with another on the same load (caps, live output).
 */
import { performance } from 'node:perf_hooks';
import { HubClient } from '../../src/client/hub-client.ts';
import type { BenchHub } from './hub-process.ts';

const ENQUEUE_CHUNK = 1000;

/** Enqueue `n` tasks of `backend`, ENQUEUE_CHUNK a call. */
export async function prefillTasks(hub: BenchHub, n: number, backend: string): Promise<void> {
  const filler = new HubClient({ host: hub.host, port: hub.port, reconnect: false });
  try {
    for (let done = 0; done < n; done += ENQUEUE_CHUNK) {
      const count = Math.min(ENQUEUE_CHUNK, n - done);
      await filler.enqueueMany(
        Array.from({ length: count }, (_, i) => ({ prompt: `t${done + i}`, backend })),
      );
    }
  } finally {
    filler.close();
  }
}

/** Time `workers` clients draining `n` queued tasks of `backend`: tasks per second. */
export async function drainOneAtATime(
  hub: BenchHub,
  n: number,
  options: { workers: number; backend: string },
): Promise<number> {
  const workers = Array.from(
    { length: options.workers },
    () => new HubClient({ host: hub.host, port: hub.port, reconnect: false }),
  );
  let acked = 0;
  const started = performance.now();
  try {
    await Promise.all(
      workers.map(async (client, index) => {
        const worker_id = `w${index}`;
        while (acked < n) {
          const { tasks } = await client.lease({
            worker_id,
            backend: options.backend,
            max_tasks: 1,
            lease_seconds: 60,
            wait_ms: 200,
          });
          for (const task of tasks) {
            await client.ack({
              task_id: task.task_id,
              lease_token: task.lease_token,
              status: 'done',
              result: 'ok',
            });
            acked += 1;
          }
        }
      }),
    );
  } finally {
    for (const client of workers) client.close();
  }
  return n / ((performance.now() - started) / 1000);
}

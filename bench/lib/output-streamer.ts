/**
 * The streaming side of the live-output scenario, in a process of its own (as agents are): N
 * clients, each leasing a task of its own and sending `output` calls for it at full speed (one
 * call in flight per client, as fast as the hub answers) until SIGTERM, then one JSON line with
 * what was sent and what the hub kept.
 *
 *   node bench/lib/output-streamer.ts HOST PORT STREAMERS LINES_PER_CALL
 */
import { HubClient } from '../../src/client/hub-client.ts';

const [host, port, streamers, linesPerCall] = process.argv.slice(2);
const count = Number(streamers);
const perCall = Number(linesPerCall);
const BACKEND = 'stream';
const LINE = `${'streamed output '.repeat(6)}`.slice(0, 96);

let stopping = false;
let calls = 0;
let failures = 0;
const kept: number[] = [];

async function stream(index: number): Promise<void> {
  const worker = `streamer-${index}`;
  const client = new HubClient({ host, port: Number(port), reconnect: false, workerId: worker });
  const taskId = await client.enqueue({ prompt: `stream ${index}`, backend: BACKEND });
  const { tasks } = await client.lease({
    worker_id: worker,
    backend: BACKEND,
    max_tasks: 1,
    lease_seconds: 3600,
  });
  const task = tasks.find((t) => t.task_id === taskId) ?? tasks[0];
  if (!task) throw new Error(`streamer ${index} leased nothing`);
  ready += 1;
  if (ready === count) process.stdout.write(`${JSON.stringify({ role: 'ready' })}\n`);
  const lines = Array.from({ length: perCall }, (_, i) => ({
    kind: 'stdout' as const,
    text: `${i} ${LINE}`,
  }));
  let lastSeq = 0;
  while (!stopping) {
    try {
      lastSeq = (
        await client.output({
          task_id: task.task_id,
          lease_token: task.lease_token,
          worker_id: worker,
          lines,
        })
      ).last_seq;
      calls += 1;
    } catch {
      failures += 1;
      if (stopping) break;
    }
  }
  kept[index] = lastSeq;
  client.close();
}

let ready = 0;
const running = Array.from({ length: count }, (_, index) => stream(index));
process.once('SIGTERM', () => {
  stopping = true;
  void Promise.allSettled(running).then(() => {
    const keptLines = kept.reduce((sum, value) => sum + (value ?? 0), 0);
    process.stdout.write(
      `${JSON.stringify({ role: 'streamer', calls, lines_sent: calls * perCall, lines_kept: keptLines, failures })}\n`,
    );
    process.exit(0);
  });
});
for (const run of running) {
  run.catch((error: unknown) => {
    process.stdout.write(
      `${JSON.stringify({ role: 'streamer', fatal: String((error as Error)?.message ?? error) })}\n`,
    );
    process.exit(1);
  });
}

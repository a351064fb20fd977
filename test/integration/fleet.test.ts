/**
 * Several hubs, one fleet: two `mittelo hub` processes on one PostgreSQL database (a real server
 * started for the run), with agents on each. Work enqueued on one hub reaches agents parked on
 * the other, a cancel on one revokes a lease held through the other, and every hub shows the
 * whole fleet (agents, counts, events, waits).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { HubEvent } from '../../src/protocol/model.ts';
import { type CliProcess, startCli } from '../helpers/cli-process.ts';
import { HANG_GUARD_MS, type HubProcess, startHubProcess } from '../helpers/hub-process.ts';
import { testPostgres } from '../helpers/postgres.ts';
import { RawClient } from '../helpers/raw-client.ts';

/** Poll `check` until it returns a value (not undefined), at most HANG_GUARD_MS. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + HANG_GUARD_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('two hubs on one PostgreSQL database', () => {
  let url: string;
  let hubA: HubProcess;
  let hubB: HubProcess;
  let clientA: HubClient;
  let clientB: HubClient;
  const agents: CliProcess[] = [];
  const raws: RawClient[] = [];

  before(async () => {
    const pg = await testPostgres();
    url = await pg.createDatabase();
    // Started one after the other: the second finds the schema the first made.
    hubA = await startHubProcess({ db: url });
    hubB = await startHubProcess({ db: url });
    clientA = new HubClient({ port: hubA.port, reconnect: false });
    clientB = new HubClient({ port: hubB.port, reconnect: false });
  });

  after(async () => {
    for (const raw of raws) raw.close();
    for (const agent of agents) agent.kill('SIGKILL');
    await Promise.allSettled(agents.map((agent) => agent.exit()));
    clientA?.close();
    clientB?.close();
    await Promise.allSettled([hubA?.stop(), hubB?.stop()]);
    const pg = await testPostgres();
    await pg.dropCreatedDatabases();
  });

  it('hands a task enqueued through hub A to a lease parked on hub B', async () => {
    const raw = await RawClient.connect(hubB.port);
    raws.push(raw);
    const parked = raw.result('lease', {
      worker_id: 'parked-on-b',
      wait_ms: HANG_GUARD_MS,
      backend: 'route-1',
    });
    // Hub B knows the worker once its lease arrived; then enqueue through the other hub.
    await eventually('the lease to park on hub B', async () =>
      (await clientB.agents()).some((a) => a.worker_id === 'parked-on-b') ? true : undefined,
    );
    const started = Date.now();
    const taskId = await clientA.enqueue({ prompt: 'for B', backend: 'route-1' });
    const answer = await parked;
    const elapsed = Date.now() - started;
    assert.deepEqual(
      answer.tasks.map((task: { task_id: number }) => task.task_id),
      [taskId],
    );
    assert.ok(answer.tasks[0].lease_token, 'the holder gets its fencing token');
    // Printed, not asserted: the database notification makes this milliseconds, polling ~1 s.
    console.log(`enqueue on A -> parked lease on B answered in ${elapsed} ms`);
    const ack = await raw.result('ack', {
      task_id: taskId,
      status: 'done',
      result: 'ok',
      lease_token: answer.tasks[0].lease_token,
    });
    assert.equal(ack.status, 'done');
    assert.equal((await clientA.get(taskId)).status, 'done', 'hub A reads what was acked through B');
  });

  it('a pause given to hub A holds a lease parked on hub B; a resume through A wakes it', async () => {
    await clientA.pause({ backend: 'route-paused', reason: 'fleet test' });
    const raw = await RawClient.connect(hubB.port);
    raws.push(raw);
    const parked = raw.result('lease', {
      worker_id: 'parked-paused',
      wait_ms: HANG_GUARD_MS,
      backend: 'route-paused',
    });
    await eventually('the lease to park on hub B', async () =>
      (await clientB.agents()).some((a) => a.worker_id === 'parked-paused') ? true : undefined,
    );
    const taskId = await clientA.enqueue({ prompt: 'held back', backend: 'route-paused' });
    // Both hubs were told of the work (B's parked lease looked); the pause kept it queued.
    assert.deepEqual((await clientB.lease({ worker_id: 'probe-b', backend: 'route-paused' })).tasks, []);
    assert.deepEqual(
      (await clientB.pauses()).map((p) => [p.backend, p.reason]),
      [['route-paused', 'fleet test']],
    );
    assert.equal((await clientB.get(taskId)).status, 'queued');
    assert.equal((await clientA.resume({ backend: 'route-paused' })).resumed, true);
    const answer = await parked;
    assert.deepEqual(
      answer.tasks.map((task: { task_id: number }) => task.task_id),
      [taskId],
    );
    await raw.result('ack', { task_id: taskId, status: 'done', lease_token: answer.tasks[0].lease_token });
  });

  it('revokes, through hub B, the lease of a task canceled through hub A', async () => {
    const raw = await RawClient.connect(hubB.port);
    raws.push(raw);
    await raw.result('hello', { worker_id: 'holder-on-b', features: ['lease_revocations'] });
    const taskId = await clientA.enqueue({ prompt: 'long job', backend: 'route-2' });
    const leased = await raw.result('lease', {
      worker_id: 'holder-on-b',
      backend: 'route-2',
      wait_ms: HANG_GUARD_MS,
    });
    assert.deepEqual(
      leased.tasks.map((task: { task_id: number }) => task.task_id),
      [taskId],
    );
    const canceled = await clientA.cancel(taskId);
    assert.equal(canceled.status, 'canceled');
    const revoked = await raw.nextMatching((message) => message.event === 'lease.revoked');
    assert.equal(revoked.task_id, taskId);
    assert.equal(revoked.reason, 'canceled');
    // The holder's late ack changes nothing: the task stays canceled on every hub.
    const late = await raw.call('ack', {
      task_id: taskId,
      status: 'done',
      result: 'too late',
      lease_token: leased.tasks[0].lease_token,
    });
    assert.equal(late.error?.code, 'conflict');
    assert.equal((await clientB.get(taskId)).status, 'canceled');
  });

  it('shows the whole fleet on each hub: agents, counts, events and waits', async () => {
    const events: HubEvent[] = [];
    const watcher = new HubClient({ port: hubA.port, reconnect: false });
    try {
      watcher.on('event', (event) => {
        if (event.event !== 'lease.revoked') events.push(event);
      });
      await watcher.subscribe(['task', 'agent']);
      // One echo agent on each hub, each on its own route so we know who ran what.
      for (const [hub, name] of [
        [hubA, 'agent-on-a'],
        [hubB, 'agent-on-b'],
      ] as const) {
        agents.push(
          startCli([
            'agent',
            '--port',
            String(hub.port),
            '--backend',
            'echo',
            '--worker-id',
            name,
            '--no-preflight',
          ]),
        );
      }
      // Each hub learns of the other's agents through the database, each on its own poll: wait
      // for both, not for one and then expect the other.
      for (const [client, name] of [
        [clientA, 'hub A'],
        [clientB, 'hub B'],
      ] as const) {
        const listed = await eventually(`both agents listed by ${name}`, async () => {
          const found = (await client.agents()).filter(
            (a) => a.worker_id.startsWith('agent-on-') && a.connected,
          );
          return found.length === 2 ? found : undefined;
        });
        assert.deepEqual(
          listed.map((a) => a.worker_id).sort(),
          ['agent-on-a', 'agent-on-b'],
          `${name} lists the agents of both hubs`,
        );
      }

      const before = await clientA.stats();
      const ids = await clientB.enqueueMany(Array.from({ length: 20 }, (_, i) => `fleet task ${i}`));
      // A wait through hub A ends when agents on either hub have acked everything enqueued on B.
      const waited = await clientA.call<{
        tasks: { task_id: number; status: string; worker_id: string }[];
        timed_out: boolean;
      }>('wait', { task_ids: ids, timeout_ms: HANG_GUARD_MS });
      assert.equal(waited.timed_out, false);
      assert.ok(waited.tasks.every((task) => task.status === 'done'));
      const after = await clientA.stats();
      assert.equal(after.done - before.done, 20, 'hub A counts the tasks done through hub B');
      await eventually('task.done events on hub A for tasks acked through B', async () => {
        const seen = new Set(
          events
            .filter((e) => e.event === 'task.done' && 'task' in e)
            .map((e) => ('task' in e ? e.task.task_id : 0)),
        );
        return ids.every((id) => seen.has(id)) ? true : undefined;
      });
      // agent-on-b's connection is to hub B; hub A's subscribers hear of it all the same.
      assert.ok(
        events.some(
          (e) => e.event.startsWith('agent.') && 'agent' in e && e.agent.worker_id === 'agent-on-b',
        ),
      );
    } finally {
      watcher.close();
    }
  });

  it("counts the fleet's tasks in each hub's throughput history", async () => {
    type History = { scope: string; minutes: { done: number; failed: number; enqueued: number }[] };
    const totals = async (client: HubClient) => {
      const history = await client.call<History>('stats_history', { minutes: 60 });
      const sum = (field: 'done' | 'failed' | 'enqueued') =>
        history.minutes.reduce((total, minute) => total + minute[field], 0);
      return { scope: history.scope, done: sum('done'), failed: sum('failed'), enqueued: sum('enqueued') };
    };
    const before = await totals(clientA);
    assert.equal(before.scope, 'fleet');
    // Enqueued and finished through hub B only, on a route no agent runs.
    const ids = await clientB.enqueueMany([
      { prompt: 'history 1', backend: 'history-route' },
      { prompt: 'history 2', backend: 'history-route' },
      { prompt: 'history 3', backend: 'history-route' },
    ]);
    const { tasks } = await clientB.lease({
      worker_id: 'history-worker',
      max_tasks: 2,
      backend: 'history-route',
    });
    assert.equal(tasks.length, 2);
    await clientB.ack({ task_id: tasks[0]!.task_id, status: 'done', lease_token: tasks[0]!.lease_token });
    await clientB.ack({ task_id: tasks[1]!.task_id, status: 'failed', lease_token: tasks[1]!.lease_token });
    await eventually('hub A to count what hub B did', async () => {
      const now = await totals(clientA);
      const moved = {
        enqueued: now.enqueued - before.enqueued,
        done: now.done - before.done,
        failed: now.failed - before.failed,
      };
      return moved.enqueued === ids.length && moved.done === 1 && moved.failed === 1 ? true : undefined;
    });
  });
});

describe('kill -9 of one hub of two, under load', () => {
  it('loses nothing acknowledged, and its agents carry on through the other hub', async () => {
    const pg = await testPostgres();
    const url = await pg.createDatabase();
    const hubA = await startHubProcess({ db: url });
    const hubB = await startHubProcess({ db: url });
    const both = [`127.0.0.1:${hubA.port}`, `127.0.0.1:${hubB.port}`];
    const workers: CliProcess[] = [];
    const producer = new HubClient({ hubs: both, maxBackoffMs: 200 });
    try {
      // agent-a starts on hub A (it is first in its list), agent-b on hub B. agent-a alone can run
      // tasks tagged only-a, so we can tell that it carried on after A died.
      workers.push(
        startCli([
          'agent',
          '--hub',
          both.join(','),
          '--backend',
          'echo',
          '--worker-id',
          'agent-a',
          '--tag',
          'only-a',
          '--max-tasks',
          '4',
          '--no-preflight',
        ]),
        startCli([
          'agent',
          '--hub',
          [...both].reverse().join(','),
          '--backend',
          'echo',
          '--worker-id',
          'agent-b',
          '--max-tasks',
          '4',
          '--no-preflight',
        ]),
      );
      const acknowledged: number[] = [];
      let refused = 0;
      /** Enqueue one at a time; only an answered enqueue counts as acknowledged. */
      const produce = async (count: number, tags?: string[]) => {
        for (let i = 0; i < count; i++) {
          try {
            acknowledged.push(await producer.enqueue({ prompt: `load ${acknowledged.length}`, tags }));
          } catch {
            refused += 1; // in flight when its hub died: not acknowledged, may or may not exist
          }
        }
      };
      const load = produce(300);
      await eventually('100 enqueues acknowledged', async () =>
        acknowledged.length >= 100 ? true : undefined,
      );
      await hubA.kill();
      await load;
      await produce(20, ['only-a']);
      const waiter = new HubClient({ port: hubB.port, reconnect: false });
      try {
        const waited = await waiter.call<{
          tasks: { task_id: number; status: string; worker_id: string; tags: string[] }[];
          timed_out: boolean;
        }>('wait', { task_ids: acknowledged, timeout_ms: HANG_GUARD_MS });
        assert.equal(waited.timed_out, false, 'every acknowledged task ends');
        assert.equal(waited.tasks.length, acknowledged.length, 'no acknowledged task is lost');
        assert.deepEqual(
          waited.tasks.filter((task) => task.status !== 'done').map((task) => task.task_id),
          [],
          'every acknowledged task is done',
        );
        const onlyA = waited.tasks.filter((task) => task.tags.includes('only-a'));
        assert.equal(onlyA.length, 20);
        assert.ok(
          onlyA.every((task) => task.worker_id === 'agent-a'),
          'agent-a carried on through hub B',
        );
        console.log(
          `kill -9 under load: ${acknowledged.length} acknowledged, all done; ${refused} enqueue(s) cut off in flight`,
        );
      } finally {
        waiter.close();
      }
    } finally {
      producer.close();
      for (const worker of workers) worker.kill('SIGKILL');
      await Promise.allSettled(workers.map((worker) => worker.exit()));
      await Promise.allSettled([hubA.kill(), hubB.stop()]);
      await pg.dropCreatedDatabases();
    }
  });
});

/**
 * The shared-database contract: what must hold when TWO store instances (two hubs) work on one
 * database at once. A store that supports sharing (one with a `fleet`) runs it with a factory that
 * opens two instances on one fresh database; both read time from the injected clock, so lease
 * expiry is driven by the test, never by sleeping.
 *
 * - no task is leased twice when both lease concurrently;
 * - fencing holds across instances: a token from A is refused once B re-leased the task;
 * - ack, cancel and retry races across instances end in exactly one final state, and the loser
 *   gets `conflict`;
 * - the fleet channel carries a message from A to B (not back to A), split when long, and the
 *   agents A saves are the ones B loads.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type ErrorCode, isMitteloError } from '../src/errors.ts';
import type { AgentInfo, Task } from '../src/protocol/model.ts';
import type { FleetMessage, Store } from '../src/store/types.ts';
import { makeAgent, makeTask } from './helpers/fixtures.ts';
import type { ContractStoreOptions } from './store-contract.ts';
import { leaseTasks } from './store-contract.ts';

/** Opens two instances of the store on one new, empty database. The suite closes both. */
export type OpenTwoStores = (options: ContractStoreOptions) => Promise<[Store, Store]>;

class Clock {
  t = 1_700_000_000.5;
  readonly now = (): number => this.t;
  advance(seconds: number): void {
    this.t += seconds;
  }
}

interface Pair {
  a: Store;
  b: Store;
  clock: Clock;
}

const ids = (tasks: Task[]) => tasks.map((task) => task.task_id);

function assertRefused(error: unknown, code: ErrorCode): void {
  assert.ok(isMitteloError(error), `expected a MitteloError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
}

/** Exactly one of the calls succeeded and every other one was refused with `conflict`. */
function oneWinner<T>(results: PromiseSettledResult<T>[]): { winner: number; value: T } {
  const won = results.flatMap((result, index) => (result.status === 'fulfilled' ? [index] : []));
  assert.equal(won.length, 1, `exactly one call should win: ${results.map((r) => r.status).join(', ')}`);
  for (const result of results) {
    if (result.status === 'rejected') assertRefused(result.reason, 'conflict');
  }
  const winner = won[0]!;
  return { winner, value: (results[winner] as PromiseFulfilledResult<T>).value };
}

async function getOne(store: Store, taskId: number): Promise<Task> {
  const [task] = await store.get([taskId]);
  assert.ok(task, `task ${taskId} should exist`);
  return task;
}

/** Poll a condition (every 10 ms, at most 10 s): messages between hubs take a moment. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const agent = (worker_id: string): AgentInfo =>
  makeAgent(worker_id, {
    tags: ['gpu'],
    client: 'mittelo-agent/1',
    current_tasks: [3, 4],
    first_seen: 1_700_000_000,
    last_contact: 1_700_000_010.5,
  });

/** A finished task as `load` stores it; tests set the id, prompt, status and times. */
const FINISHED_TEMPLATE: Task = makeTask(0, {
  prompt: '',
  created_at: 0,
  updated_at: 0,
  worker_id: 'w-old',
  result: null,
  duration_ms: null,
});

export function sharedStoreContract(
  name: string,
  openTwo: OpenTwoStores,
  cleanup?: () => Promise<void>,
): void {
  const withPair =
    (options: Omit<ContractStoreOptions, 'now'>, body: (pair: Pair) => Promise<void>) => async () => {
      const clock = new Clock();
      const [a, b] = await openTwo({ ...options, now: clock.now });
      try {
        await body({ a, b, clock });
      } finally {
        await Promise.allSettled([a.close(), b.close()]);
      }
    };
  const pair = (body: (pair: Pair) => Promise<void>) => withPair({}, body);

  describe(`Shared-database contract: ${name}`, () => {
    if (cleanup) after(cleanup);

    it(
      'never leases a task twice when two instances lease concurrently',
      pair(async ({ a, b }) => {
        const created = await a.enqueue(
          Array.from({ length: 200 }, (_, i) => ({ prompt: `task ${i}`, priority: i % 3 })),
        );
        const leased: Task[] = [];
        // 2 x 4 leasers, each taking small batches until nothing is left.
        const leaser = async (store: Store, worker: string, size: number) => {
          for (;;) {
            const got = await leaseTasks(store, { worker_id: worker, max_tasks: size, lease_seconds: 60 });
            if (got.length === 0) return;
            leased.push(...got);
          }
        };
        await Promise.all(
          [a, b].flatMap((store, s) => [1, 2, 3, 5].map((size, i) => leaser(store, `w-${s}-${i}`, size))),
        );
        assert.equal(leased.length, 200, 'every task was leased');
        assert.equal(new Set(ids(leased)).size, 200, 'no task was leased twice');
        assert.deepEqual(new Set(ids(leased)), new Set(ids(created)));
        for (const store of [a, b]) {
          assert.deepEqual(await store.stats(), { queued: 0, leased: 200, done: 0, failed: 0, canceled: 0 });
        }
        // Every lease is the one stored: its holder and token.
        const stored = await b.dump(0, 1000);
        const byId = new Map(stored.map((task) => [task.task_id, task]));
        for (const task of leased) {
          assert.equal(byId.get(task.task_id)!.lease_token, task.lease_token);
          assert.equal(byId.get(task.task_id)!.worker_id, task.worker_id);
        }
      }),
    );

    it(
      'keeps fencing across instances: a token from A is refused once B re-leased the task',
      pair(async ({ a, b, clock }) => {
        const [task] = await a.enqueue([{ prompt: 'x' }]);
        const [old] = await leaseTasks(a, { worker_id: 'slow', max_tasks: 1, lease_seconds: 10 });
        clock.advance(11);
        const [current] = await leaseTasks(b, { worker_id: 'fast', max_tasks: 1, lease_seconds: 10 });
        assert.equal(current!.task_id, task!.task_id);
        assert.notEqual(current!.lease_token, old!.lease_token);
        const before = await b.dump(0, 10);
        for (const store of [a, b]) {
          for (const call of [
            () =>
              store.ack({
                task_id: task!.task_id,
                lease_token: old!.lease_token,
                status: 'done',
                result: 'stale',
              }),
            () => store.extend({ task_id: task!.task_id, lease_token: old!.lease_token, lease_seconds: 60 }),
            () => store.release({ task_id: task!.task_id, lease_token: old!.lease_token }),
            () => store.ack({ task_id: task!.task_id, worker_id: 'slow', status: 'failed' }),
          ]) {
            await assert.rejects(call(), (error: unknown) => {
              assertRefused(error, 'conflict');
              assert.match((error as Error).message, new RegExp(`\\b${task!.task_id}\\b`));
              return true;
            });
          }
        }
        assert.deepEqual(await a.dump(0, 10), before, 'the refused calls changed nothing');
        const { task: done } = await a.ack({
          task_id: task!.task_id,
          lease_token: current!.lease_token,
          status: 'done',
          result: 'fresh',
        });
        assert.equal(done.worker_id, 'fast');
        assert.equal((await getOne(b, task!.task_id)).result, 'fresh');
      }),
    );

    it(
      'two acks racing on two instances: one wins, the other gets conflict, the winner is stored',
      pair(async ({ a, b }) => {
        const tasks = await a.enqueue(Array.from({ length: 20 }, (_, i) => ({ prompt: `race ${i}` })));
        const held = await leaseTasks(a, { worker_id: 'w', max_tasks: 20, lease_seconds: 60 });
        assert.equal(held.length, tasks.length);
        await Promise.all(
          held.map(async (task) => {
            const results = await Promise.allSettled([
              a.ack({
                task_id: task.task_id,
                lease_token: task.lease_token,
                status: 'done',
                result: 'from a',
              }),
              b.ack({
                task_id: task.task_id,
                lease_token: task.lease_token,
                status: 'failed',
                error: 'from b',
                retryable: false,
              }),
            ]);
            const { winner } = oneWinner(results);
            const stored = await getOne(b, task.task_id);
            assert.equal(stored.status, winner === 0 ? 'done' : 'failed');
            assert.equal(winner === 0 ? stored.result : stored.error, winner === 0 ? 'from a' : 'from b');
          }),
        );
        const stats = await a.stats();
        assert.equal(stats.done + stats.failed, 20);
        assert.deepEqual(await b.stats(), stats);
      }),
    );

    it(
      'cancel racing an ack on the other instance: exactly one final state',
      pair(async ({ a, b }) => {
        await a.enqueue(Array.from({ length: 20 }, (_, i) => ({ prompt: `race ${i}` })));
        const held = await leaseTasks(b, { worker_id: 'w', max_tasks: 20, lease_seconds: 60 });
        await Promise.all(
          held.map(async (task, i) => {
            const calls = [
              a.cancel(task.task_id),
              b.ack({ task_id: task.task_id, lease_token: task.lease_token, status: 'done', result: 'r' }),
            ];
            if (i % 2) calls.reverse();
            const results = await Promise.allSettled(calls);
            const { value } = oneWinner<unknown>(results);
            const stored = await getOne(a, task.task_id);
            const final = 'task' in (value as object) ? (value as { task: Task }).task : (value as Task);
            assert.equal(stored.status, final.status);
            assert.ok(['done', 'canceled'].includes(stored.status));
          }),
        );
        const stats = await b.stats();
        assert.equal(stats.done + stats.canceled, 20);
        assert.equal(stats.leased, 0);
      }),
    );

    it(
      'two cancels of one task on two instances: one cancels, the other gets conflict',
      pair(async ({ a, b }) => {
        const tasks = await a.enqueue(Array.from({ length: 10 }, (_, i) => ({ prompt: `c ${i}` })));
        for (const task of tasks)
          oneWinner(await Promise.allSettled([a.cancel(task.task_id), b.cancel(task.task_id)]));
        assert.equal((await a.stats()).canceled, 10);
      }),
    );

    it(
      'retryFailed racing on two instances retries each failed task once',
      withPair({ retry: { default_max_attempts: 1 } }, async ({ a, b }) => {
        await a.enqueue(Array.from({ length: 30 }, (_, i) => ({ prompt: `f ${i}` })));
        const held = await leaseTasks(a, { worker_id: 'w', max_tasks: 30, lease_seconds: 60 });
        for (const task of held) {
          await b.ack({ task_id: task.task_id, lease_token: task.lease_token, status: 'failed', error: 'e' });
        }
        const some = ids(held.slice(0, 10));
        const [first, second] = await Promise.all([a.retryFailed(some), b.retryFailed(some)]);
        assert.equal(first + second, 10, `${first} + ${second}`);
        const [all1, all2] = await Promise.all([a.retryFailed(), b.retryFailed()]);
        assert.equal(all1 + all2, 20, `${all1} + ${all2}`);
        assert.deepEqual(await b.stats(), { queued: 30, leased: 0, done: 0, failed: 0, canceled: 0 });
      }),
    );

    it(
      'the fleet carries a message from A to B and not back to A; long task lists are split',
      pair(async ({ a, b }) => {
        assert.ok(a.fleet && b.fleet, 'a store that shares its database has a fleet');
        assert.notEqual(a.fleet.hubId, b.fleet.hubId);
        const atA: FleetMessage[] = [];
        const atB: FleetMessage[] = [];
        a.fleet.onMessage((message) => atA.push(message));
        b.fleet.onMessage((message) => atB.push(message));
        const many = Array.from({ length: 3000 }, (_, i) => 1_000_000_000 + i);
        const sent: FleetMessage[] = [
          { kind: 'work' },
          { kind: 'revoke', worker_id: 'w-1', task_id: 7, reason: 'canceled' },
          { kind: 'tasks', event: 'task.done', task_ids: many },
          { kind: 'agents' },
        ];
        for (const message of sent) a.fleet.publish(message);
        const received = () => atB.flatMap((m) => (m.kind === 'tasks' ? m.task_ids : []));
        await until(
          () => atB.some((m) => m.kind === 'agents') && received().length >= many.length,
          'B hears A',
        );
        assert.deepEqual(received(), many, 'every id arrives, in order, once');
        assert.ok(atB.filter((m) => m.kind === 'tasks').length > 1, 'the long list came in several messages');
        for (const m of atB) if (m.kind === 'tasks') assert.equal(m.event, 'task.done');
        assert.deepEqual(
          atB.filter((m) => m.kind !== 'tasks'),
          sent.filter((m) => m.kind !== 'tasks'),
        );
        // B answers; once A hears that, anything of A's own would have come before it.
        b.fleet.publish({ kind: 'work' });
        await until(() => atA.length > 0, 'A hears B');
        assert.deepEqual(atA, [{ kind: 'work' }], 'A never hears its own messages');
      }),
    );

    it(
      'a pause given to A holds on B at once (no message needed), with its until; a resume on B lifts it for A',
      pair(async ({ a, b, clock }) => {
        await a.enqueue([
          { prompt: 'codex', backend: 'codex' },
          { prompt: 'echo', backend: 'echo' },
        ]);
        const pause = await a.pause({ backend: 'codex', until: clock.t + 60, reason: 'quota' });
        assert.deepEqual(await b.pauses(), [pause]);
        const codex = { worker_id: 'w', backend: 'codex', max_tasks: 5, lease_seconds: 60 };
        assert.deepEqual(await leaseTasks(b, codex), []);
        assert.equal(await b.nextWakeAt(), clock.t + 60, 'B wakes its parked leases when the pause ends');
        const echo = await leaseTasks(b, { ...codex, backend: 'echo' });
        assert.deepEqual(
          echo.map((t) => t.prompt),
          ['echo'],
        );
        await a.pause({ backend: null });
        assert.deepEqual(await leaseTasks(b, { ...codex, backend: 'echo' }), []);
        assert.equal(await b.resume(null), true);
        assert.equal(await b.resume('codex'), true);
        assert.deepEqual(await a.pauses(), []);
        assert.deepEqual(
          (await leaseTasks(a, codex)).map((t) => t.prompt),
          ['codex'],
        );
      }),
    );

    it(
      'A and B leasing at once under one cap never hold more than it, and a cap set on A holds on B',
      pair(async ({ a, b }) => {
        await a.enqueue(Array.from({ length: 40 }, (_, i) => ({ prompt: `t${i}`, backend: 'claude_code' })));
        await b.setCap({ scope: 'claude_code', concurrency: 3, rate_per_min: null });
        const worker = (store: string, n: number) => ({
          worker_id: `${store}-${n}`,
          backend: 'claude_code',
          max_tasks: 2,
          lease_seconds: 60,
        });
        for (let round = 0; round < 5; round += 1) {
          const granted = (
            await Promise.all(
              Array.from({ length: 8 }, (_, n) =>
                leaseTasks(n % 2 === 0 ? a : b, worker(n % 2 ? 'b' : 'a', n)),
              ),
            )
          ).flat();
          const [cap] = await a.caps();
          assert.ok(cap!.leased <= 3, `round ${round}: ${cap!.leased} leased under a cap of 3`);
          assert.equal(cap!.leased, 3, `round ${round}: the cap fills`);
          for (const t of granted)
            await (round % 2 ? a : b).ack({ task_id: t.task_id, lease_token: t.lease_token, status: 'done' });
        }
      }),
    );

    it(
      'A and B pruning at once remove each row once, and a retry racing a prune ends one way for each task',
      pair(async ({ a, b, clock }) => {
        const n = 6000;
        const old = clock.t - 1000;
        const statuses = ['done', 'canceled', 'failed'] as const;
        const tasks: Task[] = Array.from({ length: n }, (_, i) => ({
          ...FINISHED_TEMPLATE,
          task_id: i + 1,
          prompt: `task ${i}`,
          status: statuses[i % 3]!,
          created_at: old,
          updated_at: old,
        }));
        await a.load(tasks);
        const [queued] = await a.enqueue([{ prompt: 'still to do', priority: 10 }]);
        const [pruneA, pruneB, retried, leased] = await Promise.all([
          a.prune({ older_than_s: 60, statuses: ['done', 'canceled', 'failed'] }),
          b.prune({ older_than_s: 60, statuses: ['done', 'canceled'] }),
          b.retryFailed(),
          leaseTasks(b, { worker_id: 'w', max_tasks: 1, lease_seconds: 60 }),
        ]);
        assert.deepEqual(ids(leased), [queued!.task_id], 'leasing went on during the prunes');
        const failed = n / 3;
        assert.equal(pruneA + pruneB + retried, n, 'every old row was pruned once or retried');
        const left = await a.dump(0, n + 10);
        assert.equal(left.length, 1 + retried, 'what is left: the retried tasks and the leased one');
        for (const task of left) assert.ok(task.status === 'queued' || task.task_id === queued!.task_id);
        assert.ok(retried <= failed);
        for (const store of [a, b]) {
          assert.deepEqual(await store.stats(), {
            queued: retried,
            leased: 1,
            done: 0,
            failed: 0,
            canceled: 0,
          });
        }
      }),
    );

    it(
      "both instances' acks add to one spend row per backend, and a budget set on A holds on B",
      pair(async ({ a, b }) => {
        await a.enqueue(Array.from({ length: 40 }, (_, i) => ({ prompt: `task ${i}` })));
        // Each instance leases for two backends; every ack of all four goes at once, so batches of
        // both instances add to the same two rows together.
        const held = await Promise.all(
          [a, b].flatMap((store, s) =>
            ['claude_code', 'codex'].map(async (backend) => ({
              store,
              tasks: await leaseTasks(store, {
                worker_id: `w-${s}-${backend}`,
                backend,
                max_tasks: 10,
                lease_seconds: 60,
              }),
            })),
          ),
        );
        assert.equal(held.flatMap((h) => h.tasks).length, 40);
        await Promise.all(
          held.flatMap(({ store, tasks }) =>
            tasks.map((task) =>
              store.ack({
                task_id: task.task_id,
                lease_token: task.lease_token,
                status: 'done',
                cost_usd: 0.25,
                usage: { input_tokens: 10, output_tokens: 1 },
              }),
            ),
          ),
        );
        const expected = ['claude_code', 'codex'].map((backend) => ({
          backend,
          tasks: 20,
          cost_usd: 5,
          estimated_usd: 0,
          cost_unknown: 0,
          input_tokens: 200,
          output_tokens: 20,
          cache_read_tokens: 0,
          cache_write_tokens: 0,
        }));
        for (const store of [a, b]) {
          assert.deepEqual(
            (await store.spend(1)).map(({ day: _day, ...rest }) => rest),
            expected,
          );
        }
        await a.setBudget({ backend: 'codex', usd_per_day: 5 });
        await a.enqueue([{ prompt: 'after' }]);
        assert.deepEqual(await b.budgets(), await a.budgets());
        assert.equal((await b.budgets())[0]!.exhausted, true);
        assert.deepEqual(
          await leaseTasks(b, { worker_id: 'w-b', backend: 'codex', max_tasks: 1, lease_seconds: 60 }),
          [],
        );
        assert.equal(
          (
            await leaseTasks(b, {
              worker_id: 'w-b2',
              backend: 'claude_code',
              max_tasks: 1,
              lease_seconds: 60,
            })
          ).length,
          1,
        );
      }),
    );

    it(
      'agents saved by A are loaded by B, with their age by the database clock; replaced on save',
      pair(async ({ a, b }) => {
        assert.ok(a.fleet && b.fleet);
        assert.deepEqual(await b.fleet.loadAgents(), []);
        await a.fleet.saveAgents([agent('w-1'), agent('w-2')]);
        await b.fleet.saveAgents([]);
        const loaded = await b.fleet.loadAgents();
        const fromA = loaded.find((entry) => entry.hub_id === a.fleet!.hubId);
        assert.ok(fromA, 'A saved its agents');
        assert.deepEqual(fromA.agents, [agent('w-1'), agent('w-2')]);
        assert.ok(fromA.age_s >= 0 && fromA.age_s < 30, `age ${fromA.age_s}`);
        assert.deepEqual(loaded.find((entry) => entry.hub_id === b.fleet!.hubId)?.agents, []);
        await a.fleet.saveAgents([agent('w-3')]);
        const again = (await b.fleet.loadAgents()).find((entry) => entry.hub_id === a.fleet!.hubId);
        assert.deepEqual(again?.agents, [agent('w-3')]);
        await a.close();
        const afterClose = await b.fleet.loadAgents();
        assert.equal(
          afterClose.find((entry) => entry.hub_id === a.fleet!.hubId),
          undefined,
          'a closed hub removes its agents',
        );
      }),
    );
  });
}

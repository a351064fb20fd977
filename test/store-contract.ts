/**
 * The Store contract: one suite every Store implementation must pass (SQLite today, PostgreSQL
 * later). An implementation's test file calls `storeContract` with a factory that opens a fresh,
 * empty store; the suite drives it with an injected clock, so nothing here sleeps or depends on
 * timing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type ErrorCode, isMitteloError } from '../src/errors.ts';
import {
  type NewTask,
  type SpendRow,
  type Stats,
  TASK_FIELDS,
  TASK_STATUSES,
  type Task,
  type WorktreeChange,
} from '../src/protocol/model.ts';
import { PRUNE_WINDOW_ROWS } from '../src/store/prune-batches.ts';
import { DEFAULT_RETRY_POLICY, PRUNABLE_STATUSES, type RetryPolicy } from '../src/store/queue-policy.ts';
import type { AckRequest, LeaseRequest, Store } from '../src/store/types.ts';
import { makeTask } from './helpers/fixtures.ts';

export interface ContractStoreOptions {
  /** Unix seconds; the store must read time only from here. */
  now: () => number;
  retry?: Partial<RetryPolicy>;
  /** Open the database this store (closed by the suite) used, instead of a new one: a restart. */
  reopen?: Store;
}

/** Opens a new, empty store for one test. The suite closes it. */
export type OpenStore = (options: ContractStoreOptions) => Promise<Store>;

/** A clock the test moves by hand. Starts at a time with a fraction, so seconds must stay floats. */
class Clock {
  t = 1_700_000_000.25;
  readonly now = (): number => this.t;
  advance(seconds: number): number {
    this.t += seconds;
    return this.t;
  }
}

interface Fixture {
  store: Store;
  clock: Clock;
}

/** Every field a task carries on the wire (the wire model): the nine v0.1 fields, then the v1 additions. */
const TASK_KEYS = [...TASK_FIELDS].sort();

const LEASE: Omit<LeaseRequest, 'worker_id'> = { max_tasks: 1, lease_seconds: 30 };

/** A task's output_schema: nested, with arrays and keys out of alphabetical order, to come back as written. */
const SCHEMA = {
  type: 'object',
  required: ['verdict'],
  properties: {
    verdict: { enum: ['ok', 'half', 'bad'] },
    findings: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' } } } },
  },
  additionalProperties: true,
};

const ids = (tasks: Task[]) => tasks.map((task) => task.task_id);

async function enqueue(store: Store, ...tasks: (string | NewTask)[]): Promise<Task[]> {
  return store.enqueue(tasks.map((task) => (typeof task === 'string' ? { prompt: task } : task)));
}

/** The tasks a lease handed out (the ones it failed instead are in its `expired`). */
export async function leaseTasks(store: Store, request: LeaseRequest): Promise<Task[]> {
  return (await store.lease(request)).tasks;
}

async function leaseOne(store: Store, worker_id: string, extra: Partial<LeaseRequest> = {}): Promise<Task> {
  const [task, ...rest] = await leaseTasks(store, { ...LEASE, worker_id, ...extra });
  assert.ok(task, `${worker_id} should have leased a task`);
  assert.equal(rest.length, 0);
  return task;
}

async function getOne(store: Store, taskId: number): Promise<Task> {
  const [task] = await store.get([taskId]);
  assert.ok(task, `task ${taskId} should exist`);
  return task;
}

/** Every row, newest first: the whole observable state of the store. */
const snapshot = async (store: Store) => ({
  tasks: await store.list({ limit: 0 }),
  stats: await store.stats(),
});

/** The call must fail with this error code (and, for a human, a message naming the task). */
async function refused(call: Promise<unknown>, code: ErrorCode, taskId?: number): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(isMitteloError(error), `expected a MitteloError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (taskId !== undefined) assert.match(error.message, new RegExp(`\\b${taskId}\\b`));
    return true;
  });
}

/** The call must fail with `code` and leave every row and counter exactly as it was. */
async function refusedAndUnchanged(
  store: Store,
  call: () => Promise<unknown>,
  code: ErrorCode,
  taskId?: number,
): Promise<void> {
  const before = await snapshot(store);
  await refused(call(), code, taskId);
  assert.deepEqual(await snapshot(store), before);
}

const zeroStats = (): Stats => Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Stats;

/**
 * stats() must agree with the rows, with every status present; and when `expected` is given, equal
 * it (statuses it leaves out are 0).
 */
async function assertStatsExact(store: Store, expected?: Partial<Stats>): Promise<void> {
  const counted = zeroStats();
  for (const task of await store.list({ limit: 0 })) counted[task.status] += 1;
  const stats = await store.stats();
  assert.deepEqual(stats, counted, 'stats must match the rows');
  if (expected) assert.deepEqual(stats, { ...zeroStats(), ...expected });
}

export function storeContract(name: string, open: OpenStore, cleanup?: () => Promise<void>): void {
  /** One test body with a fresh store, closed afterwards whatever happens. */
  const withStore =
    (retry: Partial<RetryPolicy> | undefined, body: (fixture: Fixture) => Promise<void>) => async () => {
      const clock = new Clock();
      const store = await open(retry ? { now: clock.now, retry } : { now: clock.now });
      try {
        await body({ store, clock });
      } finally {
        await store.close();
      }
    };
  const fresh = (body: (fixture: Fixture) => Promise<void>) => withStore(undefined, body);

  describe(`Store contract: ${name}`, () => {
    if (cleanup) after(cleanup);

    describe('enqueue', () => {
      it(
        'returns queued tasks with increasing ids, every v0.1 field and the v1 defaults',
        fresh(async ({ store, clock }) => {
          const first = await enqueue(store, 'a', 'b', 'c');
          const [fourth] = await enqueue(store, 'd');
          const tasks = [...first, fourth!];
          assert.deepEqual(
            tasks.map((t) => t.prompt),
            ['a', 'b', 'c', 'd'],
          );
          for (let i = 1; i < tasks.length; i++) assert.ok(tasks[i]!.task_id > tasks[i - 1]!.task_id);
          for (const task of tasks) {
            assert.deepEqual(Object.keys(task).sort(), TASK_KEYS);
            assert.ok(Number.isSafeInteger(task.task_id) && task.task_id > 0);
            assert.equal(task.status, 'queued');
            assert.equal(task.created_at, clock.t, 'created_at is Unix seconds, fraction kept');
            assert.equal(task.updated_at, clock.t);
            assert.equal(task.leased_until, null);
            assert.equal(task.worker_id, null);
            assert.equal(task.result, null);
            assert.equal(task.error, null);
            assert.equal(task.backend, null);
            assert.deepEqual(task.tags, []);
            assert.equal(task.priority, 0);
            assert.equal(task.attempts, 0);
            assert.equal(task.max_attempts, DEFAULT_RETRY_POLICY.default_max_attempts);
            assert.equal(task.lease_expirations, 0);
            assert.equal(task.available_at, 0);
            for (const key of [
              'timeout_s',
              'error_kind',
              'error_fix',
              'duration_ms',
              'usage',
              'metadata',
              'max_cost_usd',
              'cost_usd',
              'cost_basis',
              'output_schema',
              'parsed',
              'session_id',
              'workspace',
              'base_ref',
              'permissions',
              'worktree',
            ] as const) {
              assert.equal(task[key], null, key);
            }
            assert.equal(task.resume, false);
            assert.equal(task.lease_token, null);
          }
          assert.deepEqual(await store.get(ids(tasks)), tasks, 'get returns what enqueue returned');
          await assertStatsExact(store, { queued: 4 });
        }),
      );

      it(
        'takes max_attempts from the retry policy when the task does not say',
        withStore({ default_max_attempts: 3 }, async ({ store }) => {
          const [plain, own] = await enqueue(store, 'plain', { prompt: 'own', max_attempts: 7 });
          assert.equal(plain!.max_attempts, 3);
          assert.equal(own!.max_attempts, 7);
        }),
      );

      it(
        'keeps the v1 fields a task asks for',
        fresh(async ({ store }) => {
          const asked = {
            prompt: 'routed',
            backend: 'claude',
            tags: ['gpu', 'big'],
            priority: -3,
            max_attempts: 2,
            timeout_s: 12.5,
            metadata: { pack: 'review', n: 3, nested: { ok: true } },
          };
          const [task] = await store.enqueue([asked]);
          for (const [key, value] of Object.entries(asked)) {
            assert.deepEqual(task![key as keyof Task], value, key);
          }
          assert.deepEqual(await getOne(store, task!.task_id), task);
        }),
      );

      it(
        'an empty batch adds nothing',
        fresh(async ({ store }) => {
          assert.deepEqual(await store.enqueue([]), []);
          await assertStatsExact(store, {});
          assert.deepEqual(await store.list({ limit: 0 }), []);
        }),
      );

      it(
        'a batch with one invalid task enqueues none of it',
        fresh(async ({ store }) => {
          await enqueue(store, 'before');
          const before = await snapshot(store);
          const invalid = { prompt: null } as unknown as NewTask;
          await assert.rejects(store.enqueue([{ prompt: 'ok 1' }, invalid, { prompt: 'ok 2' }]));
          await assert.rejects(store.enqueue([invalid]));
          assert.deepEqual(await snapshot(store), before);
          const [after] = await enqueue(store, 'after');
          assert.equal(after!.prompt, 'after');
          await assertStatsExact(store, { queued: 2 });
        }),
      );
    });

    describe('lease', () => {
      it(
        'hands out the oldest task first, with a lease, a worker, a token and an attempt counted',
        fresh(async ({ store, clock }) => {
          const queued = await enqueue(store, 'first', 'second', 'third');
          clock.advance(1.5);
          const a = await leaseOne(store, 'w-a', { lease_seconds: 30 });
          assert.equal(a.task_id, queued[0]!.task_id);
          assert.equal(a.status, 'leased');
          assert.equal(a.worker_id, 'w-a');
          assert.equal(a.leased_until, clock.t + 30);
          assert.equal(a.updated_at, clock.t);
          assert.equal(a.created_at, queued[0]!.created_at);
          assert.equal(a.attempts, 1);
          assert.equal(typeof a.lease_token, 'string');
          assert.ok(a.lease_token!.length > 0);
          assert.deepEqual(Object.keys(a).sort(), TASK_KEYS);
          const b = await leaseOne(store, 'w-b');
          const c = await leaseOne(store, 'w-c');
          assert.deepEqual(ids([a, b, c]), ids(queued));
          assert.notEqual(a.lease_token, b.lease_token);
          assert.deepEqual(await leaseTasks(store, { ...LEASE, worker_id: 'w-d' }), []);
          await assertStatsExact(store, { leased: 3 });
        }),
      );

      it(
        'hands out higher priority first, oldest first within a priority',
        fresh(async ({ store }) => {
          const [low, high1, mid, high2, negative] = await enqueue(
            store,
            { prompt: 'low' },
            { prompt: 'high 1', priority: 10 },
            { prompt: 'mid', priority: 5 },
            { prompt: 'high 2', priority: 10 },
            { prompt: 'negative', priority: -1 },
          );
          const order: number[] = [];
          for (let i = 0; i < 5; i++) order.push((await leaseOne(store, 'w')).task_id);
          assert.deepEqual(order, ids([high1!, high2!, mid!, low!, negative!]));
        }),
      );

      it(
        'respects max_tasks and never hands out one task twice',
        fresh(async ({ store }) => {
          await enqueue(store, 'a', 'b', 'c', 'd', 'e');
          assert.deepEqual(await leaseTasks(store, { worker_id: 'w', max_tasks: 0, lease_seconds: 30 }), []);
          await assertStatsExact(store, { queued: 5 });
          const three = await leaseTasks(store, { worker_id: 'w', max_tasks: 3, lease_seconds: 30 });
          assert.equal(three.length, 3);
          const rest = await leaseTasks(store, { worker_id: 'w2', max_tasks: 10, lease_seconds: 30 });
          assert.equal(rest.length, 2);
          assert.equal(new Set(ids([...three, ...rest])).size, 5);
          await assertStatsExact(store, { leased: 5 });
        }),
      );

      it(
        'leases issued at the same moment never share a task',
        fresh(async ({ store }) => {
          await enqueue(store, 'a', 'b', 'c', 'd', 'e', 'f', 'g');
          const batches = await Promise.all(
            ['w1', 'w2', 'w3'].map((worker_id) =>
              leaseTasks(store, { worker_id, max_tasks: 3, lease_seconds: 30 }),
            ),
          );
          const all = batches.flat();
          assert.equal(all.length, 7);
          assert.equal(new Set(ids(all)).size, 7);
          await assertStatsExact(store, { leased: 7 });
        }),
      );

      it(
        'does not hand out a lease that has not run out',
        fresh(async ({ store, clock }) => {
          await enqueue(store, 'x');
          await leaseOne(store, 'holder', { lease_seconds: 30 });
          clock.advance(29.5);
          assert.deepEqual(await leaseTasks(store, { ...LEASE, worker_id: 'other' }), []);
        }),
      );

      it(
        'hands an expired lease to the next worker with a new token, counting the expiry',
        fresh(async ({ store, clock }) => {
          const [task] = await enqueue(store, 'x');
          const first = await leaseOne(store, 'dead', { lease_seconds: 30 });
          clock.advance(30.5);
          const second = await leaseOne(store, 'alive', { lease_seconds: 60 });
          assert.equal(second.task_id, task!.task_id);
          assert.equal(second.worker_id, 'alive');
          assert.equal(second.leased_until, clock.t + 60);
          assert.notEqual(second.lease_token, first.lease_token);
          assert.equal(second.lease_expirations, 1);
          assert.equal(second.attempts, 2);
          await assertStatsExact(store, { leased: 1 });
        }),
      );

      it(
        'lets the holder of a lease that ran out still ack while nobody else took the task',
        fresh(async ({ store, clock }) => {
          await enqueue(store, 'x');
          const held = await leaseOne(store, 'slow', { lease_seconds: 10 });
          clock.advance(100);
          const { task } = await store.ack({
            task_id: held.task_id,
            lease_token: held.lease_token,
            worker_id: 'slow',
            status: 'done',
            result: 'late but fine',
          });
          assert.equal(task.status, 'done');
          assert.equal(task.result, 'late but fine');
        }),
      );

      it(
        'routes by backend: a worker without one gets only unrouted tasks, with one never another backend',
        fresh(async ({ store, clock }) => {
          const [forX, plain, forY] = await enqueue(
            store,
            { prompt: 'x', backend: 'x' },
            { prompt: 'plain' },
            { prompt: 'y', backend: 'y' },
          );
          const anyone = await leaseTasks(store, { worker_id: 'none', max_tasks: 10, lease_seconds: 30 });
          assert.deepEqual(ids(anyone), [plain!.task_id]);
          await store.release({ task_id: plain!.task_id, lease_token: anyone[0]!.lease_token });

          const x = await leaseTasks(store, {
            worker_id: 'wx',
            backend: 'x',
            max_tasks: 10,
            lease_seconds: 30,
          });
          assert.deepEqual(ids(x).sort(), ids([forX!, plain!]).sort());

          // Expired leases follow the same routing.
          clock.advance(31);
          const none = await leaseTasks(store, { worker_id: 'none', max_tasks: 10, lease_seconds: 30 });
          assert.deepEqual(ids(none), [plain!.task_id]);
          const y = await leaseTasks(store, {
            worker_id: 'wy',
            backend: 'y',
            max_tasks: 10,
            lease_seconds: 30,
          });
          assert.deepEqual(ids(y), [forY!.task_id]);
          const x2 = await leaseTasks(store, {
            worker_id: 'wx2',
            backend: 'x',
            max_tasks: 10,
            lease_seconds: 30,
          });
          assert.deepEqual(ids(x2), [forX!.task_id]);
          await assertStatsExact(store, { leased: 3 });
        }),
      );
      it(
        'routes by tags: every tag of the task must be among the worker tags',
        fresh(async ({ store }) => {
          const [gpu, gpuBig, plain] = await enqueue(
            store,
            { prompt: 'gpu', tags: ['gpu'] },
            { prompt: 'gpu big', tags: ['gpu', 'big'] },
            { prompt: 'plain' },
          );
          const untagged = await leaseTasks(store, { worker_id: 'w0', max_tasks: 10, lease_seconds: 30 });
          assert.deepEqual(ids(untagged), [plain!.task_id]);
          const gpuOnly = await leaseTasks(store, {
            worker_id: 'w1',
            tags: ['gpu'],
            max_tasks: 10,
            lease_seconds: 30,
          });
          assert.deepEqual(ids(gpuOnly), [gpu!.task_id]);
          const both = await leaseTasks(store, {
            worker_id: 'w2',
            tags: ['big', 'fast', 'gpu'],
            max_tasks: 10,
            lease_seconds: 30,
          });
          assert.deepEqual(ids(both), [gpuBig!.task_id]);
        }),
      );

      it(
        'does not hand out a delayed task before its time',
        fresh(async ({ store, clock }) => {
          const [task] = await enqueue(store, 'x');
          const held = await leaseOne(store, 'w');
          const released = await store.release({
            task_id: task!.task_id,
            lease_token: held.lease_token,
            delay_ms: 5000,
          });
          assert.equal(released.available_at, clock.t + 5);
          assert.equal(await store.nextWakeAt(), clock.t + 5);
          clock.advance(4.5);
          assert.deepEqual(await leaseTasks(store, { ...LEASE, worker_id: 'w' }), []);
          clock.advance(0.5);
          assert.equal((await leaseOne(store, 'w')).task_id, task!.task_id);
        }),
      );

      it(
        'fails a task whose lease keeps running out (poison) instead of handing it out again',
        withStore({ max_lease_expirations: 2 }, async ({ store, clock }) => {
          const [poison] = await enqueue(store, 'kills its agent');
          await leaseOne(store, 'a', { lease_seconds: 10 });
          clock.advance(11);
          const again = await leaseOne(store, 'b', { lease_seconds: 10 });
          assert.equal(again.lease_expirations, 1);
          const [healthy] = await enqueue(store, 'fine');
          clock.advance(11);
          // The second expiry is the last: the task fails, and the lease still serves the next task.
          const result = await store.lease({ worker_id: 'c', max_tasks: 1, lease_seconds: 10 });
          assert.deepEqual(ids(result.tasks), [healthy!.task_id]);
          const told = result.expired;
          const failed = await getOne(store, poison!.task_id);
          assert.equal(failed.status, 'failed');
          assert.equal(failed.error_kind, 'lease_expired');
          assert.deepEqual(
            told.map((task) => [task.task_id, task.status, task.error_kind]),
            [[poison!.task_id, 'failed', 'lease_expired']],
            'the lease answers with the task it failed',
          );
          assert.equal(failed.lease_expirations, 2);
          assert.equal(failed.leased_until, null);
          assert.equal(typeof failed.error, 'string');
          clock.advance(100);
          // The failed task stays failed however long it waits; only the healthy task's lease can run out.
          assert.deepEqual(
            ids(await leaseTasks(store, { worker_id: 'd', max_tasks: 10, lease_seconds: 10 })),
            [healthy!.task_id],
          );
          await assertStatsExact(store, { failed: 1, leased: 1 });
        }),
      );
    });

    describe('ack', () => {
      it(
        'done stores the result, ends the lease and keeps the worker',
        fresh(async ({ store, clock }) => {
          await enqueue(store, 'x');
          const held = await leaseOne(store, 'w');
          clock.advance(2);
          const transition = await store.ack({
            task_id: held.task_id,
            lease_token: held.lease_token,
            worker_id: 'w',
            status: 'done',
            result: 'the answer',
            duration_ms: 1234,
            usage: { input_tokens: 10, output_tokens: 20 },
          });
          assert.ok(!transition.requeued);
          const task = transition.task;
          assert.equal(task.status, 'done');
          assert.equal(task.result, 'the answer');
          assert.equal(task.error, null);
          assert.equal(task.leased_until, null);
          assert.equal(task.lease_token, null);
          assert.equal(task.worker_id, 'w');
          assert.equal(task.updated_at, clock.t);
          assert.equal(task.duration_ms, 1234);
          assert.deepEqual(task.usage, { input_tokens: 10, output_tokens: 20 });
          assert.deepEqual(await getOne(store, held.task_id), task);
          await assertStatsExact(store, { done: 1 });
        }),
      );

      it(
        'failed with no attempts left is final and keeps the error and its kind',
        fresh(async ({ store }) => {
          await enqueue(store, 'x');
          const held = await leaseOne(store, 'w');
          const { task, requeued } = await store.ack({
            task_id: held.task_id,
            lease_token: held.lease_token,
            status: 'failed',
            error: 'not logged in',
            error_kind: 'auth',
            error_fix: 'run the CLI login',
          });
          assert.ok(!requeued);
          assert.equal(task.status, 'failed');
          assert.equal(task.error, 'not logged in');
          assert.equal(task.error_kind, 'auth');
          assert.equal(task.error_fix, 'run the CLI login');
          assert.equal(task.worker_id, 'w');
          assert.equal(task.leased_until, null);
          assert.deepEqual(await leaseTasks(store, { ...LEASE, worker_id: 'w' }), []);
          await assertStatsExact(store, { failed: 1 });
        }),
      );

      it(
        'failed with attempts left goes back to the queue after an exponential, capped backoff',
        withStore(
          { default_max_attempts: 4, backoff_base_ms: 2000, backoff_max_ms: 5000 },
          async ({ store, clock }) => {
            const [task] = await enqueue(store, 'flaky');
            const expectedWaits = [2, 4, 5]; // 2 * 2^0, 2 * 2^1, 2 * 2^2 capped at 5
            for (const [index, wait] of expectedWaits.entries()) {
              const held = await leaseOne(store, 'w');
              assert.equal(held.attempts, index + 1);
              const { task: back, requeued } = await store.ack({
                task_id: task!.task_id,
                lease_token: held.lease_token,
                status: 'failed',
                error: `failure ${index + 1}`,
              });
              assert.equal(requeued, true);
              assert.equal(back.status, 'queued');
              assert.equal(back.available_at, clock.t + wait);
              assert.equal(back.attempts, index + 1);
              assert.equal(back.worker_id, null);
              assert.equal(back.leased_until, null);
              assert.equal(back.error, `failure ${index + 1}`);
              await assertStatsExact(store, { queued: 1 });
              assert.equal(await store.nextWakeAt(), clock.t + wait);
              clock.advance(wait - 0.25);
              assert.deepEqual(
                await leaseTasks(store, { ...LEASE, worker_id: 'w' }),
                [],
                'still backing off',
              );
              clock.advance(0.25);
            }
            const last = await leaseOne(store, 'w');
            assert.equal(last.attempts, 4);
            const { task: final, requeued } = await store.ack({
              task_id: task!.task_id,
              lease_token: last.lease_token,
              status: 'failed',
              error: 'failure 4',
            });
            assert.ok(!requeued);
            assert.equal(final.status, 'failed');
            assert.equal(final.attempts, 4);
            await assertStatsExact(store, { failed: 1 });
          },
        ),
      );

      it(
        'a task max_attempts overrides the policy default',
        fresh(async ({ store }) => {
          await enqueue(store, { prompt: 'x', max_attempts: 2 });
          const first = await leaseOne(store, 'w');
          const { requeued } = await store.ack({ task_id: first.task_id, status: 'failed', error: 'e' });
          assert.equal(requeued, true);
        }),
      );

      it(
        'retryable: false fails at once whatever attempts remain',
        withStore({ default_max_attempts: 5 }, async ({ store }) => {
          await enqueue(store, 'malformed');
          const held = await leaseOne(store, 'w');
          const { task, requeued } = await store.ack({
            task_id: held.task_id,
            lease_token: held.lease_token,
            status: 'failed',
            error: 'the prompt cannot be parsed',
            retryable: false,
          });
          assert.ok(!requeued);
          assert.equal(task.status, 'failed');
          assert.equal(task.attempts, 1);
          await assertStatsExact(store, { failed: 1 });
        }),
      );

      it(
        'of a task that does not exist is not_found',
        fresh(async ({ store }) => {
          await enqueue(store, 'x');
          await refusedAndUnchanged(
            store,
            () => store.ack({ task_id: 999_999, status: 'done' }),
            'not_found',
            999_999,
          );
          await refusedAndUnchanged(
            store,
            () => store.ack({ task_id: 999_999, status: 'failed' }),
            'not_found',
          );
        }),
      );

      it(
        'of a task that is not leased is a conflict and changes nothing',
        fresh(async ({ store }) => {
          const [queued, done, failed, canceled] = await enqueue(
            store,
            'queued',
            'done',
            'failed',
            'canceled',
          );
          const leased = await leaseTasks(store, { worker_id: 'w', max_tasks: 4, lease_seconds: 30 });
          const tokenOf = (task: Task) => leased.find((t) => t.task_id === task.task_id)!.lease_token;
          await store.ack({
            task_id: done!.task_id,
            lease_token: tokenOf(done!),
            status: 'done',
            result: 'r',
          });
          await store.ack({
            task_id: failed!.task_id,
            lease_token: tokenOf(failed!),
            status: 'failed',
            error: 'e',
          });
          await store.cancel(canceled!.task_id);
          await store.release({ task_id: queued!.task_id, lease_token: tokenOf(queued!) });

          for (const task of [queued!, done!, failed!, canceled!]) {
            for (const status of ['done', 'failed'] as const) {
              // v0.1 style (no proof) and v1 style (the old token) alike.
              await refusedAndUnchanged(
                store,
                () => store.ack({ task_id: task.task_id, status, result: 'overwrite?', error: 'overwrite?' }),
                'conflict',
                task.task_id,
              );
              await refusedAndUnchanged(
                store,
                () =>
                  store.ack({ task_id: task.task_id, lease_token: tokenOf(task), worker_id: 'w', status }),
                'conflict',
              );
            }
          }
          await assertStatsExact(store, { queued: 1, done: 1, failed: 1, canceled: 1 });
        }),
      );

      it(
        'with a stale lease token (the task was leased again) is a conflict and changes nothing',
        fresh(async ({ store, clock }) => {
          await enqueue(store, 'x');
          const old = await leaseOne(store, 'slow', { lease_seconds: 10 });
          clock.advance(11);
          const current = await leaseOne(store, 'fast');
          for (const status of ['done', 'failed'] as const) {
            await refusedAndUnchanged(
              store,
              () =>
                store.ack({ task_id: old.task_id, lease_token: old.lease_token, status, result: 'stale' }),
              'conflict',
              old.task_id,
            );
            // Same worker name does not help: the token decides.
            await refusedAndUnchanged(
              store,
              () =>
                store.ack({ task_id: old.task_id, lease_token: old.lease_token, worker_id: 'fast', status }),
              'conflict',
            );
          }
          const { task } = await store.ack({
            task_id: current.task_id,
            lease_token: current.lease_token,
            status: 'done',
            result: 'fresh',
          });
          assert.equal(task.result, 'fresh');
          assert.equal(task.worker_id, 'fast');
        }),
      );

      it(
        'from a worker that does not hold the lease is a conflict and changes nothing',
        fresh(async ({ store }) => {
          await enqueue(store, 'x');
          const held = await leaseOne(store, 'owner');
          for (const status of ['done', 'failed'] as const) {
            await refusedAndUnchanged(
              store,
              () => store.ack({ task_id: held.task_id, worker_id: 'intruder', status }),
              'conflict',
              held.task_id,
            );
          }
          const { task } = await store.ack({ task_id: held.task_id, worker_id: 'owner', status: 'done' });
          assert.equal(task.status, 'done');
        }),
      );

      it(
        'v0.1 style (no token, no worker id) on a leased task works',
        fresh(async ({ store }) => {
          const [a, b] = await enqueue(store, 'a', 'b');
          await leaseTasks(store, { worker_id: 'old-agent', max_tasks: 2, lease_seconds: 30 });
          const done = await store.ack({ task_id: a!.task_id, status: 'done', result: 'ok' });
          assert.equal(done.task.status, 'done');
          assert.equal(done.task.result, 'ok');
          assert.equal(done.task.worker_id, 'old-agent');
          const failed = await store.ack({ task_id: b!.task_id, status: 'failed', error: 'boom' });
          assert.equal(failed.task.status, 'failed');
          assert.equal(failed.task.error, 'boom');
          await assertStatsExact(store, { done: 1, failed: 1 });
        }),
      );
    });

    describe('extend', () => {
      it(
        'moves the end of the lease, so the task is not handed out at the old deadline',
        fresh(async ({ store, clock }) => {
          await enqueue(store, 'long');
          const held = await leaseOne(store, 'w', { lease_seconds: 10 });
          clock.advance(8);
          const extended = await store.extend({
            task_id: held.task_id,
            lease_token: held.lease_token,
            lease_seconds: 30,
          });
          assert.equal(extended.leased_until, clock.t + 30);
          assert.equal(extended.status, 'leased');
          assert.equal(extended.worker_id, 'w');
          clock.advance(10);
          assert.deepEqual(await leaseTasks(store, { ...LEASE, worker_id: 'other' }), []);
          assert.equal((await getOne(store, held.task_id)).leased_until, clock.t + 20);
          const { task } = await store.ack({
            task_id: held.task_id,
            lease_token: held.lease_token,
            status: 'done',
          });
          assert.equal(task.status, 'done');
        }),
      );

      it(
        'needs the current lease: stale token, other worker or no lease is a conflict; unknown id not_found',
        fresh(async ({ store, clock }) => {
          const [task, idle] = await enqueue(store, 'x', 'idle');
          const old = await leaseOne(store, 'slow', { lease_seconds: 10 });
          clock.advance(11);
          const current = await leaseOne(store, 'fast', { lease_seconds: 10 });
          assert.equal(current.task_id, task!.task_id);
          const extend = (claim: object) => () =>
            store.extend({ task_id: task!.task_id, lease_seconds: 60, ...claim });
          await refusedAndUnchanged(
            store,
            extend({ lease_token: old.lease_token }),
            'conflict',
            task!.task_id,
          );
          await refusedAndUnchanged(store, extend({ worker_id: 'slow' }), 'conflict');
          await refusedAndUnchanged(
            store,
            () => store.extend({ task_id: idle!.task_id, lease_seconds: 60 }),
            'conflict',
            idle!.task_id,
          );
          await refusedAndUnchanged(
            store,
            () => store.extend({ task_id: 424_242, lease_seconds: 60 }),
            'not_found',
          );
          await store.ack({ task_id: task!.task_id, lease_token: current.lease_token, status: 'done' });
          await refusedAndUnchanged(store, extend({ lease_token: current.lease_token }), 'conflict');
        }),
      );
    });

    describe('release', () => {
      it(
        'gives the task back to the queue and refunds the attempt',
        fresh(async ({ store, clock }) => {
          const [task] = await enqueue(store, 'x');
          const held = await leaseOne(store, 'w');
          clock.advance(1);
          const released = await store.release({
            task_id: task!.task_id,
            lease_token: held.lease_token,
            worker_id: 'w',
            error: 'shutting down',
            error_kind: 'shutdown',
          });
          assert.equal(released.status, 'queued');
          assert.equal(released.attempts, 0);
          assert.equal(released.worker_id, null);
          assert.equal(released.leased_until, null);
          assert.equal(released.lease_token, null);
          assert.equal(released.available_at, 0);
          assert.equal(released.lease_expirations, 0);
          assert.equal(released.updated_at, clock.t);
          await assertStatsExact(store, { queued: 1 });
          const again = await leaseOne(store, 'w2');
          assert.equal(again.task_id, task!.task_id);
          assert.equal(again.attempts, 1);
          assert.notEqual(again.lease_token, held.lease_token);
        }),
      );

      it(
        'needs the lease: not leased or a stale token is a conflict; unknown id not_found',
        fresh(async ({ store, clock }) => {
          const [task, idle] = await enqueue(store, 'x', 'idle');
          const old = await leaseOne(store, 'slow', { lease_seconds: 10 });
          clock.advance(11);
          const current = await leaseOne(store, 'fast');
          assert.equal(current.task_id, task!.task_id);
          await refusedAndUnchanged(
            store,
            () => store.release({ task_id: task!.task_id, lease_token: old.lease_token }),
            'conflict',
            task!.task_id,
          );
          await refusedAndUnchanged(
            store,
            () => store.release({ task_id: task!.task_id, worker_id: 'slow' }),
            'conflict',
          );
          await refusedAndUnchanged(
            store,
            () => store.release({ task_id: idle!.task_id }),
            'conflict',
            idle!.task_id,
          );
          await refusedAndUnchanged(store, () => store.release({ task_id: 777_777 }), 'not_found', 777_777);
        }),
      );
    });

    describe('cancel', () => {
      it(
        'cancels queued and leased tasks; they are not handed out and their holder cannot ack',
        fresh(async ({ store }) => {
          const [queued, leased] = await enqueue(store, 'queued', { prompt: 'leased', priority: 1 });
          const held = await leaseOne(store, 'w');
          assert.equal(held.task_id, leased!.task_id);
          const canceledQueued = await store.cancel(queued!.task_id);
          assert.equal(canceledQueued.status, 'canceled');
          const canceledLeased = await store.cancel(leased!.task_id);
          assert.equal(canceledLeased.status, 'canceled');
          assert.equal(canceledLeased.leased_until, null);
          assert.equal(canceledLeased.lease_token, null);
          await assertStatsExact(store, { canceled: 2 });
          assert.deepEqual(await leaseTasks(store, { worker_id: 'w', max_tasks: 10, lease_seconds: 30 }), []);
          await refusedAndUnchanged(
            store,
            () => store.ack({ task_id: held.task_id, lease_token: held.lease_token, status: 'done' }),
            'conflict',
          );
        }),
      );

      it(
        'of a finished task is a conflict, of an unknown one not_found, and changes nothing',
        fresh(async ({ store }) => {
          const [task] = await enqueue(store, 'x');
          const held = await leaseOne(store, 'w');
          await store.ack({ task_id: task!.task_id, lease_token: held.lease_token, status: 'done' });
          await refusedAndUnchanged(store, () => store.cancel(task!.task_id), 'conflict', task!.task_id);
          const [other] = await enqueue(store, 'y');
          await store.cancel(other!.task_id);
          await refusedAndUnchanged(store, () => store.cancel(other!.task_id), 'conflict', other!.task_id);
          await refusedAndUnchanged(store, () => store.cancel(31_337), 'not_found', 31_337);
        }),
      );
    });

    describe('get', () => {
      it(
        'returns tasks in the order asked, leaves out missing ids and never shows a lease token',
        fresh(async ({ store }) => {
          const [a, b, c] = await enqueue(store, 'a', 'b', 'c');
          const held = await leaseOne(store, 'w');
          const found = await store.get([c!.task_id, 999_999, a!.task_id, b!.task_id]);
          assert.deepEqual(ids(found), ids([c!, a!, b!]));
          const leased = found.find((t) => t.task_id === held.task_id)!;
          assert.equal(leased.status, 'leased');
          assert.equal(leased.worker_id, 'w');
          assert.equal(leased.lease_token, null);
          assert.deepEqual(await store.get([]), []);
          assert.deepEqual(await store.get([424_242]), []);
        }),
      );
    });

    describe('list', () => {
      it(
        'lists newest first and filters by status, backend, before_id and search; limit <= 0 is all',
        fresh(async ({ store }) => {
          const tasks = await enqueue(
            store,
            { prompt: 'Refactor the Parser' },
            { prompt: 'write docs', backend: 'claude' },
            { prompt: 'fix parser bug', backend: 'codex' },
            { prompt: 'review', backend: 'claude' },
            { prompt: 'PARSER tests' },
          );
          const [t1, t2, t3, t4, t5] = tasks as [Task, Task, Task, Task, Task];
          const newestFirst = ids([t5, t4, t3, t2, t1]);
          assert.deepEqual(ids(await store.list({ limit: 0 })), newestFirst);
          assert.deepEqual(ids(await store.list({ limit: -1 })), newestFirst);
          assert.deepEqual(ids(await store.list({ limit: 2 })), newestFirst.slice(0, 2));
          assert.deepEqual(ids(await store.list({ limit: 50 })), newestFirst);

          await leaseOne(store, 'w'); // t1, the oldest
          assert.deepEqual(ids(await store.list({ limit: 0, status: 'leased' })), [t1.task_id]);
          assert.deepEqual(ids(await store.list({ limit: 0, status: 'queued' })), ids([t5, t4, t3, t2]));
          assert.deepEqual(await store.list({ limit: 0, status: 'done' }), []);
          assert.deepEqual(ids(await store.list({ limit: 0, backend: 'claude' })), ids([t4, t2]));
          assert.deepEqual(ids(await store.list({ limit: 0, before_id: t4.task_id })), ids([t3, t2, t1]));
          assert.deepEqual(ids(await store.list({ limit: 1, before_id: t4.task_id })), [t3.task_id]);
          assert.deepEqual(ids(await store.list({ limit: 0, search: 'parser' })), ids([t5, t3, t1]));
          assert.deepEqual(
            ids(await store.list({ limit: 0, search: 'Parser', status: 'queued' })),
            ids([t5, t3]),
          );
          assert.deepEqual(
            ids(await store.list({ limit: 0, search: 'e', backend: 'claude', before_id: t4.task_id })),
            [t2.task_id],
          );
          assert.deepEqual(await store.list({ limit: 0, search: 'no such words' }), []);
          for (const task of await store.list({ limit: 0 })) assert.equal(task.lease_token, null);
        }),
      );
    });

    describe('stats', () => {
      it(
        'has all five statuses, zero on an empty store',
        fresh(async ({ store }) => {
          assert.deepEqual(await store.stats(), { queued: 0, leased: 0, done: 0, failed: 0, canceled: 0 });
        }),
      );

      it(
        'stays exact through every kind of transition and every refused write',
        withStore({ default_max_attempts: 2, max_lease_expirations: 2 }, async ({ store, clock }) => {
          const steps: [string, () => Promise<unknown>][] = [];
          const leaseAllAfter = (seconds: number, worker_id: string) => {
            clock.advance(seconds);
            return leaseTasks(store, { worker_id, max_tasks: 10, lease_seconds: 10 });
          };
          const [a, b, c, d, e] = await enqueue(store, 'a', 'b', 'c', 'd', 'e');
          await assertStatsExact(store, { queued: 5 });
          const leased = await leaseTasks(store, { worker_id: 'w', max_tasks: 5, lease_seconds: 10 });
          const token = (task: Task) => leased.find((t) => t.task_id === task.task_id)!.lease_token;
          steps.push(
            ['ack done', () => store.ack({ task_id: a!.task_id, lease_token: token(a!), status: 'done' })],
            [
              'ack failed, requeued',
              () => store.ack({ task_id: b!.task_id, lease_token: token(b!), status: 'failed' }),
            ],
            [
              'ack failed, final',
              () =>
                store.ack({
                  task_id: c!.task_id,
                  lease_token: token(c!),
                  status: 'failed',
                  retryable: false,
                }),
            ],
            ['release', () => store.release({ task_id: d!.task_id, lease_token: token(d!) })],
            ['cancel leased', () => store.cancel(e!.task_id)],
            ['cancel queued', () => store.cancel(d!.task_id)],
            ['retry failed', () => store.retryFailed()],
            ['enqueue', () => enqueue(store, 'f', 'g')],
            ['lease after backoff', () => leaseAllAfter(60, 'w')],
            ['expire and re-lease', () => leaseAllAfter(11, 'v')],
            ['poison', () => leaseAllAfter(11, 'u')],
            ['retry one', () => store.retryFailed([b!.task_id])],
          );
          const refusedWrites: [string, () => Promise<unknown>][] = [
            ['ack unknown', () => store.ack({ task_id: 999_999, status: 'done' })],
            ['ack done task', () => store.ack({ task_id: a!.task_id, status: 'failed' })],
            ['cancel done task', () => store.cancel(a!.task_id)],
            ['release done task', () => store.release({ task_id: a!.task_id })],
            ['extend done task', () => store.extend({ task_id: a!.task_id, lease_seconds: 5 })],
            [
              'invalid batch',
              () => store.enqueue([{ prompt: 'ok' }, { prompt: null } as unknown as NewTask]),
            ],
          ];
          for (const [label, step] of steps) {
            await step();
            await assertStatsExact(store).catch((error: Error) => {
              throw new Error(`after ${label}: ${error.message}`);
            });
            for (const [refusedLabel, write] of refusedWrites) {
              const before = await snapshot(store);
              await assert.rejects(write(), `${refusedLabel} should be refused`);
              assert.deepEqual(
                await snapshot(store),
                before,
                `${refusedLabel} after ${label} changed something`,
              );
            }
          }
          const final = await store.stats();
          assert.equal(
            Object.values(final).reduce((sum, n) => sum + n, 0),
            7,
          );
        }),
      );
    });

    describe('retryFailed', () => {
      it(
        'puts every failed task back in the queue with its worker, lease, result and error cleared',
        withStore({ max_lease_expirations: 1 }, async ({ store, clock }) => {
          const [failed, poisoned, done] = await enqueue(store, 'failed', 'poisoned', 'done');
          const leased = await leaseTasks(store, { worker_id: 'w', max_tasks: 3, lease_seconds: 10 });
          const token = (task: Task) => leased.find((t) => t.task_id === task.task_id)!.lease_token;
          await store.ack({
            task_id: failed!.task_id,
            lease_token: token(failed!),
            status: 'failed',
            result: 'partial',
            error: 'boom',
            error_kind: 'unknown',
            error_fix: 'look at it',
          });
          await store.ack({
            task_id: done!.task_id,
            lease_token: token(done!),
            status: 'done',
            result: 'kept',
          });
          clock.advance(11);
          assert.deepEqual(await leaseTasks(store, { ...LEASE, worker_id: 'x' }), []); // poisons the expired one
          assert.equal((await getOne(store, poisoned!.task_id)).status, 'failed');
          await assertStatsExact(store, { failed: 2, done: 1 });

          clock.advance(1);
          assert.equal(await store.retryFailed(), 2);
          for (const id of [failed!.task_id, poisoned!.task_id]) {
            const task = await getOne(store, id);
            assert.equal(task.status, 'queued');
            assert.equal(task.worker_id, null);
            assert.equal(task.leased_until, null);
            assert.equal(task.result, null);
            assert.equal(task.error, null);
            assert.equal(task.error_kind, null);
            assert.equal(task.error_fix, null);
            assert.equal(task.attempts, 0);
            assert.equal(task.lease_expirations, 0);
            assert.equal(task.available_at, 0);
            assert.equal(task.updated_at, clock.t);
          }
          const kept = await getOne(store, done!.task_id);
          assert.equal(kept.status, 'done');
          assert.equal(kept.result, 'kept');
          await assertStatsExact(store, { queued: 2, done: 1 });
          assert.equal(await store.retryFailed(), 0);
          const again = await leaseTasks(store, { worker_id: 'w', max_tasks: 10, lease_seconds: 10 });
          assert.deepEqual(ids(again).sort(), [failed!.task_id, poisoned!.task_id].sort());
        }),
      );

      it(
        'with ids retries only those failed tasks, ignoring ids that are not failed or do not exist',
        fresh(async ({ store }) => {
          const [f1, f2, f3, q] = await enqueue(store, 'f1', 'f2', 'f3', { prompt: 'q', priority: -1 });
          const leased = await leaseTasks(store, { worker_id: 'w', max_tasks: 3, lease_seconds: 10 });
          for (const task of leased) {
            await store.ack({
              task_id: task.task_id,
              lease_token: task.lease_token,
              status: 'failed',
              error: 'x',
            });
          }
          assert.equal(await store.retryFailed([f1!.task_id, f3!.task_id, q!.task_id, 999_999]), 2);
          assert.equal((await getOne(store, f1!.task_id)).status, 'queued');
          assert.equal((await getOne(store, f2!.task_id)).status, 'failed');
          assert.equal((await getOne(store, f3!.task_id)).status, 'queued');
          assert.equal(await store.retryFailed([]), 0);
          await assertStatsExact(store, { queued: 3, failed: 1 });
        }),
      );
    });

    describe('nextWakeAt', () => {
      it(
        'is the earliest lease end or backoff end, and null when nothing waits on the clock',
        withStore({ default_max_attempts: 3, backoff_base_ms: 4000 }, async ({ store, clock }) => {
          assert.equal(await store.nextWakeAt(), null);
          const [a, b] = await enqueue(store, 'a', 'b');
          assert.equal(await store.nextWakeAt(), null, 'ready tasks need no wake-up');
          const start = clock.t;
          const first = await leaseOne(store, 'w', { lease_seconds: 10 });
          const second = await leaseOne(store, 'w', { lease_seconds: 20 });
          assert.deepEqual(ids([first, second]), ids([a!, b!]));
          assert.equal(await store.nextWakeAt(), start + 10);
          clock.advance(1);
          await store.ack({ task_id: a!.task_id, lease_token: first.lease_token, status: 'failed' });
          assert.equal(await store.nextWakeAt(), clock.t + 4, 'the backoff ends before the other lease');
          const [requeued] = await store.get([a!.task_id]);
          assert.equal(requeued!.available_at, clock.t + 4);
          await store.extend({ task_id: b!.task_id, lease_token: second.lease_token, lease_seconds: 2 });
          assert.equal(await store.nextWakeAt(), clock.t + 2, 'the lease now ends first');
          await store.ack({ task_id: b!.task_id, lease_token: second.lease_token, status: 'done' });
          assert.equal(await store.nextWakeAt(), clock.t + 4);
          await store.cancel(a!.task_id);
          assert.equal(await store.nextWakeAt(), null);
        }),
      );

      it(
        'ignores a lease that already ran out and a backoff that already ended (they are available now)',
        withStore({ default_max_attempts: 3, backoff_base_ms: 1000 }, async ({ store, clock }) => {
          const [a] = await enqueue(store, 'a', { prompt: 'b', backend: 'nobody-runs-this' });
          const held = await leaseOne(store, 'w', { lease_seconds: 5 });
          assert.equal(held.task_id, a!.task_id);
          clock.advance(6);
          const wake = await store.nextWakeAt();
          assert.ok(wake === null || wake > clock.t, `nextWakeAt ${wake} is in the past (now ${clock.t})`);
          const again = await leaseOne(store, 'v', { lease_seconds: 5 });
          await store.ack({ task_id: again.task_id, lease_token: again.lease_token, status: 'failed' });
          clock.advance(3);
          const later = await store.nextWakeAt();
          assert.ok(later === null || later > clock.t, `nextWakeAt ${later} is in the past (now ${clock.t})`);
        }),
      );
    });

    describe('writes issued together', () => {
      it(
        'settle independently: one refused write does not undo the others',
        fresh(async ({ store }) => {
          const [leasedTask] = await enqueue(store, 'to lease');
          const held = await leaseOne(store, 'w');
          const results = await Promise.allSettled([
            enqueue(store, 'one'),
            store.ack({ task_id: 999_999, status: 'done' }),
            store.enqueue([{ prompt: 'doomed' }, { prompt: null } as unknown as NewTask]),
            store.ack({
              task_id: leasedTask!.task_id,
              lease_token: held.lease_token,
              status: 'done',
              result: 'r',
            }),
            store.cancel(leasedTask!.task_id),
            enqueue(store, 'two', 'three'),
          ]);
          assert.deepEqual(
            results.map((r) => r.status),
            ['fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
          );
          const prompts = (await store.list({ limit: 0 })).map((t) => t.prompt);
          assert.deepEqual(prompts, ['three', 'two', 'one', 'to lease']);
          assert.equal((await getOne(store, leasedTask!.task_id)).status, 'done');
          await assertStatsExact(store, { queued: 3, done: 1 });
        }),
      );
    });

    describe('queuedByBackend', () => {
      it(
        'counts queued tasks per backend (null: unrouted), null first, leaving out routes with none',
        fresh(async ({ store, clock }) => {
          assert.deepEqual(await store.queuedByBackend(), []);
          await enqueue(
            store,
            'any 1',
            { prompt: 'codex 1', backend: 'codex', priority: 5 },
            { prompt: 'any 2' },
            { prompt: 'codex 2', backend: 'codex' },
            { prompt: 'echo', backend: 'echo', priority: 5 },
            { prompt: 'kimi', backend: 'kimi' },
          );
          assert.deepEqual(await store.queuedByBackend(), [
            { backend: null, queued: 2, scheduled: 0 },
            { backend: 'codex', queued: 2, scheduled: 0 },
            { backend: 'echo', queued: 1, scheduled: 0 },
            { backend: 'kimi', queued: 1, scheduled: 0 },
          ]);
          // Leased, finished and canceled tasks are not queued; a released one is again.
          const echo = await leaseOne(store, 'w', { backend: 'echo' });
          const codex = await leaseOne(store, 'w', { backend: 'codex' });
          assert.deepEqual([echo.prompt, codex.prompt], ['echo', 'codex 1']);
          await store.ack({ task_id: codex.task_id, lease_token: codex.lease_token, status: 'done' });
          const [kimi] = await store.list({ limit: 0, backend: 'kimi' });
          await store.cancel(kimi!.task_id);
          assert.deepEqual(await store.queuedByBackend(), [
            { backend: null, queued: 2, scheduled: 0 },
            { backend: 'codex', queued: 1, scheduled: 0 },
          ]);
          clock.advance(1);
          await store.release({ task_id: echo.task_id, lease_token: echo.lease_token, delay_ms: 60_000 });
          assert.deepEqual(
            await store.queuedByBackend(),
            [
              { backend: null, queued: 2, scheduled: 0 },
              { backend: 'codex', queued: 1, scheduled: 0 },
              { backend: 'echo', queued: 1, scheduled: 1 },
            ],
            'a task waiting out a delay is still queued, and counted as scheduled',
          );
          clock.advance(60);
          assert.deepEqual((await store.queuedByBackend()).at(-1), {
            backend: 'echo',
            queued: 1,
            scheduled: 0,
          });
        }),
      );
    });

    describe('caps on leasing', () => {
      const worker = (
        n: number,
        backend: string | null = 'claude_code',
        extra: Partial<LeaseRequest> = {},
      ) => ({
        ...LEASE,
        worker_id: `w-${n}`,
        backend,
        max_tasks: 10,
        ...extra,
      });
      const routed = (n: number, extra: Partial<NewTask> = {}) =>
        Array.from({ length: n }, (_, i) => ({ prompt: `t${i}`, backend: 'claude_code', ...extra }));

      it(
        'a cap of 1 never grants 2, whatever the workers ask; unrouted tasks count against the backend too',
        fresh(async ({ store }) => {
          await enqueue(store, ...routed(3), 'unrouted');
          await store.setCap({ scope: 'claude_code', concurrency: 1, rate_per_min: null });
          const first = await leaseTasks(store, worker(1));
          assert.equal(first.length, 1);
          assert.deepEqual(await leaseTasks(store, worker(2)), []);
          assert.equal(
            (await leaseTasks(store, worker(3, 'codex'))).length,
            1,
            'another backend is not capped',
          );
          const [state] = await store.caps();
          assert.deepEqual(state, {
            scope: 'claude_code',
            concurrency: 1,
            rate_per_min: null,
            leased: 1,
            started_last_min: 0,
            waiting: 3 - 1,
          });
        }),
      );

      it(
        'a cap of 3 grants 3, then none until an ack frees one; removing the cap lets the rest through',
        fresh(async ({ store }) => {
          await enqueue(store, ...routed(8));
          await store.setCap({ scope: 'claude_code', concurrency: 3, rate_per_min: null });
          const held = await leaseTasks(store, worker(1));
          assert.equal(held.length, 3);
          assert.deepEqual(await leaseTasks(store, worker(2)), []);
          const t = held[0]!;
          await store.ack({ task_id: t.task_id, lease_token: t.lease_token, status: 'done' });
          assert.equal((await leaseTasks(store, worker(2))).length, 1);
          assert.deepEqual(await leaseTasks(store, worker(3)), []);
          assert.equal(await store.clearCap('claude_code'), true);
          assert.equal(await store.clearCap('claude_code'), false, 'clearing twice changes nothing');
          assert.deepEqual(await store.caps(), []);
          assert.equal((await leaseTasks(store, worker(3))).length, 4);
        }),
      );

      it(
        'a tag cap holds for the tasks with the tag, and other tasks are not hidden behind them',
        fresh(async ({ store }) => {
          await enqueue(
            store,
            { prompt: 'gpu1', tags: ['gpu'], priority: 5 },
            { prompt: 'gpu2', tags: ['gpu'], priority: 5 },
            { prompt: 'plain', priority: 0 },
          );
          await store.setCap({ scope: 'tag:gpu', concurrency: 1, rate_per_min: null });
          const a = await leaseTasks(store, worker(1, null, { tags: ['gpu'], max_tasks: 1 }));
          assert.deepEqual(
            a.map((t) => t.prompt),
            ['gpu1'],
          );
          const b = await leaseTasks(store, worker(2, null, { tags: ['gpu'], max_tasks: 1 }));
          assert.deepEqual(
            b.map((t) => t.prompt),
            ['plain'],
            'the gpu task waits; the plain one goes',
          );
          assert.deepEqual(await leaseTasks(store, worker(3, null, { tags: ['gpu'] })), []);
        }),
      );

      it(
        'a rate cap allows that many starts in 60 s, and the next start when the oldest leaves the window',
        fresh(async ({ store, clock }) => {
          await enqueue(store, ...routed(5));
          await store.setCap({ scope: 'claude_code', concurrency: null, rate_per_min: 2 });
          const start = clock.t;
          const got = await leaseTasks(store, worker(1));
          assert.equal(got.length, 2);
          for (const t of got)
            await store.ack({ task_id: t.task_id, lease_token: t.lease_token, status: 'done' });
          assert.deepEqual(await leaseTasks(store, worker(2)), [], 'acks free no start');
          assert.equal(await store.nextWakeAt(), start + 60);
          clock.advance(61);
          assert.equal((await leaseTasks(store, worker(2))).length, 2);
        }),
      );

      it(
        'a cap that caps nothing is refused with nothing stored',
        fresh(async ({ store }) => {
          for (const cap of [
            { scope: 'claude_code', concurrency: 0, rate_per_min: null },
            { scope: 'claude_code', concurrency: 1.5, rate_per_min: null },
            { scope: 'claude_code', concurrency: null, rate_per_min: null },
            { scope: '', concurrency: 1, rate_per_min: null },
          ]) {
            await refused(store.setCap(cap), 'bad_request');
          }
          assert.deepEqual(await store.caps(), []);
        }),
      );
    });

    describe('pause and resume', () => {
      const worker = (backend: string | null) => ({ ...LEASE, worker_id: `w-${backend}`, backend });

      it(
        'a paused backend leases nothing to its workers; other routes go on; resume lets it through',
        fresh(async ({ store, clock }) => {
          const [codex, echo, any] = await enqueue(
            store,
            { prompt: 'codex', backend: 'codex' },
            { prompt: 'echo', backend: 'echo' },
            'any',
          );
          const pause = await store.pause({ backend: 'codex', reason: 'quota used up' });
          assert.deepEqual(pause, {
            backend: 'codex',
            paused_at: clock.t,
            until: null,
            reason: 'quota used up',
          });
          assert.deepEqual(await store.pauses(), [pause]);
          const queuedBefore = await store.queuedByBackend();
          // A codex worker would take its own tasks and the unrouted one: it gets neither.
          assert.deepEqual(await leaseTasks(store, { ...worker('codex'), max_tasks: 10 }), []);
          assert.deepEqual(await store.queuedByBackend(), queuedBefore, 'queued work stays queued');
          assert.deepEqual(ids(await leaseTasks(store, worker('echo'))), [echo!.task_id]);
          assert.deepEqual(ids(await leaseTasks(store, worker(null))), [any!.task_id]);
          clock.advance(1);
          assert.equal(await store.resume('codex'), true);
          assert.deepEqual(await store.pauses(), []);
          assert.deepEqual(ids(await leaseTasks(store, worker('codex'))), [codex!.task_id]);
          assert.equal(await store.resume('codex'), false, 'resuming what is not paused changes nothing');
        }),
      );

      it(
        'a whole-queue pause stops every lease, and a backend pause outlives its resume',
        fresh(async ({ store }) => {
          await enqueue(
            store,
            { prompt: 'codex', backend: 'codex' },
            { prompt: 'echo', backend: 'echo' },
            'any',
          );
          await store.pause({ backend: null });
          await store.pause({ backend: 'echo' });
          assert.deepEqual(
            (await store.pauses()).map((p) => p.backend),
            [null, 'echo'],
            'the whole queue first',
          );
          for (const backend of [null, 'codex', 'echo']) {
            assert.deepEqual(
              await leaseTasks(store, { ...worker(backend), max_tasks: 10 }),
              [],
              `${backend}`,
            );
          }
          assert.deepEqual(await store.stats(), { ...zeroStats(), queued: 3 });
          assert.equal(await store.resume(null), true);
          assert.deepEqual(
            (await store.pauses()).map((p) => p.backend),
            ['echo'],
          );
          assert.deepEqual(await leaseTasks(store, { ...worker('echo'), max_tasks: 10 }), []);
          assert.equal((await leaseTasks(store, { ...worker('codex'), max_tasks: 10 })).length, 2);
        }),
      );

      it(
        'tasks leased before the pause are extended, acked and released as usual',
        fresh(async ({ store, clock }) => {
          await enqueue(store, { prompt: 'a', backend: 'codex' }, { prompt: 'b', backend: 'codex' });
          const a = await leaseOne(store, 'w', { backend: 'codex' });
          const b = await leaseOne(store, 'w', { backend: 'codex' });
          await store.pause({ backend: null });
          clock.advance(5);
          await store.extend({ task_id: a.task_id, lease_token: a.lease_token, lease_seconds: 30 });
          const { task } = await store.ack({
            task_id: a.task_id,
            lease_token: a.lease_token,
            status: 'done',
          });
          assert.equal(task.status, 'done');
          const released = await store.release({ task_id: b.task_id, lease_token: b.lease_token });
          assert.equal(released.status, 'queued');
          assert.deepEqual(
            await leaseTasks(store, worker('codex')),
            [],
            'released work waits for the resume',
          );
          await assertStatsExact(store, { queued: 1, done: 1 });
        }),
      );

      it(
        'pausing again keeps the time it was paused since and takes the new until and reason',
        fresh(async ({ store, clock }) => {
          const first = await store.pause({ backend: 'codex', reason: 'first' });
          clock.advance(10);
          const again = await store.pause({ backend: 'codex', until: clock.t + 60, reason: 'second' });
          assert.deepEqual(again, {
            backend: 'codex',
            paused_at: first.paused_at,
            until: clock.t + 60,
            reason: 'second',
          });
          assert.deepEqual(await store.pauses(), [again]);
          clock.advance(61);
          const later = await store.pause({ backend: 'codex' });
          assert.equal(later.paused_at, clock.t, 'the earlier pause had ended: a new one starts now');
          assert.equal(later.reason, null);
        }),
      );

      it(
        'a pause with until ends by itself then: nextWakeAt says when, and leases go on after it',
        fresh(async ({ store, clock }) => {
          const [task] = await enqueue(store, { prompt: 'codex', backend: 'codex' });
          const until = clock.t + 30;
          await store.pause({ backend: 'codex', until });
          assert.equal(await store.nextWakeAt(), until);
          clock.advance(29);
          assert.deepEqual(await leaseTasks(store, worker('codex')), []);
          clock.advance(1);
          assert.deepEqual(await store.pauses(), [], 'an ended pause is no longer listed');
          assert.equal(await store.nextWakeAt(), null);
          assert.deepEqual(ids(await leaseTasks(store, worker('codex'))), [task!.task_id]);
          assert.equal(await store.resume('codex'), false, 'it had already ended');
        }),
      );

      it(
        'survives reopening the store',
        fresh(async ({ store, clock }) => {
          await enqueue(store, { prompt: 'codex', backend: 'codex' });
          const pause = await store.pause({ backend: 'codex', reason: 'over budget' });
          await store.close();
          const reopened = await open({ now: clock.now, reopen: store });
          try {
            assert.deepEqual(await reopened.pauses(), [pause]);
            assert.deepEqual(await leaseTasks(reopened, worker('codex')), []);
            assert.equal(await reopened.resume('codex'), true);
            assert.equal((await leaseTasks(reopened, worker('codex'))).length, 1);
          } finally {
            await reopened.close();
          }
        }),
      );
    });

    describe('spend and budgets', () => {
      // The suite's clock starts on 2023-11-14 (UTC), 1 h 46 min 40 s before midnight.
      const TODAY = '2023-11-14';
      const TOMORROW = '2023-11-15';
      const MIDNIGHT = Date.parse(`${TOMORROW}T00:00:00Z`) / 1000;
      const worker = (backend: string | null, n = 1) => ({
        ...LEASE,
        worker_id: `w-${backend}-${n}`,
        backend,
      });
      const row = (fields: Partial<SpendRow> & Pick<SpendRow, 'backend'>): SpendRow => ({
        day: TODAY,
        tasks: 1,
        cost_usd: 0,
        estimated_usd: 0,
        cost_unknown: 0,
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        ...fields,
      });
      /** Enqueue one task, lease it as a worker of `backend` and ack it with `ack` (done unless it says). */
      async function run(store: Store, backend: string | null, ack: Partial<AckRequest> = {}) {
        await enqueue(store, `for ${backend}`);
        const task = await leaseOne(store, `w-${backend}`, { backend });
        return store.ack({ task_id: task.task_id, lease_token: task.lease_token, status: 'done', ...ack });
      }

      it(
        'each accepted ack adds its cost and tokens to the row of its UTC day and its agent backend',
        fresh(async ({ store, clock }) => {
          assert.deepEqual(await store.spend(1), []);
          // Claude Code's usage keys, cost reported by the CLI (no basis given: reported).
          const { task: claude } = await run(store, 'claude_code', {
            cost_usd: 0.25,
            usage: {
              input_tokens: 100,
              output_tokens: 20,
              cache_read_input_tokens: 1000,
              cache_creation_input_tokens: 50,
            },
          });
          assert.equal(claude.cost_usd, 0.25);
          assert.equal(claude.cost_basis, 'reported');
          assert.deepEqual(await getOne(store, claude.task_id), claude);
          // Codex's keys, estimated from the price table.
          await run(store, 'codex', {
            cost_usd: 0.5,
            cost_basis: 'estimated',
            usage: { input_tokens: 10, cached_input_tokens: 5, output_tokens: 3 },
          });
          // A v0.1 agent's ack: no cost, no backend; Gemini's token keys.
          const { task: old } = await run(store, null, {
            usage: { prompt_tokens: 7, completion_tokens: 2, cached_tokens: 1 },
          });
          assert.equal(old.cost_usd, null);
          assert.equal(old.cost_basis, null);
          // Unknown cost (no price for the model), on a failure that goes back for another attempt:
          // the run happened, so it counts.
          await enqueue(store, { prompt: 'flaky', max_attempts: 2 });
          clock.advance(1);
          const flaky = await leaseOne(store, 'w-codex', { backend: 'codex' });
          const retried = await store.ack({
            task_id: flaky.task_id,
            lease_token: flaky.lease_token,
            status: 'failed',
            error: 'rate limited',
            cost_basis: 'unknown',
            usage: { input_tokens: 4 },
          });
          assert.equal(retried.requeued, true);
          assert.equal(retried.task.cost_usd, null);
          assert.equal(retried.task.cost_basis, 'unknown');
          // Its second attempt (after the retry backoff), reported this time.
          clock.advance(1.5);
          const again = await leaseOne(store, 'w-codex', { backend: 'codex' });
          assert.equal(again.task_id, flaky.task_id);
          await store.ack({
            task_id: again.task_id,
            lease_token: again.lease_token,
            status: 'done',
            cost_usd: 1.5,
            usage: { input_tokens: 6, output_tokens: 1 },
          });
          const expected = [
            row({ backend: null, cost_unknown: 1, input_tokens: 7, output_tokens: 2, cache_read_tokens: 1 }),
            row({
              backend: 'claude_code',
              cost_usd: 0.25,
              input_tokens: 100,
              output_tokens: 20,
              cache_read_tokens: 1000,
              cache_write_tokens: 50,
            }),
            row({
              backend: 'codex',
              tasks: 3,
              cost_usd: 2,
              estimated_usd: 0.5,
              cost_unknown: 1,
              input_tokens: 20,
              output_tokens: 4,
              cache_read_tokens: 5,
            }),
          ];
          assert.deepEqual(await store.spend(1), expected);
          assert.deepEqual(await store.spend(30), expected);
          // Spend outlives the tasks it was summed from.
          clock.advance(10);
          assert.ok((await store.prune({ older_than_s: 0, statuses: ['done'] })) >= 2);
          assert.deepEqual(await store.spend(1), expected);
        }),
      );

      it(
        'a refused ack (fenced, not leased, unknown task) adds nothing',
        fresh(async ({ store, clock }) => {
          await enqueue(store, 'x');
          const stale = await leaseOne(store, 'slow', { backend: 'codex', lease_seconds: 10 });
          clock.advance(11);
          const current = await leaseOne(store, 'fast', { backend: 'codex' });
          await refused(
            store.ack({
              task_id: stale.task_id,
              lease_token: stale.lease_token,
              status: 'done',
              cost_usd: 3,
            }),
            'conflict',
            stale.task_id,
          );
          await refused(store.ack({ task_id: 999_999, status: 'done', cost_usd: 3 }), 'not_found');
          assert.deepEqual(await store.spend(1), []);
          await store.ack({
            task_id: current.task_id,
            lease_token: current.lease_token,
            status: 'done',
            cost_usd: 1,
          });
          await refused(
            store.ack({
              task_id: current.task_id,
              lease_token: current.lease_token,
              status: 'done',
              cost_usd: 3,
            }),
            'conflict',
            current.task_id,
          );
          assert.deepEqual(await store.spend(1), [row({ backend: 'codex', cost_usd: 1 })]);
          // The backend is the acking agent's, not the task's route: an unrouted task here.
          assert.equal((await getOne(store, current.task_id)).backend, null);
        }),
      );

      it(
        'days follow the store clock in UTC: newest first, days=1 is today only',
        fresh(async ({ store, clock }) => {
          await run(store, 'codex', { cost_usd: 0.25 });
          await run(store, 'claude_code', { cost_usd: 0.5 });
          clock.t = MIDNIGHT - 0.25;
          await run(store, 'codex', { cost_usd: 0.25 });
          clock.t = MIDNIGHT;
          await run(store, 'codex', { cost_usd: 1 });
          const today = row({ day: TOMORROW, backend: 'codex', cost_usd: 1 });
          assert.deepEqual(await store.spend(1), [today]);
          assert.deepEqual(await store.spend(2), [
            today,
            row({ backend: 'claude_code', cost_usd: 0.5 }),
            row({ backend: 'codex', tasks: 2, cost_usd: 0.5 }),
          ]);
          await refused(store.spend(0), 'bad_request');
        }),
      );

      it(
        "a budget stops its backend leasing once the day's known cost reaches it; others lease on; clearing lifts it",
        fresh(async ({ store }) => {
          assert.deepEqual(await store.budgets(), []);
          assert.deepEqual(await store.setBudget({ backend: 'claude_code', usd_per_day: 1 }), {
            backend: 'claude_code',
            usd_per_day: 1,
          });
          await run(store, 'claude_code', { cost_usd: 0.5 });
          // Unknown cost is shown, not counted against the budget; an ack that reports neither
          // cost nor tokens (echo, shell) adds nothing at all.
          await run(store, 'claude_code', { cost_basis: 'unknown' });
          await run(store, 'claude_code', { usage: { input_tokens: 3 } });
          await run(store, 'claude_code');
          const state = {
            backend: 'claude_code',
            usd_per_day: 1,
            spent_today_usd: 0.5,
            cost_unknown_today: 2,
            exhausted: false,
            resets_at: MIDNIGHT,
          };
          assert.deepEqual(await store.budgets(), [state]);
          assert.equal(await store.nextWakeAt(), null, 'a budget with room wakes nothing');
          await run(store, 'claude_code', { cost_usd: 0.5 });
          assert.deepEqual(await store.budgets(), [{ ...state, spent_today_usd: 1, exhausted: true }]);
          // The running task finishes; no new lease for claude_code, unrouted or routed.
          await enqueue(store, 'unrouted', { prompt: 'routed', backend: 'claude_code' });
          assert.deepEqual(await leaseTasks(store, worker('claude_code')), []);
          assert.equal(await store.nextWakeAt(), MIDNIGHT, 'parked leases wake when the day turns');
          const other = await leaseOne(store, 'w-codex', { backend: 'codex' });
          assert.equal(other.prompt, 'unrouted', 'another backend still leases');
          await store.ack({
            task_id: other.task_id,
            lease_token: other.lease_token,
            status: 'done',
            cost_usd: 5,
          });
          assert.equal(await store.clearBudget('claude_code'), true);
          assert.equal(await store.clearBudget('claude_code'), false, 'clearing twice changes nothing');
          assert.deepEqual(await store.budgets(), []);
          assert.equal(await store.nextWakeAt(), null);
          assert.equal((await leaseOne(store, 'w-claude_code', { backend: 'claude_code' })).prompt, 'routed');
        }),
      );

      it(
        'an exhausted budget resets at the next UTC midnight; setting a budget again replaces it',
        fresh(async ({ store, clock }) => {
          await store.setBudget({ backend: 'codex', usd_per_day: 0.5 });
          await run(store, 'codex', { cost_usd: 0.75, cost_basis: 'estimated' });
          await enqueue(store, 'waiting');
          assert.deepEqual(await leaseTasks(store, worker('codex')), []);
          assert.deepEqual(await store.setBudget({ backend: 'codex', usd_per_day: 2 }), {
            backend: 'codex',
            usd_per_day: 2,
          });
          const [raised] = await store.budgets();
          assert.equal(raised!.exhausted, false);
          assert.equal(raised!.spent_today_usd, 0.75);
          await store.setBudget({ backend: 'codex', usd_per_day: 0.5 });
          clock.t = MIDNIGHT - 0.5;
          assert.deepEqual(await leaseTasks(store, worker('codex')), []);
          clock.t = MIDNIGHT;
          assert.deepEqual(await store.budgets(), [
            {
              backend: 'codex',
              usd_per_day: 0.5,
              spent_today_usd: 0,
              cost_unknown_today: 0,
              exhausted: false,
              resets_at: MIDNIGHT + 86_400,
            },
          ]);
          assert.equal((await leaseOne(store, 'w-codex', { backend: 'codex' })).prompt, 'waiting');
        }),
      );

      it(
        'a budget that budgets nothing is refused with nothing stored',
        fresh(async ({ store }) => {
          for (const usd_per_day of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
            await refused(store.setBudget({ backend: 'codex', usd_per_day }), 'bad_request');
          }
          await refused(store.setBudget({ backend: '', usd_per_day: 1 }), 'bad_request');
          assert.deepEqual(await store.budgets(), []);
        }),
      );

      it(
        'max_cost_usd is stored with the task and handed to its lease; absent, it is null',
        fresh(async ({ store }) => {
          const [capped, plain] = await enqueue(
            store,
            { prompt: 'capped', max_cost_usd: 2.5, priority: 1 },
            'plain',
          );
          assert.equal(capped!.max_cost_usd, 2.5);
          assert.equal(plain!.max_cost_usd, null);
          assert.deepEqual(await getOne(store, capped!.task_id), capped);
          const leased = await leaseOne(store, 'w');
          assert.equal(leased.task_id, capped!.task_id);
          assert.equal(leased.max_cost_usd, 2.5);
        }),
      );

      it(
        'spend and budgets survive reopening the store',
        fresh(async ({ store, clock }) => {
          await store.setBudget({ backend: 'codex', usd_per_day: 1 });
          await run(store, 'codex', { cost_usd: 1, usage: { input_tokens: 3 } });
          const spend = await store.spend(1);
          const budgets = await store.budgets();
          await store.close();
          const reopened = await open({ now: clock.now, reopen: store });
          try {
            assert.deepEqual(await reopened.spend(1), spend);
            assert.deepEqual(await reopened.budgets(), budgets);
            await enqueue(reopened, 'waiting');
            assert.deepEqual(await leaseTasks(reopened, worker('codex')), []);
          } finally {
            await reopened.close();
          }
        }),
      );
    });

    describe('delayed tasks', () => {
      it(
        'not_before and delay_s keep a task from being leased until due, and it is leased after',
        fresh(async ({ store, clock }) => {
          const start = clock.t;
          const [later, soon, now] = await enqueue(
            store,
            { prompt: 'later', not_before: start + 100.5 },
            { prompt: 'soon', delay_s: 30 },
            { prompt: 'now', not_before: start - 10 },
          );
          assert.equal(later!.available_at, start + 100.5);
          assert.equal(soon!.available_at, start + 30);
          assert.deepEqual(
            (await store.get(ids([later!, soon!]))).map((t) => [t.status, t.available_at]),
            [
              ['queued', start + 100.5],
              ['queued', start + 30],
            ],
            'as stored',
          );
          assert.deepEqual(await store.queuedByBackend(), [{ backend: null, queued: 3, scheduled: 2 }]);
          assert.equal(await store.nextWakeAt(), start + 30);
          const take = async () => {
            const tasks = await leaseTasks(store, { ...LEASE, worker_id: 'w', max_tasks: 10 });
            for (const task of tasks) {
              await store.ack({ task_id: task.task_id, lease_token: task.lease_token, status: 'done' });
            }
            return ids(tasks);
          };
          assert.deepEqual(await take(), [now!.task_id]);
          clock.advance(29.5);
          assert.deepEqual(await take(), []);
          clock.advance(0.5);
          assert.deepEqual(await take(), [soon!.task_id]);
          assert.equal(await store.nextWakeAt(), start + 100.5);
          clock.advance(70);
          assert.deepEqual(await take(), []);
          clock.advance(0.5);
          assert.deepEqual(await take(), [later!.task_id]);
          assert.deepEqual(await store.queuedByBackend(), []);
        }),
      );
    });

    describe('structured answers', () => {
      /** Enqueue one task (with `fields`), lease it and ack it done with `ack` on top. */
      async function answered(store: Store, fields: Partial<NewTask>, ack: Partial<AckRequest> = {}) {
        const [queued] = await enqueue(store, { prompt: 'answer in JSON', ...fields });
        const task = await leaseOne(store, 'w');
        assert.equal(task.task_id, queued!.task_id);
        return store.ack({ task_id: task.task_id, lease_token: task.lease_token, status: 'done', ...ack });
      }

      it(
        'output_schema comes back as written from enqueue, get, lease, list and dump',
        fresh(async ({ store }) => {
          const [task, plain] = await enqueue(
            store,
            { prompt: 'with a schema', output_schema: SCHEMA },
            'plain',
          );
          assert.deepEqual(task!.output_schema, SCHEMA);
          assert.equal(task!.parsed, null);
          assert.equal(plain!.output_schema, null);
          assert.deepEqual(await getOne(store, task!.task_id), task);
          assert.deepEqual(
            (await store.list({ limit: 0 })).find((t) => t.task_id === task!.task_id),
            task,
          );
          const leased = await leaseOne(store, 'w');
          assert.equal(leased.task_id, task!.task_id);
          assert.deepEqual(leased.output_schema, SCHEMA, 'the agent gets the schema with its lease');
          const [dumped] = await store.dump(0, 1);
          assert.deepEqual(dumped!.output_schema, SCHEMA);
        }),
      );

      it(
        'an ack done with parsed stores it, whatever JSON it is (an object, an array, an empty one, a number, 0)',
        fresh(async ({ store }) => {
          const values: unknown[] = [
            { verdict: 'ok', score: 0.5, notes: ['a', 'b'], nested: { deep: [1, { x: null }] } },
            [{ file: 'a.ts', line: 3 }, 'two'],
            [],
            42.5,
            0,
            'just a string',
            false,
          ];
          for (const value of values) {
            const { task } = await answered(
              store,
              { output_schema: SCHEMA },
              { result: JSON.stringify(value), parsed: value },
            );
            assert.deepEqual(task.parsed, value, JSON.stringify(value));
            assert.deepEqual(
              (await getOne(store, task.task_id)).parsed,
              value,
              `${JSON.stringify(value)} as read back`,
            );
          }
        }),
      );

      it(
        'an ack without parsed, or with parsed null, leaves it null',
        fresh(async ({ store }) => {
          const { task: without } = await answered(
            store,
            { output_schema: SCHEMA },
            { result: 'plain text' },
          );
          assert.equal(without.parsed, null);
          assert.equal((await getOne(store, without.task_id)).parsed, null);
          const { task: explicitNull } = await answered(store, {}, { result: 'null', parsed: null });
          assert.equal(explicitNull.parsed, null);
          assert.equal((await getOne(store, explicitNull.task_id)).parsed, null);
        }),
      );

      it(
        'parsed goes where result goes: cleared by a retrying failure, by a release and by retryFailed',
        fresh(async ({ store, clock }) => {
          // A final failure keeps what it was acked with, result and parsed alike ...
          const [final, flaky, released] = await enqueue(
            store,
            { prompt: 'final', output_schema: SCHEMA },
            { prompt: 'flaky', output_schema: SCHEMA, max_attempts: 2 },
            { prompt: 'released', output_schema: SCHEMA },
          );
          const leased = await leaseTasks(store, { worker_id: 'w', max_tasks: 3, lease_seconds: 30 });
          const token = (task: Task) => leased.find((t) => t.task_id === task.task_id)!.lease_token;
          const failed = await store.ack({
            task_id: final!.task_id,
            lease_token: token(final!),
            status: 'failed',
            result: '{"verdict": "half"}',
            parsed: { verdict: 'half' },
            error: 'gave up',
          });
          assert.equal(failed.task.status, 'failed');
          assert.equal(failed.task.result, '{"verdict": "half"}');
          assert.deepEqual(failed.task.parsed, { verdict: 'half' });
          // ... one that goes back for another attempt clears both, as does a release ...
          const retried = await store.ack({
            task_id: flaky!.task_id,
            lease_token: token(flaky!),
            status: 'failed',
            result: '{"verdict": "half"}',
            parsed: { verdict: 'half' },
            error: 'bad_output',
          });
          assert.equal(retried.requeued, true);
          assert.deepEqual([retried.task.result, retried.task.parsed], [null, null]);
          const back = await store.release({ task_id: released!.task_id, lease_token: token(released!) });
          assert.deepEqual([back.result, back.parsed], [null, null]);
          // ... and retryFailed clears them with the rest of the failed run; the schema stays.
          clock.advance(1);
          assert.equal(await store.retryFailed([final!.task_id]), 1);
          const again = await getOne(store, final!.task_id);
          assert.equal(again.status, 'queued');
          assert.deepEqual([again.result, again.parsed], [null, null]);
          assert.deepEqual(again.output_schema, SCHEMA);
        }),
      );
    });

    describe('resumed sessions', () => {
      const session = async (store: Store, taskId: number) => (await getOne(store, taskId)).session_id;

      it(
        'resume comes back as enqueued from enqueue, get, lease, list and dump (false when not given)',
        fresh(async ({ store }) => {
          const [resumed, plain, off] = await enqueue(store, { prompt: 'continue', resume: true }, 'plain', {
            prompt: 'off',
            resume: false,
          });
          assert.deepEqual([resumed!.resume, plain!.resume, off!.resume], [true, false, false]);
          for (const task of [resumed!, plain!, off!]) assert.equal(task.session_id, null);
          assert.deepEqual(await getOne(store, resumed!.task_id), resumed);
          assert.deepEqual(
            (await store.list({ limit: 0 })).find((t) => t.task_id === resumed!.task_id),
            resumed,
          );
          const leased = await leaseOne(store, 'w');
          assert.equal(leased.task_id, resumed!.task_id);
          assert.equal(leased.resume, true, 'the agent sees resume with its lease');
          const dumped = await store.dump(0, 10);
          assert.deepEqual(
            dumped.map((t) => t.resume),
            [true, false, false],
          );
        }),
      );

      it(
        'session_id is kept across a retrying failure, releases, a lease expiry and retryFailed; a new one replaces it',
        fresh(async ({ store, clock }) => {
          const [task] = await enqueue(store, { prompt: 'long job', resume: true, max_attempts: 5 });
          const id = task!.task_id;
          // A failed run that goes back for another attempt leaves its session for the next one ...
          let held = await leaseOne(store, 'w');
          const retried = await store.ack({
            task_id: id,
            lease_token: held.lease_token,
            status: 'failed',
            error: 'overloaded',
            session_id: 'ses-1',
          });
          assert.equal(retried.requeued, true);
          assert.equal(retried.task.session_id, 'ses-1');
          assert.equal(await session(store, id), 'ses-1');
          // ... which the next lease carries to its agent.
          clock.advance(3600);
          held = await leaseOne(store, 'w');
          assert.equal(held.session_id, 'ses-1');
          // A release without one keeps it (a v0.1-style or shutdown release), one with it replaces it.
          assert.equal(
            (await store.release({ task_id: id, lease_token: held.lease_token })).session_id,
            'ses-1',
          );
          held = await leaseOne(store, 'w');
          const released = await store.release({
            task_id: id,
            lease_token: held.lease_token,
            error: 'usage window spent',
            error_kind: 'usage_limit',
            session_id: 'ses-2',
          });
          assert.equal(released.session_id, 'ses-2');
          // A lease that runs out (its holder died) leaves it for the next holder.
          await leaseOne(store, 'dies', { lease_seconds: 10 });
          clock.advance(11);
          held = await leaseOne(store, 'next');
          assert.equal(held.worker_id, 'next');
          assert.equal(held.session_id, 'ses-2');
          // A final failure without one keeps it, and so does retryFailed: the next run continues it.
          const failed = await store.ack({
            task_id: id,
            lease_token: held.lease_token,
            status: 'failed',
            error: 'gave up',
            retryable: false,
          });
          assert.equal(failed.task.status, 'failed');
          assert.equal(failed.task.session_id, 'ses-2');
          clock.advance(1);
          assert.equal(await store.retryFailed([id]), 1);
          assert.equal(await session(store, id), 'ses-2');
          // A done ack with a session stores it (the one-statement path of both stores).
          held = await leaseOne(store, 'w');
          assert.equal(held.session_id, 'ses-2');
          const done = await store.ack({
            task_id: id,
            lease_token: held.lease_token,
            status: 'done',
            result: 'ok',
            session_id: 'ses-3',
          });
          assert.equal(done.task.session_id, 'ses-3');
          assert.equal(await session(store, id), 'ses-3');
          const [dumped] = await store.dump(id - 1, 1);
          assert.equal(dumped!.session_id, 'ses-3');
        }),
      );

      it(
        'an ack done without session_id (an older agent) leaves the one stored, or none',
        fresh(async ({ store }) => {
          const [first, second] = await enqueue(
            store,
            { prompt: 'has a session', resume: true, max_attempts: 3 },
            { prompt: 'never had one' },
          );
          const held = await leaseOne(store, 'w');
          assert.equal(held.task_id, first!.task_id);
          await store.release({
            task_id: first!.task_id,
            lease_token: held.lease_token,
            session_id: 'ses-kept',
          });
          const again = await leaseOne(store, 'w');
          const other = await leaseOne(store, 'w');
          assert.deepEqual([again.task_id, other.task_id], [first!.task_id, second!.task_id]);
          const acked = await store.ack({
            task_id: first!.task_id,
            lease_token: again.lease_token,
            status: 'done',
          });
          assert.equal(acked.task.session_id, 'ses-kept');
          assert.equal(await session(store, first!.task_id), 'ses-kept');
          const plain = await store.ack({
            task_id: second!.task_id,
            lease_token: other.lease_token,
            status: 'done',
          });
          assert.equal(plain.task.session_id, null);
          assert.equal(await session(store, second!.task_id), null);
        }),
      );

      it(
        'load takes a dump from before resumed sessions (no resume, no session_id) as resume false',
        fresh(async ({ store }) => {
          const { resume: _resume, session_id: _session, ...old } = makeTask(41, { prompt: 'old dump' });
          await store.load([old as Task]);
          const loaded = await getOne(store, 41);
          assert.equal(loaded.resume, false);
          assert.equal(loaded.session_id, null);
          await store.load([makeTask(42, { resume: true, session_id: 'ses-42' })]);
          const resumed = await getOne(store, 42);
          assert.deepEqual([resumed.resume, resumed.session_id], [true, 'ses-42']);
        }),
      );
    });

    describe('workspaces and permissions', () => {
      /** What an agent records when a task's run in its own worktree ends. */
      const change = (commit: string | null, fields: Partial<WorktreeChange> = {}): WorktreeChange => ({
        branch: 'mittelo/task-1-abc',
        path: '/repo/.mittelo/worktrees/task-1-abc',
        base_ref: 'main',
        base_commit: 'b'.repeat(40),
        commit,
        files_changed: 1,
        insertions: 2,
        deletions: 0,
        diff: 'diff --git a/notes.txt b/notes.txt\n+one\n+two\n',
        diff_bytes: 44,
        diff_truncated: false,
        diff_cap_bytes: 262_144,
        kept: false,
        ...fields,
      });

      it(
        'workspace, base_ref and permissions come back as enqueued from enqueue, get, lease, list and dump',
        fresh(async ({ store }) => {
          const [own, plain] = await enqueue(
            store,
            { prompt: 'in a worktree', workspace: 'worktree', base_ref: 'v1.2', permissions: 'full' },
            { prompt: 'shared', workspace: 'shared', permissions: 'read' },
          );
          assert.deepEqual(
            [own!.workspace, own!.base_ref, own!.permissions, own!.worktree],
            ['worktree', 'v1.2', 'full', null],
          );
          assert.deepEqual([plain!.workspace, plain!.base_ref, plain!.permissions], ['shared', null, 'read']);
          assert.deepEqual(await getOne(store, own!.task_id), own);
          assert.deepEqual(
            (await store.list({ limit: 0 })).find((t) => t.task_id === own!.task_id),
            own,
          );
          const leased = await leaseOne(store, 'w');
          assert.deepEqual(
            [leased.workspace, leased.base_ref, leased.permissions],
            ['worktree', 'v1.2', 'full'],
          );
          const dumped = await store.dump(0, 10);
          assert.deepEqual(
            dumped.map((t) => t.permissions),
            ['full', 'read'],
          );
        }),
      );

      it(
        "an ack's worktree is stored; a retry, a release, an ack without one and retryFailed keep it",
        fresh(async ({ store, clock }) => {
          const [task] = await enqueue(store, { prompt: 'edit', workspace: 'worktree', max_attempts: 5 });
          const id = task!.task_id;
          let held = await leaseOne(store, 'w');
          const first = change('c'.repeat(40), { kept: true });
          const retried = await store.ack({
            task_id: id,
            lease_token: held.lease_token,
            status: 'failed',
            error: 'tests fail',
            worktree: first,
          });
          assert.equal(retried.requeued, true);
          assert.deepEqual(retried.task.worktree, first);
          clock.advance(3600);
          held = await leaseOne(store, 'w');
          assert.deepEqual(held.worktree, first, 'the next run sees what the last one changed');
          assert.deepEqual(
            (await store.release({ task_id: id, lease_token: held.lease_token })).worktree,
            first,
          );
          held = await leaseOne(store, 'w');
          const failed = await store.ack({
            task_id: id,
            lease_token: held.lease_token,
            status: 'failed',
            error: 'gave up',
            retryable: false,
          });
          assert.deepEqual(failed.task.worktree, first, 'an ack without a worktree keeps the stored one');
          assert.equal(await store.retryFailed([id]), 1);
          assert.deepEqual((await getOne(store, id)).worktree, first);
          // A done ack with a change replaces it (the one-statement path of both stores).
          held = await leaseOne(store, 'w');
          const last = change('d'.repeat(40), {
            files_changed: 3,
            diff_truncated: true,
            diff_bytes: 300_000,
          });
          const done = await store.ack({
            task_id: id,
            lease_token: held.lease_token,
            status: 'done',
            result: 'ok',
            worktree: last,
          });
          assert.deepEqual(done.task.worktree, last);
          assert.deepEqual((await getOne(store, id)).worktree, last);
          const [dumped] = await store.dump(id - 1, 1);
          assert.deepEqual(dumped!.worktree, last);
        }),
      );

      it(
        'load takes a dump from before workspaces (no such fields) as nulls, and a newer one as it is',
        fresh(async ({ store }) => {
          const {
            workspace: _workspace,
            base_ref: _base,
            permissions: _permissions,
            worktree: _worktree,
            ...old
          } = makeTask(51, { prompt: 'old dump' });
          await store.load([old as Task]);
          const loaded = await getOne(store, 51);
          assert.deepEqual(
            [loaded.workspace, loaded.base_ref, loaded.permissions, loaded.worktree],
            [null, null, null, null],
          );
          const kept = change(null, { files_changed: 0, insertions: 0, diff: '', diff_bytes: 0 });
          await store.load([makeTask(52, { workspace: 'worktree', permissions: 'edit', worktree: kept })]);
          const newer = await getOne(store, 52);
          assert.deepEqual([newer.workspace, newer.permissions, newer.worktree], ['worktree', 'edit', kept]);
        }),
      );
    });

    describe('dump and load', () => {
      /**
       * A store holding every kind of task: queued (one routed, tagged, with metadata), one waiting
       * out a retry backoff, leased (its holder's token), done (result, usage), failed (error
       * fields) and canceled. Returns the leased task as its holder got it.
       */
      async function varied(store: Store, clock: Clock): Promise<Task> {
        await enqueue(
          store,
          {
            prompt: 'queued, routed',
            backend: 'codex',
            tags: ['gpu'],
            priority: 4,
            metadata: { pack: 'p', n: 1 },
          },
          { prompt: 'to finish', timeout_s: 12.5, max_cost_usd: 0.75, output_schema: SCHEMA },
          { prompt: 'to fail' },
          { prompt: 'to back off', max_attempts: 3, resume: true },
          { prompt: 'to hold' },
          { prompt: 'to cancel' },
        );
        clock.advance(1.5);
        const leased = await leaseTasks(store, { worker_id: 'w', max_tasks: 4, lease_seconds: 60 });
        const byPrompt = (prompt: string) => leased.find((task) => task.prompt === prompt)!;
        clock.advance(0.25);
        await store.ack({
          task_id: byPrompt('to finish').task_id,
          lease_token: byPrompt('to finish').lease_token,
          status: 'done',
          result: 'the answer',
          duration_ms: 12,
          usage: { input_tokens: 3, output_tokens: 4 },
          cost_usd: 0.125,
          cost_basis: 'estimated',
          parsed: { verdict: 'ok', findings: [] },
        });
        await store.ack({
          task_id: byPrompt('to fail').task_id,
          lease_token: byPrompt('to fail').lease_token,
          status: 'failed',
          error: 'boom',
          error_kind: 'auth',
          error_fix: 'log in',
          cost_basis: 'unknown',
        });
        const backoff = await store.ack({
          task_id: byPrompt('to back off').task_id,
          lease_token: byPrompt('to back off').lease_token,
          status: 'failed',
          error: 'flaky',
          session_id: 'session-of-the-first-run',
        });
        assert.equal(backoff.requeued, true);
        const [toCancel] = await store.list({ limit: 1, search: 'to cancel' });
        await store.cancel(toCancel!.task_id);
        await assertStatsExact(store, { queued: 2, leased: 1, done: 1, failed: 1, canceled: 1 });
        return byPrompt('to hold');
      }

      it(
        'dump pages through every task oldest first above afterId, lease tokens included',
        fresh(async ({ store, clock }) => {
          assert.deepEqual(await store.dump(0, 10), []);
          const held = await varied(store, clock);
          const all = await store.dump(0, 100);
          assert.equal(all.length, 6);
          for (let i = 1; i < all.length; i++) assert.ok(all[i]!.task_id > all[i - 1]!.task_id);
          for (const task of all) assert.deepEqual(Object.keys(task).sort(), TASK_KEYS);
          // Full rows: what get shows, plus the token of the one leased task.
          const shown = await store.get(ids(all));
          for (const [index, task] of all.entries()) {
            if (task.task_id === held.task_id) {
              assert.equal(task.lease_token, held.lease_token);
              assert.deepEqual({ ...task, lease_token: null }, shown[index]);
            } else {
              assert.deepEqual(task, shown[index]);
              assert.equal(task.lease_token, null);
            }
          }
          // Pages: afterId is exclusive, limit caps each page, and the pages add up to the whole.
          const pages: Task[] = [];
          for (let after = 0; ; ) {
            const page = await store.dump(after, 4);
            assert.ok(page.length <= 4);
            if (page.length === 0) break;
            pages.push(...page);
            after = page[page.length - 1]!.task_id;
          }
          assert.deepEqual(pages, all);
          assert.deepEqual(ids(await store.dump(all[1]!.task_id, 2)), ids(all.slice(2, 4)));
          assert.deepEqual(await store.dump(all[5]!.task_id, 10), []);
        }),
      );

      it(
        'load of a dump into a fresh store gives identical tasks and stats; new ids come after the largest',
        fresh(async ({ store, clock }) => {
          const held = await varied(store, clock);
          const source = await store.dump(0, 1000);
          const target = await open({ now: clock.now });
          try {
            await target.load([]);
            for (let i = 0; i < source.length; i += 4) await target.load(source.slice(i, i + 4));
            assert.deepEqual(await target.dump(0, 1000), source);
            // The cost fields come along (the copy would be equal without them too).
            const finished = source.find((task) => task.prompt === 'to finish')!;
            assert.deepEqual(
              [finished.max_cost_usd, finished.cost_usd, finished.cost_basis],
              [0.75, 0.125, 'estimated'],
            );
            assert.equal(source.find((task) => task.prompt === 'to fail')!.cost_basis, 'unknown');
            // So do the structured answer's schema and parsed value.
            assert.deepEqual(
              [finished.output_schema, finished.parsed],
              [SCHEMA, { verdict: 'ok', findings: [] }],
            );
            assert.deepEqual(await target.list({ limit: 0 }), await store.list({ limit: 0 }));
            assert.deepEqual(await target.stats(), await store.stats());
            await assertStatsExact(target, { queued: 2, leased: 1, done: 1, failed: 1, canceled: 1 });
            assert.deepEqual(await target.queuedByBackend(), await store.queuedByBackend());
            assert.equal(await target.nextWakeAt(), await store.nextWakeAt());
            const largest = Math.max(...ids(source));
            const [next] = await enqueue(target, 'after the copy');
            assert.ok(next!.task_id > largest, `${next!.task_id} should come after ${largest}`);
            // The holder's lease came along: it can finish its task on the copy.
            const { task } = await target.ack({
              task_id: held.task_id,
              lease_token: held.lease_token,
              worker_id: 'w',
              status: 'done',
              result: 'finished on the copy',
            });
            assert.equal(task.status, 'done');
            await assertStatsExact(target, { queued: 3, done: 2, failed: 1, canceled: 1 });
          } finally {
            await target.close();
          }
        }),
      );

      it(
        'load refuses a batch with an id that exists (conflict) and loads nothing of it',
        fresh(async ({ store, clock }) => {
          await varied(store, clock);
          const source = await store.dump(0, 1000);
          const target = await open({ now: clock.now });
          try {
            await target.load(source.slice(0, 3));
            const existing = source[1]!;
            const largest = Math.max(...ids(source));
            const fresh = { ...source[0]!, task_id: largest + 50, prompt: 'not loaded' };
            await refusedAndUnchanged(
              target,
              () => target.load([fresh, existing]),
              'conflict',
              existing.task_id,
            );
            assert.deepEqual(await target.get([fresh.task_id]), []);
            await refusedAndUnchanged(target, () => target.load([existing]), 'conflict', existing.task_id);
            // The rest still loads, and ids go on after the largest id actually loaded.
            await target.load(source.slice(3));
            assert.deepEqual(await target.dump(0, 1000), source);
            const [next] = await enqueue(target, 'next');
            assert.ok(next!.task_id > largest);
            assert.ok(next!.task_id < fresh.task_id, 'the refused batch did not move the ids on');
            await assertStatsExact(target, { queued: 3, leased: 1, done: 1, failed: 1, canceled: 1 });
          } finally {
            await target.close();
          }
        }),
      );
    });

    describe('prune', () => {
      /** Lease `task` and finish it as `status` (canceled: cancel it while leased). */
      const finish = async (store: Store, task: Task, status: 'done' | 'failed' | 'canceled') => {
        const leased = await leaseOne(store, `w-${task.task_id}`);
        assert.equal(leased.task_id, task.task_id);
        if (status === 'canceled') await store.cancel(task.task_id);
        else await store.ack({ task_id: task.task_id, lease_token: leased.lease_token, status });
      };

      it(
        'removes only finished tasks of the given statuses that finished before the cutoff, and counts them',
        fresh(async ({ store, clock }) => {
          const [doneOld, failedOld, canceledOld] = await enqueue(
            store,
            'done old',
            'failed old',
            'canceled old',
          );
          await finish(store, doneOld!, 'done');
          await finish(store, failedOld!, 'failed');
          await finish(store, canceledOld!, 'canceled');
          // Queued and leased long ago: old rows, but not finished ones.
          const [queued, leased] = await enqueue(
            store,
            { prompt: 'queued', priority: -2 },
            { prompt: 'leased', priority: -1 },
          );
          await leaseOne(store, 'holder');
          clock.advance(100);
          const [doneNew] = await enqueue(store, 'done new');
          await finish(store, doneNew!, 'done');
          clock.advance(10);
          await assertStatsExact(store, { queued: 1, leased: 1, done: 2, failed: 1, canceled: 1 });

          assert.equal(await store.prune({ older_than_s: 50, statuses: ['done', 'canceled'] }), 2);
          const left = await store.list({ limit: 0 });
          assert.deepEqual(
            ids(left).sort((x, y) => x - y),
            [failedOld!.task_id, queued!.task_id, leased!.task_id, doneNew!.task_id],
          );
          await assertStatsExact(store, { queued: 1, leased: 1, done: 1, failed: 1 });

          assert.equal(
            await store.prune({ older_than_s: 50, statuses: PRUNABLE_STATUSES }),
            1,
            'the failed one',
          );
          assert.equal(
            await store.prune({ older_than_s: 50, statuses: PRUNABLE_STATUSES }),
            0,
            'nothing left to prune',
          );
          await assertStatsExact(store, { queued: 1, leased: 1, done: 1 });
          // 0 seconds: everything finished by now, but the newest task (the largest id) stays, so
          // that its id is never handed out again.
          assert.equal(await store.prune({ older_than_s: 0, statuses: PRUNABLE_STATUSES }), 0);
          assert.equal((await getOne(store, doneNew!.task_id)).status, 'done');
          const [next] = await enqueue(store, 'next');
          assert.ok(next!.task_id > doneNew!.task_id);
          assert.equal(await store.prune({ older_than_s: 0, statuses: PRUNABLE_STATUSES }), 1);
          assert.deepEqual(
            ids(await store.list({ limit: 0 })).sort((x, y) => x - y),
            [queued!.task_id, leased!.task_id, next!.task_id],
          );
          assert.equal((await getOne(store, leased!.task_id)).status, 'leased');
          await assertStatsExact(store, { queued: 2, leased: 1 });
        }),
      );

      it(
        'measures age from when a task finished, not when it was enqueued',
        fresh(async ({ store, clock }) => {
          const [task] = await enqueue(store, 'waited long', { prompt: 'newest', priority: -1 });
          clock.advance(1000);
          await finish(store, task!, 'done');
          clock.advance(5);
          assert.equal(await store.prune({ older_than_s: 60, statuses: ['done'] }), 0);
          clock.advance(60);
          assert.equal(await store.prune({ older_than_s: 60, statuses: ['done'] }), 1);
          await assertStatsExact(store, { queued: 1 });
        }),
      );

      it(
        'goes through a table larger than one window, removing every row that qualifies',
        fresh(async ({ store, clock }) => {
          const n = 2 * PRUNE_WINDOW_ROWS + 500;
          const base = clock.t - 10_000;
          const statuses = ['done', 'failed', 'canceled', 'queued'] as const;
          // Stored as they are (load), so that building thousands of finished tasks costs one call.
          const tasks: Task[] = Array.from({ length: n }, (_, i) => {
            const status = statuses[i % statuses.length]!;
            const at = base + (i % 8 < 4 ? 0 : 9_990); // half of each status finished long ago
            return makeTask(i + 1, {
              prompt: `task ${i}`,
              status,
              created_at: base,
              updated_at: at,
              worker_id: status === 'queued' ? null : 'w',
              result: status === 'done' ? 'ok' : null,
              error: status === 'failed' ? 'boom' : null,
              attempts: status === 'queued' ? 0 : 1,
              duration_ms: null,
            });
          });
          await store.load(tasks);
          const old = (task: Task) => task.updated_at === base;
          const expected = tasks.filter((t) => t.status !== 'queued' && t.status !== 'failed' && old(t));
          assert.equal(
            await store.prune({ older_than_s: 1000, statuses: ['done', 'canceled'] }),
            expected.length,
          );
          const gone = new Set(ids(expected));
          const left = await store.dump(0, n);
          assert.deepEqual(
            ids(left),
            tasks.filter((t) => !gone.has(t.task_id)).map((t) => t.task_id),
          );
          const expectedStats = zeroStats();
          for (const task of tasks) if (!gone.has(task.task_id)) expectedStats[task.status] += 1;
          await assertStatsExact(store, expectedStats);
        }),
      );

      it(
        'refuses queued and leased (and no status at all, or a negative age) with nothing removed',
        fresh(async ({ store }) => {
          const [task] = await enqueue(store, 'finished', { prompt: 'queued', priority: -1 });
          await finish(store, task!, 'done');
          for (const statuses of [['done', 'queued'], ['leased'], []] as const) {
            await refusedAndUnchanged(store, () => store.prune({ older_than_s: 0, statuses }), 'bad_request');
          }
          await refusedAndUnchanged(
            store,
            () => store.prune({ older_than_s: -1, statuses: PRUNABLE_STATUSES }),
            'bad_request',
          );
          await assert.rejects(store.prune({ older_than_s: 0, statuses: ['queued'] }), /never queued/);
        }),
      );

      it(
        'is refused once the store is closed',
        fresh(async ({ store }) => {
          await store.close();
          await refused(store.prune({ older_than_s: 0, statuses: PRUNABLE_STATUSES }), 'unavailable');
        }),
      );
    });

    describe('close', () => {
      it(
        'refuses every call afterwards, and closing twice is harmless',
        fresh(async ({ store }) => {
          await enqueue(store, 'x');
          await store.close();
          await refused(enqueue(store, 'y'), 'unavailable');
          await refused(leaseTasks(store, { ...LEASE, worker_id: 'w' }), 'unavailable');
          await refused(store.stats(), 'unavailable');
          await refused(store.list({ limit: 0 }), 'unavailable');
          await store.close();
        }),
      );
    });
  });
}

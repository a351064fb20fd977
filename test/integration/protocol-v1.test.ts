/**
 * v1 protocol over the wire: error codes, hello and token auth, long-poll leases, fencing tokens,
 * extend/release, routing, priority, retries, cancel/get/wait, enqueue_many, the agent registry,
 * subscribe, and limits. A raw line client against a real hub process, one hub per test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/hub-process.ts';
import { type RawClient, type WireMessage, withRawHub } from '../helpers/raw-client.ts';

async function enqueue(client: RawClient, params: object | string): Promise<number> {
  const body = typeof params === 'string' ? { prompt: params } : params;
  return (await client.result('enqueue', body)).task_id as number;
}

async function getTask(client: RawClient, taskId: number): Promise<WireMessage> {
  return (await client.result('get', { task_id: taskId })).task as WireMessage;
}

async function stats(client: RawClient): Promise<WireMessage> {
  return (await client.result('stats')).stats as WireMessage;
}

async function listAll(client: RawClient): Promise<WireMessage[]> {
  return (await client.result('list', { limit: 0 })).tasks as WireMessage[];
}

const idsOf = (tasks: WireMessage[]) => tasks.map((t) => t.task_id as number);

/** The error of a call that must fail, with its code checked. */
async function expectError(client: RawClient, method: string, params: unknown, code: string) {
  const response = await client.call(method, params);
  assert.equal(response.result, null, `${method} should fail with ${code}`);
  assert.equal(response.error?.code, code, `${method}: ${JSON.stringify(response.error)}`);
  assert.equal(typeof response.error.message, 'string');
  return response.error as { code: string; message: string; details?: WireMessage };
}

describe('v1 error codes', () => {
  it('each kind of error carries its stable code', async () => {
    await withRawHub(['--max-prompt-bytes', '100'], async ({ client }) => {
      await expectError(client, 'enqueue', { prompt: 7 }, 'bad_request');
      await expectError(client, 'no_such_method', {}, 'unknown_method');
      await expectError(client, 'get', { task_id: 424242 }, 'not_found');
      await expectError(client, 'enqueue', { prompt: 'x'.repeat(101) }, 'too_large');
      const id = await enqueue(client, 'once');
      await client.result('lease', { worker_id: 'w' });
      await client.result('ack', { task_id: id, status: 'done' });
      await expectError(client, 'ack', { task_id: id, status: 'done' }, 'conflict');
      client.send('not json\n');
      const malformed = await client.nextMessage();
      assert.equal(malformed.id, null);
      assert.equal(malformed.error.code, 'bad_request');
    });
  });

  it('a token hub answers unauthorized', async () => {
    await withRawHub(['--token', 's3cret'], async ({ client }) => {
      await expectError(client, 'stats', {}, 'unauthorized');
    });
  });
});

describe('v1 hello and token auth', () => {
  it('hello reports the protocol version and the feature list', async () => {
    await withRawHub(['--lease-seconds', '33'], async ({ client }) => {
      const hello = await client.result('hello', { client: 'test', features: ['long_poll'] });
      assert.equal(hello.protocol, '1');
      assert.equal(hello.server, 'mittelo');
      assert.equal(hello.lease_seconds, 33);
      assert.equal(hello.auth_required, false);
      assert.ok(Array.isArray(hello.features));
      for (const feature of ['long_poll', 'lease_token', 'extend', 'release', 'routing', 'subscribe']) {
        assert.ok(hello.features.includes(feature), feature);
      }
    });
  });

  it('with a token, every method before hello is unauthorized and changes nothing', async () => {
    await withRawHub(['--token', 's3cret'], async ({ hub, client, connect }) => {
      const calls: Array<[string, object]> = [
        ['enqueue', { prompt: 'x' }],
        ['enqueue_many', { tasks: [{ prompt: 'x' }] }],
        ['lease', { worker_id: 'w' }],
        ['ack', { task_id: 1, status: 'done' }],
        ['list', {}],
        ['stats', {}],
        ['retry_failed', {}],
        ['extend', { task_id: 1 }],
        ['release', { task_id: 1 }],
        ['cancel', { task_id: 1 }],
        ['get', { task_id: 1 }],
        ['wait', { task_ids: [1], timeout_ms: 0 }],
        ['agents', {}],
        ['report_health', { worker_id: 'w', healthy: false }],
        ['subscribe', {}],
        ['shutdown', {}],
      ];
      for (const [method, params] of calls) await expectError(client, method, params, 'unauthorized');
      assert.equal(hub.child.exitCode, null, 'shutdown before hello did not stop the hub');
      const authed = await connect();
      await authed.result('hello', { token: 's3cret' });
      const counts = await stats(authed);
      assert.equal(counts.queued + counts.leased + counts.done + counts.failed, 0);
    });
  });

  it('with a token, a wrong token is unauthorized and the right one works', async () => {
    await withRawHub(['--token', 's3cret'], async ({ client: guesser, connect }) => {
      const wrong = await expectError(guesser, 'hello', { token: 'guess' }, 'unauthorized');
      assert.match(wrong.message, /token/);
      await guesser.closed; // one guess per connection (test/integration/auth-flood.test.ts)
      const client = await connect();
      await expectError(client, 'hello', {}, 'unauthorized');
      await expectError(client, 'stats', {}, 'unauthorized');
      const hello = await client.result('hello', { token: 's3cret' });
      assert.equal(hello.auth_required, true);
      const id = await enqueue(client, 'authorized');
      assert.ok(id > 0);
      assert.equal((await stats(client)).queued, 1);
    });
  });

  it('a v0.1 client (no hello) against a token hub is refused with a message that explains', async () => {
    await withRawHub(['--token', 's3cret'], async ({ client }) => {
      client.send('{"id": "abc", "method": "lease", "params": {"worker_id": "old", "max_tasks": 1}}\n');
      const response = await client.nextMessage();
      assert.equal(response.id, 'abc');
      assert.equal(response.result, null);
      assert.match(response.error.message, /token/);
      assert.match(response.error.message, /hello/);
    });
  });
});

describe('v1 long-poll lease', () => {
  it('a lease with wait_ms returns with the task as soon as one is enqueued from another connection', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const producer = await connect();
      const id = client.request('lease', { worker_id: 'idle', wait_ms: 60_000 });
      // Let the lease park (a round trip shows the hub has read it); it must come back with the
      // task either way.
      await client.synced();
      assert.equal(client.hasUnread, false, 'nothing to lease yet, so the lease is still open');
      const taskId = await enqueue(producer, 'wake up');
      const response = await client.nextMatching((m) => m.id === id);
      assert.equal(response.error, null);
      assert.deepEqual(idsOf(response.result.tasks), [taskId]);
      assert.equal(response.result.tasks[0].worker_id, 'idle');
      assert.equal(typeof response.result.tasks[0].lease_token, 'string');
    });
  });

  it('a lease with wait_ms returns empty after wait_ms when nothing comes', async () => {
    await withRawHub([], async ({ client }) => {
      const response = await client.result('lease', { worker_id: 'idle', wait_ms: 300 });
      assert.deepEqual(response, { tasks: [] });
    });
  });

  it('two parked leases and two tasks: each task goes to exactly one of them', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const one = await connect();
      const two = await connect();
      const firstId = one.request('lease', { worker_id: 'one', wait_ms: 60_000 });
      const secondId = two.request('lease', { worker_id: 'two', wait_ms: 60_000 });
      await one.synced();
      await two.synced();
      const a = await enqueue(client, 'a');
      const b = await enqueue(client, 'b');
      const got = [
        ...(await one.nextMatching((m) => m.id === firstId)).result.tasks,
        ...(await two.nextMatching((m) => m.id === secondId)).result.tasks,
      ];
      assert.deepEqual(idsOf(got).sort(), [a, b].sort());
      assert.equal((await stats(client)).leased, 2);
    });
  });

  it('a parked lease gets a task whose previous lease ran out', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const id = await enqueue(client, 'its holder will die');
      const [lost] = (await client.result('lease', { worker_id: 'dies', lease_seconds: 1 })).tasks;
      const waiter = await connect();
      const response = await waiter.result('lease', { worker_id: 'heir', wait_ms: 60_000 });
      assert.deepEqual(idsOf(response.tasks), [id]);
      assert.equal(response.tasks[0].worker_id, 'heir');
      assert.ok(response.tasks[0].leased_until > lost.leased_until);
    });
  });

  it('a parked lease whose connection closed takes no task', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const gone = await connect();
      gone.request('lease', { worker_id: 'gone', wait_ms: 60_000 });
      await gone.synced();
      gone.close();
      await gone.closed;
      // Let the hub notice the close before the work arrives; either way the task must stay available.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const id = await enqueue(client, 'for a live agent');
      const live = await connect();
      const response = await live.result('lease', { worker_id: 'live', wait_ms: 10_000 });
      assert.deepEqual(idsOf(response.tasks), [id]);
      assert.equal(response.tasks[0].attempts, 1);
    });
  });
});

describe('v1 leases: tokens, extend, release', () => {
  it('lease_token is present in lease results and null in list and get', async () => {
    await withRawHub([], async ({ client }) => {
      const id = await enqueue(client, 'x');
      const { tasks } = await client.result('lease', { worker_id: 'w' });
      assert.equal(typeof tasks[0].lease_token, 'string');
      assert.ok(tasks[0].lease_token.length > 0);
      assert.equal((await getTask(client, id)).lease_token, null);
      const [listed] = await listAll(client);
      assert.ok('lease_token' in listed!);
      assert.equal(listed!.lease_token, null);
    });
  });

  it('extend with the lease token moves leased_until; a wrong token is a conflict', async () => {
    await withRawHub([], async ({ client }) => {
      const id = await enqueue(client, 'long job');
      const [task] = (await client.result('lease', { worker_id: 'w', lease_seconds: 5 })).tasks;
      const extended = await client.result('extend', {
        task_id: id,
        lease_token: task.lease_token,
        lease_seconds: 600,
      });
      assert.equal(extended.ok, true);
      assert.ok(extended.leased_until > task.leased_until + 500, JSON.stringify(extended));
      assert.equal((await getTask(client, id)).leased_until, extended.leased_until);
      await expectError(
        client,
        'extend',
        { task_id: id, lease_token: 'not-the-token', lease_seconds: 600 },
        'conflict',
      );
      assert.equal((await getTask(client, id)).leased_until, extended.leased_until);
    });
  });

  it('an ack with a stale token after the task was leased again is a conflict; the new holder wins', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const first = await connect();
      const second = await connect();
      const id = await enqueue(client, 'contested');
      const [old] = (await first.result('lease', { worker_id: 'first', lease_seconds: 1 })).tasks;
      await waitFor(() => Date.now() / 1000 > old.leased_until + 0.05, 'the first lease to run out');
      const [fresh] = (await second.result('lease', { worker_id: 'second', lease_seconds: 600 })).tasks;
      assert.equal(fresh.task_id, id);
      assert.notEqual(fresh.lease_token, old.lease_token);

      const stale = await expectError(
        first,
        'ack',
        { task_id: id, status: 'done', result: 'from first', lease_token: old.lease_token },
        'conflict',
      );
      assert.match(stale.message, /second/);
      assert.equal((await getTask(client, id)).status, 'leased');
      await second.result('ack', {
        task_id: id,
        status: 'done',
        result: 'from second',
        lease_token: fresh.lease_token,
      });
      const final = await getTask(client, id);
      assert.equal(final.status, 'done');
      assert.equal(final.result, 'from second');
      assert.equal(final.worker_id, 'second');
    });
  });

  it('release puts the task back in the queue and refunds the attempt', async () => {
    await withRawHub([], async ({ client }) => {
      const id = await enqueue(client, 'give me back');
      const [task] = (await client.result('lease', { worker_id: 'quitting' })).tasks;
      assert.equal(task.attempts, 1);
      assert.deepEqual(await client.result('release', { task_id: id, lease_token: task.lease_token }), {
        ok: true,
      });
      const released = await getTask(client, id);
      assert.equal(released.status, 'queued');
      assert.equal(released.attempts, 0);
      assert.equal(released.worker_id, null);
      assert.equal(released.leased_until, null);
      const again = (await client.result('lease', { worker_id: 'next' })).tasks;
      assert.deepEqual(idsOf(again), [id]);
      assert.equal(again[0].attempts, 1);
      // Releasing with the old token now changes nothing.
      await expectError(client, 'release', { task_id: id, lease_token: task.lease_token }, 'conflict');
      assert.equal((await getTask(client, id)).worker_id, 'next');
    });
  });
});

describe('v1 task control', () => {
  it('routing: an agent leases only tasks for its backend and tags; unrouted tasks go to anyone', async () => {
    await withRawHub([], async ({ client }) => {
      const codex = await enqueue(client, { prompt: 'for codex', backend: 'codex' });
      const claude = await enqueue(client, { prompt: 'for claude', backend: 'claude_code' });
      const anyone = await enqueue(client, 'for anyone');
      const gpu = await enqueue(client, { prompt: 'needs a gpu', tags: ['gpu'] });
      const codexGpu = await enqueue(client, { prompt: 'codex on a gpu', backend: 'codex', tags: ['gpu'] });

      const plain = await client.result('lease', { worker_id: 'plain', max_tasks: 10 });
      assert.deepEqual(
        idsOf(plain.tasks),
        [anyone],
        'an agent without backend or tags gets unrouted work only',
      );
      await client.result('ack', { task_id: anyone, status: 'done' });

      const codexAgent = await client.result('lease', { worker_id: 'c', backend: 'codex', max_tasks: 10 });
      assert.deepEqual(idsOf(codexAgent.tasks), [codex]);
      const claudeGpu = await client.result('lease', {
        worker_id: 'g',
        backend: 'claude_code',
        tags: ['gpu', 'linux'],
        max_tasks: 10,
      });
      assert.deepEqual(idsOf(claudeGpu.tasks).sort(), [claude, gpu].sort());
      const codexWithGpu = await client.result('lease', {
        worker_id: 'cg',
        backend: 'codex',
        tags: ['gpu'],
        max_tasks: 10,
      });
      assert.deepEqual(idsOf(codexWithGpu.tasks), [codexGpu]);
      const routed = await getTask(client, codexGpu);
      assert.equal(routed.backend, 'codex');
      assert.deepEqual(routed.tags, ['gpu']);
    });
  });

  it('priority: higher priority is leased first, then oldest first', async () => {
    await withRawHub([], async ({ client }) => {
      const low = await enqueue(client, { prompt: 'low', priority: -5 });
      const normal = await enqueue(client, 'normal');
      const high = await enqueue(client, { prompt: 'high', priority: 10 });
      const highToo = await enqueue(client, { prompt: 'high too', priority: 10 });
      const mid = await enqueue(client, { prompt: 'mid', priority: 5 });
      const order: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const { tasks } = await client.result('lease', { worker_id: 'w' });
        order.push(tasks[0].task_id);
      }
      assert.deepEqual(order, [high, highToo, mid, normal, low]);
    });
  });

  it('retry policy: a failed attempt is requeued until max_attempts, then the task fails', async () => {
    await withRawHub(['--retry-backoff-ms', '0'], async ({ client }) => {
      const id = await enqueue(client, { prompt: 'flaky', max_attempts: 2 });
      const [first] = (await client.result('lease', { worker_id: 'w' })).tasks;
      const ack1 = await client.result('ack', {
        task_id: id,
        status: 'failed',
        error: 'transient',
        lease_token: first.lease_token,
      });
      assert.equal(ack1.requeued, true);
      assert.equal(ack1.status, 'queued');
      const requeued = await getTask(client, id);
      assert.equal(requeued.status, 'queued');
      assert.equal(requeued.attempts, 1);

      const [second] = (await client.result('lease', { worker_id: 'w' })).tasks;
      assert.equal(second.task_id, id);
      assert.equal(second.attempts, 2);
      const ack2 = await client.result('ack', {
        task_id: id,
        status: 'failed',
        error: 'still broken',
        lease_token: second.lease_token,
      });
      assert.equal(ack2.requeued, false);
      assert.equal(ack2.status, 'failed');
      const failed = await getTask(client, id);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error, 'still broken');
      assert.deepEqual((await client.result('lease', { worker_id: 'w' })).tasks, []);
    });
  });

  it('retry policy: a requeued task waits out its backoff before it can be leased again', async () => {
    await withRawHub(['--retry-backoff-ms', '60000'], async ({ client }) => {
      const id = await enqueue(client, { prompt: 'back off', max_attempts: 3 });
      const [task] = (await client.result('lease', { worker_id: 'w' })).tasks;
      const before = Date.now() / 1000;
      await client.result('ack', {
        task_id: id,
        status: 'failed',
        error: 'rate limited',
        lease_token: task.lease_token,
      });
      const waiting = await getTask(client, id);
      assert.equal(waiting.status, 'queued');
      assert.ok(waiting.available_at >= before + 59, JSON.stringify(waiting));
      assert.deepEqual((await client.result('lease', { worker_id: 'w' })).tasks, []);
    });
  });

  it('retry policy: a task that keeps losing its lease ends failed with error_kind lease_expired', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const watcher = await connect();
      await watcher.result('subscribe', { events: ['task'] });
      const id = await enqueue(client, 'kills every agent');
      let expirations = 0;
      for (;;) {
        const { tasks } = await client.result('lease', {
          worker_id: `victim-${expirations}`,
          lease_seconds: 0.05,
        });
        if (tasks.length === 0) break;
        assert.ok(expirations < 10, 'the hub gives up on the task after a few expired leases');
        const leasedUntil = tasks[0].leased_until as number;
        await waitFor(() => Date.now() / 1000 > leasedUntil + 0.01, 'the lease to run out');
        expirations += 1;
      }
      const task = await getTask(client, id);
      assert.equal(task.status, 'failed');
      assert.equal(task.error_kind, 'lease_expired');
      assert.match(task.error, /lease expired/);
      assert.equal(typeof task.error_fix, 'string');
      assert.equal(expirations, 5);
      // Watchers hear about it like any other failure.
      const event = await watcher.nextMatching((m) => m.event === 'task.failed' && m.task?.task_id === id);
      assert.equal(event.task.error_kind, 'lease_expired');
    });
  });

  it('cancel: a queued task and a leased task; the holder’s later ack is a conflict', async () => {
    await withRawHub([], async ({ client }) => {
      const queued = await enqueue(client, 'never run');
      const running = await enqueue(client, 'stop this');
      const canceled = await client.result('cancel', { task_id: queued });
      assert.equal(canceled.ok, true);
      assert.equal(canceled.task.status, 'canceled');
      const [held] = (await client.result('lease', { worker_id: 'w', max_tasks: 5 })).tasks;
      assert.equal(held.task_id, running, 'a canceled task is not leased');
      assert.equal((await client.result('cancel', { task_id: running })).task.status, 'canceled');
      await expectError(
        client,
        'ack',
        { task_id: running, status: 'done', result: 'too late', lease_token: held.lease_token },
        'conflict',
      );
      const after = await getTask(client, running);
      assert.equal(after.status, 'canceled');
      assert.equal(after.result, null);
      await expectError(client, 'cancel', { task_id: running }, 'conflict');
      await expectError(client, 'cancel', { task_id: 9999 }, 'not_found');
    });
  });

  it('cancel pushes lease.revoked to the holder that asked for lease_revocations, and to no one else', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const holder = await connect();
      const plain = await connect();
      const hello = await holder.result('hello', { worker_id: 'holder', features: ['lease_revocations'] });
      assert.ok(hello.features.includes('lease_revocations'));
      await plain.result('hello', { worker_id: 'plain' });
      const id = await enqueue(client, 'cancel me while running');
      const other = await enqueue(client, 'held by plain');
      const [held] = (await holder.result('lease', { worker_id: 'holder' })).tasks;
      assert.equal(held.task_id, id);
      assert.equal((await plain.result('lease', { worker_id: 'plain' })).tasks[0].task_id, other);
      await client.result('cancel', { task_id: id });
      const pushed = await holder.nextMessage();
      assert.equal(pushed.event, 'lease.revoked');
      assert.equal(pushed.task_id, id);
      assert.equal(pushed.reason, 'canceled');
      assert.equal(pushed.id, undefined, 'an event line, not an answer');
      await client.result('cancel', { task_id: other });
      // plain did not ask: the next line it reads is the answer to its own request.
      const statsId = plain.request('stats');
      assert.equal((await plain.nextMessage()).id, statsId);
    });
  });

  it('get returns one task; an unknown id is not_found', async () => {
    await withRawHub([], async ({ client }) => {
      const id = await enqueue(client, { prompt: 'look at me', metadata: { source: 'test' } });
      const task = await getTask(client, id);
      assert.equal(task.task_id, id);
      assert.equal(task.prompt, 'look at me');
      assert.equal(task.status, 'queued');
      assert.deepEqual(task.metadata, { source: 'test' });
      const missing = await expectError(client, 'get', { task_id: id + 1 }, 'not_found');
      assert.match(missing.message, new RegExp(String(id + 1)));
    });
  });

  it('wait (mode all) answers when every task is finished', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const worker = await connect();
      const a = await enqueue(client, 'a');
      const b = await enqueue(client, 'b');
      const waitId = client.request('wait', { task_ids: [a, b], timeout_ms: 60_000 });
      await worker.result('lease', { worker_id: 'w', max_tasks: 2 });
      await worker.result('ack', { task_id: a, status: 'done', result: 'A' });
      await worker.result('ack', { task_id: b, status: 'failed', error: 'B' });
      const response = await client.nextMatching((m) => m.id === waitId);
      assert.equal(response.error, null);
      assert.equal(response.result.timed_out, false);
      const byId = new Map((response.result.tasks as WireMessage[]).map((t) => [t.task_id, t]));
      assert.equal(byId.get(a)!.status, 'done');
      assert.equal(byId.get(b)!.status, 'failed');
    });
  });

  it('wait (mode any) answers when one task is finished', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const worker = await connect();
      const a = await enqueue(client, 'a');
      const b = await enqueue(client, 'b');
      const waitId = client.request('wait', { task_ids: [a, b], mode: 'any', timeout_ms: 60_000 });
      const [task] = (await worker.result('lease', { worker_id: 'w' })).tasks;
      await worker.result('ack', { task_id: task.task_id, status: 'done' });
      const response = await client.nextMatching((m) => m.id === waitId);
      assert.equal(response.result.timed_out, false);
      const statuses = (response.result.tasks as WireMessage[]).map((t) => t.status).sort();
      assert.deepEqual(statuses, ['done', 'queued']);
    });
  });

  it('wait says timed_out true when the timeout passes first; unknown ids are not_found', async () => {
    await withRawHub([], async ({ client }) => {
      const id = await enqueue(client, 'nobody works on this');
      const response = await client.result('wait', { task_ids: [id], timeout_ms: 200 });
      assert.equal(response.timed_out, true);
      assert.equal(response.tasks[0].status, 'queued');
      const missing = await expectError(
        client,
        'wait',
        { task_ids: [id, 777], timeout_ms: 100 },
        'not_found',
      );
      assert.match(missing.message, /777/);
    });
  });

  it('enqueue_many enqueues a batch; one bad task in the batch enqueues nothing', async () => {
    await withRawHub(['--max-prompt-bytes', '1000'], async ({ client }) => {
      const { task_ids } = await client.result('enqueue_many', {
        tasks: [{ prompt: 'one' }, { prompt: 'two', priority: 3 }, { prompt: 'three', backend: 'codex' }],
      });
      assert.equal(task_ids.length, 3);
      assert.deepEqual(
        task_ids,
        [...task_ids].sort((x: number, y: number) => x - y),
      );
      const before = await stats(client);
      assert.equal(before.queued, 3);

      const bad = await expectError(
        client,
        'enqueue_many',
        { tasks: [{ prompt: 'fine' }, { prompt: '' }, { prompt: 'also fine' }] },
        'bad_request',
      );
      assert.match(bad.message, /tasks\.1\.prompt/);
      const tooBig = await expectError(
        client,
        'enqueue_many',
        { tasks: [{ prompt: 'fine' }, { prompt: 'x'.repeat(1001) }] },
        'too_large',
      );
      assert.match(tooBig.message, /tasks\[1\]/);
      assert.deepEqual(await stats(client), before);
      assert.equal((await listAll(client)).length, 3);
    });
  });

  it('a task whose output_schema does not compile is refused, naming it, and nothing is enqueued', async () => {
    await withRawHub([], async ({ client }) => {
      const hello = await client.result('hello', { client: 'test' });
      assert.ok(hello.features.includes('output_schema'), 'the hub says it reads output_schema');
      const schema = { type: 'object', required: ['verdict'], properties: { verdict: { type: 'string' } } };
      const good = await enqueue(client, { prompt: 'answer in JSON', output_schema: schema });
      assert.deepEqual((await getTask(client, good)).output_schema, schema);
      const before = await stats(client);

      const one = await expectError(
        client,
        'enqueue',
        { prompt: 'bad schema', output_schema: { type: 'nope' } },
        'bad_request',
      );
      assert.match(one.message, /^output_schema\b/);
      assert.match(one.message, /type/, 'the message says what is wrong in the schema');
      const many = await expectError(
        client,
        'enqueue_many',
        {
          tasks: [
            { prompt: 'fine', output_schema: schema },
            { prompt: 'bad schema', output_schema: { type: 'object', properties: { n: { type: 'nope' } } } },
            { prompt: 'also fine' },
          ],
        },
        'bad_request',
      );
      assert.match(many.message, /^tasks\[1\]\.output_schema\b/);
      // Not an object at all: the request's shape refuses it before the schema is compiled.
      await expectError(client, 'enqueue', { prompt: 'x', output_schema: 'a string' }, 'bad_request');
      assert.deepEqual(await stats(client), before);
      assert.deepEqual(idsOf(await listAll(client)), [good]);
    });
  });
});

describe('v1 agents and events', () => {
  it('agents lists a worker after hello: backend, connected, current tasks, last contact; then disconnected', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const agent = await connect();
      await agent.result('hello', {
        client: 'test-agent',
        worker_id: 'agent-1',
        backend: 'codex',
        tags: ['gpu'],
      });
      const listed = (await client.result('agents')).agents as WireMessage[];
      const info = listed.find((a) => a.worker_id === 'agent-1');
      assert.ok(info, JSON.stringify(listed));
      assert.equal(info.connected, true);
      assert.equal(info.backend, 'codex');
      assert.deepEqual(info.tags, ['gpu']);
      assert.equal(info.healthy, true);
      assert.deepEqual(info.current_tasks, []);

      const id = await enqueue(client, 'for agent-1');
      const before = Date.now() / 1000;
      const { tasks } = await agent.result('lease', {});
      assert.equal(tasks[0].worker_id, 'agent-1', 'a lease without worker_id uses the hello identity');
      const busy = ((await client.result('agents')).agents as WireMessage[]).find(
        (a) => a.worker_id === 'agent-1',
      )!;
      assert.deepEqual(busy.current_tasks, [id]);
      assert.equal(typeof busy.last_contact, 'number');
      assert.ok(busy.last_contact >= before - 1, 'the lease counted as contact');

      await agent.result('ack', { task_id: id, status: 'done', lease_token: tasks[0].lease_token });
      const idle = ((await client.result('agents')).agents as WireMessage[]).find(
        (a) => a.worker_id === 'agent-1',
      )!;
      assert.deepEqual(idle.current_tasks, []);
      assert.equal(idle.tasks_done, 1);

      agent.close();
      await waitFor(async () => {
        const agents = (await client.result('agents')).agents as WireMessage[];
        return agents.find((a) => a.worker_id === 'agent-1')?.connected === false;
      }, 'agent-1 to show as disconnected');
    });
  });

  it('hello twice on one connection updates the agent and one close still disconnects it', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const agent = await connect();
      await agent.result('hello', { worker_id: 'twice', backend: 'codex' });
      await agent.result('hello', { worker_id: 'twice', backend: 'claude_code' });
      const find = async () =>
        ((await client.result('agents')).agents as WireMessage[]).find((a) => a.worker_id === 'twice');
      assert.equal((await find())?.backend, 'claude_code');
      assert.equal((await find())?.connected, true);
      agent.close();
      await waitFor(async () => (await find())?.connected === false, 'the agent to show as disconnected');
    });
  });

  it('report_health shows healthy false with the reason and fix in agents', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const agent = await connect();
      await agent.result('hello', { worker_id: 'claude-1', backend: 'claude_code' });
      await agent.result('report_health', {
        healthy: false,
        reason: 'claude_code: not logged in',
        fix: 'run `claude /login`',
      });
      const sick = ((await client.result('agents')).agents as WireMessage[]).find(
        (a) => a.worker_id === 'claude-1',
      )!;
      assert.equal(sick.healthy, false);
      assert.equal(sick.reason, 'claude_code: not logged in');
      assert.equal(sick.fix, 'run `claude /login`');
      await agent.result('report_health', { healthy: true });
      const well = ((await client.result('agents')).agents as WireMessage[]).find(
        (a) => a.worker_id === 'claude-1',
      )!;
      assert.equal(well.healthy, true);
      assert.equal(well.reason, null);
      await expectError(client, 'report_health', { healthy: false }, 'bad_request');
    });
  });

  it('subscribe streams task.enqueued, task.leased, task.done and agent events, each with its subject', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const watcher = await connect();
      const subscribed = await watcher.result('subscribe', {});
      assert.equal(subscribed.ok, true);
      const id = await enqueue(client, 'watched');
      const [task] = (await client.result('lease', { worker_id: 'w' })).tasks;
      await client.result('ack', {
        task_id: id,
        status: 'done',
        result: 'seen',
        lease_token: task.lease_token,
      });
      const agent = await connect();
      await agent.result('hello', { worker_id: 'visible-agent' });

      const isEvent = (name: string) => (m: WireMessage) => m.event === name;
      const enqueued = await watcher.nextMatching(isEvent('task.enqueued'));
      assert.equal(enqueued.id, undefined, 'events carry no id');
      assert.equal(enqueued.task.task_id, id);
      assert.equal(enqueued.task.prompt, 'watched');
      assert.equal(typeof enqueued.time, 'number');
      const leased = await watcher.nextMatching(isEvent('task.leased'));
      assert.equal(leased.task.worker_id, 'w');
      assert.equal(leased.task.lease_token, null, 'the fencing token is only for the holder');
      const done = await watcher.nextMatching(isEvent('task.done'));
      assert.equal(done.task.status, 'done');
      assert.equal(done.task.result, 'seen');
      const connected = await watcher.nextMatching(isEvent('agent.connected'));
      assert.equal(connected.agent.worker_id, 'visible-agent');
      agent.close();
      const gone = await watcher.nextMatching(isEvent('agent.disconnected'));
      assert.equal(gone.agent.worker_id, 'visible-agent');
    });
  });

  it('subscribe to task events only does not send agent events', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const watcher = await connect();
      assert.deepEqual((await watcher.result('subscribe', { events: ['task'] })).events, ['task']);
      const agent = await connect();
      await agent.result('hello', { worker_id: 'quiet-agent' });
      const id = await enqueue(client, 'after the agent');
      const first = await watcher.nextMessage();
      assert.equal(first.event, 'task.enqueued', 'the agent event before it was not sent');
      assert.equal(first.task.task_id, id);
    });
  });
});

describe('v1 limits and validation', () => {
  it('a line over 1 MiB gets too_large, the connection is closed, and the hub still serves others', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const big = await connect();
      const prompt = 'x'.repeat(1024 * 1024 + 100);
      big.send(`{"id": 1, "method": "enqueue", "params": {"prompt": "${prompt}"}}\n`);
      const response = await big.nextMessage();
      assert.equal(response.id, null);
      assert.equal(response.result, null);
      assert.equal(response.error.code, 'too_large');
      await big.closed;
      assert.equal(client.socket.destroyed, false);
      assert.equal((await stats(client)).queued, 0, 'nothing from the oversized line was enqueued');
      const other = await connect();
      assert.ok((await enqueue(other, 'small is fine')) > 0);
    });
  });

  it('a prompt over --max-prompt-bytes is too_large and enqueues nothing', async () => {
    await withRawHub(['--max-prompt-bytes', '1000'], async ({ client }) => {
      assert.ok((await enqueue(client, 'y'.repeat(1000))) > 0, 'exactly the limit is accepted');
      const error = await expectError(client, 'enqueue', { prompt: 'y'.repeat(1001) }, 'too_large');
      assert.match(error.message, /--max-prompt-bytes/);
      // Bytes, not characters: 334 three-byte characters are 1002 bytes.
      await expectError(client, 'enqueue', { prompt: '€'.repeat(334) }, 'too_large');
      assert.equal((await stats(client)).queued, 1);
    });
  });

  it('params with wrong types are bad_request naming the field, and change nothing', async () => {
    await withRawHub([], async ({ client }) => {
      const id = await enqueue(client, 'victim');
      const cases: Array<[string, object, RegExp]> = [
        ['enqueue', { prompt: 5 }, /prompt/],
        ['enqueue', { prompt: 'x', priority: 'high' }, /priority/],
        ['enqueue', { prompt: 'x', backend: 'no spaces allowed' }, /backend/],
        ['lease', { worker_id: 'w', max_tasks: 'two' }, /max_tasks/],
        ['lease', { worker_id: 'w', lease_seconds: -1 }, /lease_seconds/],
        ['lease', { worker_id: 'w', wait_ms: 'soon' }, /wait_ms/],
        ['list', { limit: 'all' }, /limit/],
        ['list', { status: 'sleeping' }, /status/],
        ['get', { task_id: 'seven' }, /task_id/],
        ['cancel', { task_id: -1 }, /task_id/],
        ['wait', { task_ids: 'all' }, /task_ids/],
      ];
      for (const [method, params, field] of cases) {
        const error = await expectError(client, method, params, 'bad_request');
        assert.match(error.message, field, `${method} ${JSON.stringify(params)}: ${error.message}`);
      }
      const arrayParams = await expectError(client, 'stats', [], 'bad_request');
      assert.match(arrayParams.message, /params/);
      assert.deepEqual(
        (await listAll(client)).map((t) => [t.task_id, t.status]),
        [[id, 'queued']],
      );

      const [held] = (await client.result('lease', { worker_id: 'w' })).tasks;
      const badAck = await expectError(
        client,
        'ack',
        { task_id: id, status: 'done', result: 42 },
        'bad_request',
      );
      assert.match(badAck.message, /result/);
      const task = await getTask(client, id);
      assert.equal(task.status, 'leased');
      assert.equal(task.lease_token, null);
      assert.equal(task.worker_id, held.worker_id);
    });
  });
});

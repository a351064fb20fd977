/**
 * v0.1 conformance: one test per rule of PROTOCOL.md "Framing" and "v0.1 methods", spoken over a
 * raw TCP line client to a real hub process, exactly as an old Python or Go client would. Each
 * test gets its own hub, so no test depends on what another left in the queue.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { HANG_GUARD_MS, waitFor } from '../helpers/hub-process.ts';
import { callOnce, type RawClient, type WireMessage, withRawHub } from '../helpers/raw-client.ts';

const V01_STATUSES = ['queued', 'leased', 'done', 'failed'];

/** Every v0.1 field present, with the v0.1 JSON type. */
function assertV01Task(task: WireMessage): void {
  assert.ok(Number.isInteger(task.task_id), `task_id is an integer: ${JSON.stringify(task)}`);
  assert.equal(typeof task.prompt, 'string');
  assert.ok(V01_STATUSES.includes(task.status), `status ${task.status} is a v0.1 status`);
  assert.equal(typeof task.created_at, 'number');
  assert.equal(typeof task.updated_at, 'number');
  for (const key of ['leased_until']) {
    assert.ok(key in task, `${key} present`);
    assert.ok(task[key] === null || typeof task[key] === 'number', `${key} is a number or null`);
  }
  for (const key of ['worker_id', 'result', 'error']) {
    assert.ok(key in task, `${key} present`);
    assert.ok(task[key] === null || typeof task[key] === 'string', `${key} is a string or null`);
  }
}

async function enqueue(client: RawClient, prompt: string): Promise<number> {
  return (await client.result('enqueue', { prompt })).task_id as number;
}

async function stats(client: RawClient): Promise<WireMessage> {
  return (await client.result('stats')).stats as WireMessage;
}

async function listAll(client: RawClient): Promise<WireMessage[]> {
  return (await client.result('list', { limit: 0 })).tasks as WireMessage[];
}

describe('v0.1 framing', () => {
  it('a success response is {"id", "result", "error": null}', async () => {
    await withRawHub([], async ({ client }) => {
      client.send('{"id": 1, "method": "stats", "params": {}}\n');
      const line = await client.nextLine();
      const response = JSON.parse(line);
      assert.deepEqual(Object.keys(response).sort(), ['error', 'id', 'result']);
      assert.equal(response.id, 1);
      assert.equal(response.error, null);
      assert.equal(typeof response.result, 'object');
      assert.notEqual(response.result, null);
    });
  });

  it('an error response is {"id", "result": null, "error": {"message"}}', async () => {
    await withRawHub([], async ({ client }) => {
      client.send('{"id": 2, "method": "enqueue", "params": {}}\n');
      const response = JSON.parse(await client.nextLine());
      assert.deepEqual(Object.keys(response).sort(), ['error', 'id', 'result']);
      assert.equal(response.id, 2);
      assert.equal(response.result, null);
      assert.equal(typeof response.error.message, 'string');
      assert.ok(response.error.message.length > 0);
    });
  });

  it('the id is echoed as sent: a string id and a number id', async () => {
    await withRawHub([], async ({ client }) => {
      const stringId = randomUUID().replaceAll('-', '');
      client.send(`${JSON.stringify({ id: stringId, method: 'stats', params: {} })}\n`);
      assert.equal((await client.nextMessage()).id, stringId);
      client.send('{"id": 12345, "method": "stats", "params": {}}\n');
      const numeric = await client.nextMessage();
      assert.equal(numeric.id, 12345);
      assert.equal(typeof numeric.id, 'number');
      // Error answers echo the id too.
      client.send('{"id": "err-1", "method": "no_such_method"}\n');
      const failed = await client.nextMessage();
      assert.equal(failed.id, 'err-1');
      assert.notEqual(failed.error, null);
    });
  });

  it('params missing or null are treated as {}', async () => {
    await withRawHub(['--lease-seconds', '77'], async ({ client }) => {
      client.send('{"id": 1, "method": "stats"}\n');
      const missing = await client.nextMessage();
      assert.equal(missing.error, null);
      assert.equal(missing.result.stats.queued, 0);

      client.send('{"id": 2, "method": "stats", "params": null}\n');
      assert.equal((await client.nextMessage()).error, null);

      await enqueue(client, 'one');
      client.send('{"id": 3, "method": "lease", "params": null}\n');
      const leased = await client.nextMessage();
      assert.equal(leased.error, null);
      assert.equal(leased.result.tasks.length, 1);
      assert.equal(leased.result.tasks[0].worker_id, 'worker');

      client.send('{"id": 4, "method": "list"}\n');
      const listed = await client.nextMessage();
      assert.equal(listed.error, null);
      assert.equal(listed.result.tasks.length, 1);
    });
  });

  it('a request is one UTF-8 line: split across TCP writes (even inside a character) it arrives whole', async () => {
    await withRawHub([], async ({ client }) => {
      const prompt = 'Mittelö — 日本語 ✓';
      const bytes = Buffer.from(
        `${JSON.stringify({ id: 'split', method: 'enqueue', params: { prompt } })}\n`,
      );
      const cut = bytes.indexOf(Buffer.from('日')) + 1; // inside a three-byte character
      client.send(bytes.subarray(0, cut));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(client.hasUnread, false, 'no answer before the line is complete');
      client.send(bytes.subarray(cut));
      const response = await client.nextMessage();
      assert.equal(response.id, 'split');
      const [task] = await listAll(client);
      assert.equal(task!.prompt, prompt);
    });
  });

  it('several requests in one TCP write are each answered, CRLF line ends included', async () => {
    await withRawHub([], async ({ client }) => {
      client.send(
        '{"id": 1, "method": "enqueue", "params": {"prompt": "a"}}\r\n' +
          '{"id": 2, "method": "enqueue", "params": {"prompt": "b"}}\n' +
          '{"id": 3, "method": "stats"}\n',
      );
      const answers = [await client.nextMessage(), await client.nextMessage(), await client.nextMessage()];
      assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2, 3]);
      assert.ok(answers.every((a) => a.error === null));
    });
  });

  it('empty lines are ignored', async () => {
    await withRawHub([], async ({ client }) => {
      client.send('\n\n   \n\t\n');
      client.send('{"id": "after-blanks", "method": "stats"}\n');
      const response = await client.nextMessage();
      assert.equal(response.id, 'after-blanks', 'the first line back answers the request, not a blank');
      assert.equal(response.error, null);
      assert.equal(client.hasUnread, false);
    });
  });

  it('a line that is not valid JSON gets an error with id null, and the connection stays usable', async () => {
    await withRawHub([], async ({ client }) => {
      for (const garbage of ['this is not json', '{"id": 1, "method": ', '{id: 1}']) {
        client.send(`${garbage}\n`);
        const response = await client.nextMessage();
        assert.equal(response.id, null, garbage);
        assert.equal(response.result, null);
        assert.equal(typeof response.error.message, 'string');
      }
      const after = await client.call('enqueue', { prompt: 'still works' });
      assert.equal(after.error, null);
      assert.ok(Number.isInteger(after.result.task_id));
    });
  });

  it('a line that is not a JSON object gets an error with id null, and the connection stays usable', async () => {
    await withRawHub([], async ({ client }) => {
      for (const notObject of ['[1, 2, 3]', '42', '"stats"', 'null', 'true']) {
        client.send(`${notObject}\n`);
        const response = await client.nextMessage();
        assert.equal(response.id, null, notObject);
        assert.equal(response.result, null);
        assert.equal(typeof response.error.message, 'string');
      }
      assert.equal((await client.call('stats')).error, null);
      assert.equal((await stats(client)).queued, 0, 'nothing was enqueued by the junk');
    });
  });

  it('one connection per call works', async () => {
    await withRawHub([], async ({ hub }) => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const response = await callOnce(hub.port, 'enqueue', { prompt: `fresh connection ${i}` });
        assert.equal(response.error, null);
        ids.push(response.result.task_id);
      }
      assert.equal(new Set(ids).size, 5);
      const listed = await callOnce(hub.port, 'list', { limit: 0 });
      assert.deepEqual(
        listed.result.tasks.map((t: WireMessage) => t.task_id),
        [...ids].reverse(),
      );
    });
  });

  it('many calls on one connection work, each answered with its id', async () => {
    await withRawHub([], async ({ client }) => {
      for (let i = 0; i < 20; i += 1) {
        const id = `call-${i}`;
        client.send(`${JSON.stringify({ id, method: 'enqueue', params: { prompt: `p${i}` } })}\n`);
        const response = await client.nextMessage();
        assert.equal(response.id, id);
        assert.equal(response.error, null);
      }
      assert.equal((await stats(client)).queued, 20);
    });
  });
});

describe('v0.1 methods', () => {
  it('enqueue returns {"task_id": <int>}', async () => {
    await withRawHub([], async ({ client }) => {
      const first = await client.result('enqueue', { prompt: 'hello' });
      assert.deepEqual(Object.keys(first), ['task_id']);
      assert.ok(Number.isInteger(first.task_id) && first.task_id > 0);
      const second = await client.result('enqueue', { prompt: 'again' });
      assert.ok(second.task_id > first.task_id);
    });
  });

  it('enqueue without a prompt is an error and enqueues nothing', async () => {
    await withRawHub([], async ({ client }) => {
      const response = await client.call('enqueue', {});
      assert.equal(response.result, null);
      assert.match(response.error.message, /prompt/);
      assert.equal((await stats(client)).queued, 0);
    });
  });

  it('lease defaults: worker_id "worker", max_tasks 1, lease_seconds from --lease-seconds', async () => {
    await withRawHub(['--lease-seconds', '42'], async ({ client }) => {
      for (const prompt of ['a', 'b', 'c']) await enqueue(client, prompt);
      const before = Date.now() / 1000;
      const { tasks } = await client.result('lease', {});
      const after = Date.now() / 1000;
      assert.equal(tasks.length, 1, 'max_tasks defaults to 1');
      const [task] = tasks;
      assert.equal(task.worker_id, 'worker');
      assert.equal(task.status, 'leased');
      // The hub set leased_until = now + lease_seconds, with its own now in [before, after].
      assert.ok(Math.abs(task.leased_until - task.updated_at - 42) < 0.01, JSON.stringify(task));
      assert.ok(task.leased_until >= before + 42 - 1 && task.leased_until <= after + 42 + 1);
    });
  });

  it('lease on an empty queue returns {"tasks": []}', async () => {
    await withRawHub([], async ({ client }) => {
      assert.deepEqual(await client.result('lease', { worker_id: 'w', max_tasks: 5 }), { tasks: [] });
      await enqueue(client, 'only one');
      await client.result('lease', { worker_id: 'w' });
      assert.deepEqual(await client.result('lease', { worker_id: 'w' }), { tasks: [] });
    });
  });

  it('every v0.1 Task field is present with its JSON type in lease and list results', async () => {
    await withRawHub([], async ({ client }) => {
      const id = await enqueue(client, 'typed');
      await enqueue(client, 'still queued');
      const queued = (await listAll(client)).find((t) => t.task_id === id)!;
      assertV01Task(queued);
      assert.equal(queued.status, 'queued');
      assert.equal(queued.leased_until, null);
      assert.equal(queued.worker_id, null);
      assert.equal(queued.result, null);
      assert.equal(queued.error, null);

      const { tasks } = await client.result('lease', { worker_id: 'host-1-abc', max_tasks: 1 });
      assertV01Task(tasks[0]);
      assert.equal(tasks[0].worker_id, 'host-1-abc');
      assert.equal(typeof tasks[0].leased_until, 'number');

      await client.result('ack', { task_id: id, status: 'done', result: 'the answer', error: null });
      const listed = await listAll(client);
      for (const task of listed) assertV01Task(task);
      const done = listed.find((t) => t.task_id === id)!;
      assert.equal(done.status, 'done');
      assert.equal(done.result, 'the answer');
      assert.equal(done.prompt, 'typed');
    });
  });

  it('lease hands out the oldest available tasks first', async () => {
    await withRawHub([], async ({ client }) => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i += 1) ids.push(await enqueue(client, `task ${i}`));
      const first = await client.result('lease', { worker_id: 'w', max_tasks: 2 });
      assert.deepEqual(
        first.tasks.map((t: WireMessage) => t.task_id),
        ids.slice(0, 2),
      );
      const second = await client.result('lease', { worker_id: 'w', max_tasks: 10 });
      assert.deepEqual(
        second.tasks.map((t: WireMessage) => t.task_id),
        ids.slice(2),
      );
    });
  });

  it('a task whose lease ran out is leased again, to another worker', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const short = await enqueue(client, 'holder dies');
      const long = await enqueue(client, 'holder is alive');
      const dead = await connect();
      const alive = await connect();
      const lost = await dead.result('lease', { worker_id: 'dead-worker', max_tasks: 1, lease_seconds: 1 });
      assert.equal(lost.tasks[0].task_id, short);
      const held = await alive.result('lease', {
        worker_id: 'alive-worker',
        max_tasks: 1,
        lease_seconds: 600,
      });
      assert.equal(held.tasks[0].task_id, long);
      const leasedUntil = lost.tasks[0].leased_until as number;
      await waitFor(() => Date.now() / 1000 > leasedUntil + 0.05, 'the short lease to run out');

      const { tasks } = await client.result('lease', { worker_id: 'new-worker', max_tasks: 5 });
      assert.deepEqual(
        tasks.map((t: WireMessage) => t.task_id),
        [short],
        'only the expired task; the live lease is kept',
      );
      assert.equal(tasks[0].worker_id, 'new-worker');
      assert.ok(tasks[0].leased_until > leasedUntil);
      const after = (await listAll(client)).find((t) => t.task_id === long)!;
      assert.equal(after.worker_id, 'alive-worker');
    });
  });

  it('ack status is case-insensitive ("DONE", "Failed")', async () => {
    await withRawHub([], async ({ client }) => {
      const a = await enqueue(client, 'a');
      const b = await enqueue(client, 'b');
      await client.result('lease', { worker_id: 'w', max_tasks: 2 });
      assert.deepEqual((await client.result('ack', { task_id: a, status: 'DONE', result: 'ok' })).ok, true);
      assert.deepEqual((await client.result('ack', { task_id: b, status: 'Failed', error: 'no' })).ok, true);
      const byId = new Map((await listAll(client)).map((t) => [t.task_id, t]));
      assert.equal(byId.get(a)!.status, 'done');
      assert.equal(byId.get(b)!.status, 'failed');
      assert.equal(byId.get(b)!.error, 'no');
    });
  });

  it('ack returns {"ok": true} and accepts null result and error', async () => {
    await withRawHub([], async ({ client }) => {
      const a = await enqueue(client, 'a');
      const b = await enqueue(client, 'b');
      await client.result('lease', { worker_id: 'w', max_tasks: 2 });
      const done = await client.result('ack', { task_id: a, status: 'done', result: null, error: null });
      assert.equal(done.ok, true);
      const failed = await client.result('ack', { task_id: b, status: 'failed', result: null, error: null });
      assert.equal(failed.ok, true);
      const byId = new Map((await listAll(client)).map((t) => [t.task_id, t]));
      assert.equal(byId.get(a)!.result, null);
      assert.equal(byId.get(b)!.error, null);
      const after = await stats(client);
      assert.equal(after.done, 1);
      assert.equal(after.failed, 1);
      assert.equal(after.leased, 0);
    });
  });

  it('ack with a status other than done/failed is an error and changes nothing', async () => {
    await withRawHub([], async ({ client }) => {
      const id = await enqueue(client, 'x');
      await client.result('lease', { worker_id: 'w' });
      for (const status of ['queued', 'ok', '', 'leased']) {
        const response = await client.call('ack', { task_id: id, status });
        assert.equal(response.result, null, status);
        assert.match(response.error.message, /status/);
      }
      const [task] = await listAll(client);
      assert.equal(task!.status, 'leased');
      assert.equal(task!.worker_id, 'w');
    });
  });

  it('ack of a task that does not exist is an error and changes nothing', async () => {
    await withRawHub([], async ({ client }) => {
      await enqueue(client, 'x');
      const before = await stats(client);
      const response = await client.call('ack', { task_id: 999, status: 'done', result: 'r', error: null });
      assert.equal(response.result, null);
      assert.match(response.error.message, /999/);
      assert.deepEqual(await stats(client), before);
    });
  });

  it('ack of a task that is already done is an error and changes nothing', async () => {
    await withRawHub([], async ({ client }) => {
      const id = await enqueue(client, 'x');
      await client.result('lease', { worker_id: 'w' });
      await client.result('ack', { task_id: id, status: 'done', result: 'first', error: null });
      const before = await stats(client);
      for (const status of ['done', 'failed']) {
        const response = await client.call('ack', { task_id: id, status, result: 'second', error: 'late' });
        assert.equal(response.result, null);
        assert.equal(typeof response.error.message, 'string');
      }
      assert.deepEqual(await stats(client), before);
      const [task] = await listAll(client);
      assert.equal(task!.status, 'done');
      assert.equal(task!.result, 'first');
      assert.equal(task!.error, null);
    });
  });

  it('list returns newest first', async () => {
    await withRawHub([], async ({ client }) => {
      const ids: number[] = [];
      for (let i = 0; i < 4; i += 1) ids.push(await enqueue(client, `t${i}`));
      const { tasks } = await client.result('list', {});
      assert.deepEqual(
        tasks.map((t: WireMessage) => t.task_id),
        [...ids].reverse(),
      );
    });
  });

  it('list limit defaults to 50, and limit <= 0 means no limit', async () => {
    await withRawHub([], async ({ client }) => {
      for (let i = 1; i <= 60; i += 1) client.request('enqueue', { prompt: `t${i}` }, `e${i}`);
      for (let i = 1; i <= 60; i += 1) assert.equal((await client.nextMessage()).error, null);
      const defaulted = await client.result('list', {});
      assert.equal(defaulted.tasks.length, 50);
      assert.equal(defaulted.tasks[0].task_id, 60);
      assert.equal(defaulted.tasks[49].task_id, 11);
      const limitNull = await client.result('list', { limit: null, status: null });
      assert.equal(limitNull.tasks.length, 50);
      assert.equal((await client.result('list', { limit: 7 })).tasks.length, 7);
      assert.equal((await client.result('list', { limit: 0 })).tasks.length, 60);
      assert.equal((await client.result('list', { limit: -1 })).tasks.length, 60);
    });
  });

  it('list filters by status, and "status": null means no filter', async () => {
    await withRawHub([], async ({ client }) => {
      const a = await enqueue(client, 'a');
      const b = await enqueue(client, 'b');
      const c = await enqueue(client, 'c');
      await client.result('lease', { worker_id: 'w', max_tasks: 2 });
      await client.result('ack', { task_id: a, status: 'done', result: 'r' });
      const idsOf = (r: WireMessage) => r.tasks.map((t: WireMessage) => t.task_id);
      assert.deepEqual(idsOf(await client.result('list', { status: 'done' })), [a]);
      assert.deepEqual(idsOf(await client.result('list', { status: 'leased' })), [b]);
      assert.deepEqual(idsOf(await client.result('list', { status: 'queued' })), [c]);
      assert.deepEqual(idsOf(await client.result('list', { status: 'failed' })), []);
      assert.deepEqual(idsOf(await client.result('list', { status: null, limit: 50 })), [c, b, a]);
    });
  });

  it('list includes stats', async () => {
    await withRawHub([], async ({ client }) => {
      const a = await enqueue(client, 'a');
      await enqueue(client, 'b');
      await client.result('lease', { worker_id: 'w' });
      await client.result('ack', { task_id: a, status: 'failed', error: 'e' });
      const listed = await client.result('list', { status: 'queued' });
      assert.equal(listed.tasks.length, 1);
      assert.equal(listed.stats.queued, 1);
      assert.equal(listed.stats.failed, 1);
      assert.equal(listed.stats.leased, 0);
      assert.equal(listed.stats.done, 0);
    });
  });

  it('stats always has the integer keys queued, leased, done, failed (zero when empty)', async () => {
    await withRawHub([], async ({ client }) => {
      const empty = await stats(client);
      for (const key of V01_STATUSES) assert.equal(empty[key], 0, key);
      const a = await enqueue(client, 'a');
      await enqueue(client, 'b');
      await enqueue(client, 'c');
      await client.result('lease', { worker_id: 'w', max_tasks: 2 });
      await client.result('ack', { task_id: a, status: 'done' });
      const busy = await stats(client);
      for (const key of V01_STATUSES) assert.ok(Number.isInteger(busy[key]), key);
      assert.equal(busy.queued, 1);
      assert.equal(busy.leased, 1);
      assert.equal(busy.done, 1);
      assert.equal(busy.failed, 0);
    });
  });

  it('retry_failed returns {"retried"} and clears worker_id, leased_until, result and error', async () => {
    await withRawHub([], async ({ client }) => {
      const a = await enqueue(client, 'a');
      const b = await enqueue(client, 'b');
      const c = await enqueue(client, 'c');
      await client.result('lease', { worker_id: 'w', max_tasks: 3 });
      await client.result('ack', { task_id: a, status: 'failed', result: 'partial', error: 'boom' });
      await client.result('ack', { task_id: b, status: 'failed', result: null, error: 'bang' });
      await client.result('ack', { task_id: c, status: 'done', result: 'fine' });

      assert.deepEqual(await client.result('retry_failed'), { retried: 2 });
      const byId = new Map((await listAll(client)).map((t) => [t.task_id, t]));
      for (const id of [a, b]) {
        const task = byId.get(id)!;
        assertV01Task(task);
        assert.equal(task.status, 'queued');
        assert.equal(task.worker_id, null);
        assert.equal(task.leased_until, null);
        assert.equal(task.result, null);
        assert.equal(task.error, null);
      }
      assert.equal(byId.get(c)!.status, 'done');
      assert.equal(byId.get(c)!.result, 'fine');
      assert.deepEqual(await client.result('retry_failed', null), { retried: 0 });
      // Retried tasks can be leased again.
      const again = await client.result('lease', { worker_id: 'w2', max_tasks: 5 });
      assert.deepEqual(
        again.tasks.map((t: WireMessage) => t.task_id),
        [a, b],
      );
    });
  });

  it('an unknown method is an error whose message names the method', async () => {
    await withRawHub([], async ({ client }) => {
      const response = await client.call('frobnicate_tasks', {});
      assert.equal(response.result, null);
      assert.match(response.error.message, /frobnicate_tasks/);
      assert.equal((await client.call('stats')).error, null, 'the connection stays usable');
    });
  });

  it('shutdown returns {"ok": true} and the hub process exits 0', async () => {
    await withRawHub([], async ({ hub, client }) => {
      await enqueue(client, 'kept');
      assert.deepEqual(await client.result('shutdown'), { ok: true });
      assert.equal(await hub.exited, 0);
    });
  });

  it('the v0.1 agent loop (lease max_tasks 1, ack, sleep when empty) works through the queue', async () => {
    await withRawHub([], async ({ hub, client }) => {
      const workerId = `host-${process.pid}-${randomUUID().slice(0, 8)}`;
      let emptyLeases = 0;
      const handled: number[] = [];
      const deadline = Date.now() + HANG_GUARD_MS;
      // Like the Python agent: a fresh connection and a uuid hex id for every call.
      const agentCall = async (method: string, params: object) => {
        const response = await callOnce(hub.port, method, params);
        assert.equal(response.error, null, `${method}: ${JSON.stringify(response.error)}`);
        return response.result as WireMessage;
      };
      const agent = (async () => {
        while (handled.length < 4 && Date.now() < deadline) {
          const { tasks } = await agentCall('lease', {
            worker_id: workerId,
            max_tasks: 1,
            lease_seconds: 300,
          });
          if (tasks.length === 0) {
            emptyLeases += 1;
            await new Promise((resolve) => setTimeout(resolve, 1000));
            continue;
          }
          assert.equal(tasks.length, 1);
          const [task] = tasks;
          handled.push(task.task_id);
          if (task.prompt.startsWith('fail')) {
            await agentCall('ack', {
              task_id: task.task_id,
              status: 'failed',
              result: null,
              error: 'backend said no',
            });
          } else {
            await agentCall('ack', {
              task_id: task.task_id,
              status: 'done',
              result: task.prompt.toUpperCase(),
              error: null,
            });
          }
        }
      })();
      // The agent finds the queue empty first, then work arrives while it sleeps.
      await waitFor(() => emptyLeases > 0, 'the agent to find the queue empty');
      const ids = [];
      for (const prompt of ['one', 'two', 'fail three', 'four']) ids.push(await enqueue(client, prompt));
      await agent;
      assert.deepEqual(handled, ids, 'each task handled once, oldest first');
      const byId = new Map((await listAll(client)).map((t) => [t.task_id, t]));
      assert.equal(byId.get(ids[0]!)!.result, 'ONE');
      assert.equal(byId.get(ids[1]!)!.result, 'TWO');
      assert.equal(byId.get(ids[2]!)!.status, 'failed');
      assert.equal(byId.get(ids[2]!)!.error, 'backend said no');
      assert.equal(byId.get(ids[3]!)!.worker_id, workerId);
      const final = await stats(client);
      assert.equal(final.done, 3);
      assert.equal(final.failed, 1);
      assert.equal(final.queued + final.leased, 0);
    });
  });
});

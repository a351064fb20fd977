/**
 * The REST API (`mittelo hub --rest-port`) against real hub processes with global fetch: the v0.1
 * routes and their exact bodies, the v1 routes, error codes and statuses, bad input changing
 * nothing, bearer-token auth, /openapi.json, the SSE stream, and state shared with TCP. A few
 * checks that need to look inside the hub (unsubscribing, closing) run an in-process hub.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import { startRestServer } from '../../src/hub/rest/rest-server.ts';
import { type RunningHub, startHub } from '../../src/hub/start-hub.ts';
import type { Task } from '../../src/protocol/model.ts';
import { newTaskSchema } from '../../src/protocol/schemas.ts';
import { type HubProcess, makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the tests themselves
type Json = Record<string, any>;

interface Answer {
  status: number;
  body: Json;
  headers: Headers;
}

const TEST_TIMEOUT = { timeout: 300_000 };

/** One HTTP call; `body` is sent as JSON unless it is a string (sent as is), typed application/json. */
async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  // Every write says JSON, also with no body: the hub refuses other writes (rest-security.test.ts).
  if (method !== 'GET') headers['content-type'] ??= 'application/json';
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: Json;
  try {
    parsed = JSON.parse(text);
  } catch {
    assert.fail(`${method} ${path} answered ${response.status} with a body that is not JSON: ${text}`);
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** A call that must fail with this status and code; the message must be a non-empty string. */
async function expectError(
  base: string,
  method: string,
  path: string,
  status: number,
  code: string,
  options: Parameters<typeof call>[3] = {},
): Promise<Json> {
  const answer = await call(base, method, path, options);
  assert.equal(answer.status, status, `${method} ${path}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.code, code, `${method} ${path}: ${JSON.stringify(answer.body)}`);
  assert.equal(typeof answer.body.error, 'string');
  assert.ok(answer.body.error.length > 0);
  return answer.body;
}

/** Everything a test can observe about stored state: counts and every task. */
async function snapshot(base: string, token?: string): Promise<Json> {
  const listed = await call(base, 'GET', '/tasks?limit=0', { token });
  assert.equal(listed.status, 200);
  return listed.body;
}

interface SseMessage {
  event: string;
  data: Json;
}

/** Reads an SSE response in the background, collecting messages and comments until it ends. */
class SseReader {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  done = false;
  private buffer = '';

  constructor(response: Response) {
    void this.read(response.body!.getReader());
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        let end = this.buffer.indexOf('\n\n');
        while (end >= 0) {
          this.parse(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
          end = this.buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by the test
    } finally {
      this.done = true;
    }
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event = line.slice('event: '.length);
      else if (line.startsWith('data: ')) data.push(line.slice('data: '.length));
    }
    if (data.length > 0) this.messages.push({ event, data: JSON.parse(data.join('\n')) });
  }

  find(predicate: (message: SseMessage) => boolean, what: string): Promise<SseMessage> {
    return waitFor(() => this.messages.find(predicate), what) as Promise<SseMessage>;
  }
}

const V01_STATUSES = ['queued', 'leased', 'done', 'failed'];

describe('REST v0.1 routes', () => {
  let hub: HubProcess;
  let base: string;
  before(async () => {
    hub = await startHubProcess({ rest: true });
    base = hub.restUrl!;
  });
  after(async () => {
    await hub?.stop();
  });

  it('answer with the v0.1 bodies', TEST_TIMEOUT, async () => {
    const health = await call(base, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { ok: true });

    const stats = await call(base, 'GET', '/stats');
    assert.equal(stats.status, 200);
    assert.deepEqual(Object.keys(stats.body), ['stats']);
    for (const status of V01_STATUSES) assert.equal(stats.body.stats[status], 0, status);

    const created = await call(base, 'POST', '/tasks', { body: { prompt: 'first' } });
    assert.equal(created.status, 200);
    assert.deepEqual(created.body, { task_id: 1 });

    const listed = await call(base, 'GET', '/tasks');
    assert.equal(listed.status, 200);
    assert.deepEqual(Object.keys(listed.body).sort(), ['stats', 'tasks']);
    assert.equal(listed.body.tasks.length, 1);
    const [task] = listed.body.tasks;
    for (const field of ['task_id', 'prompt', 'status', 'created_at', 'updated_at']) assert.ok(field in task);
    for (const field of ['leased_until', 'worker_id', 'result', 'error'])
      assert.equal(task[field], null, field);
    assert.equal(task.prompt, 'first');
    assert.equal(task.status, 'queued');
    assert.equal(listed.body.stats.queued, 1);

    const retried = await call(base, 'POST', '/tasks/retry_failed');
    assert.equal(retried.status, 200);
    assert.deepEqual(retried.body, { retried: 0 });
  });

  it(
    'GET /tasks lists newest first, 50 by default, all for limit <= 0, and filters by status',
    TEST_TIMEOUT,
    async () => {
      const batch = await call(base, 'POST', '/tasks/batch', {
        body: { tasks: Array.from({ length: 60 }, (_, i) => ({ prompt: `bulk ${i}` })) },
      });
      assert.equal(batch.status, 200);
      const total = (await snapshot(base)).tasks.length;
      assert.ok(total > 50);

      const byDefault = (await call(base, 'GET', '/tasks')).body.tasks as Json[];
      assert.equal(byDefault.length, 50);
      const ids = byDefault.map((t) => t.task_id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => b - a),
      );
      for (const limit of ['0', '-1']) {
        assert.equal(
          (await call(base, 'GET', `/tasks?limit=${limit}`)).body.tasks.length,
          total,
          `limit=${limit}`,
        );
      }
      const three = (await call(base, 'GET', '/tasks?limit=3')).body.tasks as Json[];
      assert.deepEqual(
        three.map((t) => t.task_id),
        ids.slice(0, 3),
      );

      const [newest] = three;
      await call(base, 'POST', `/tasks/${newest!.task_id}/cancel`);
      const canceled = (await call(base, 'GET', '/tasks?status=canceled')).body.tasks as Json[];
      assert.deepEqual(
        canceled.map((t) => t.task_id),
        [newest!.task_id],
      );
      const queued = (await call(base, 'GET', '/tasks?status=queued&limit=0')).body.tasks as Json[];
      assert.equal(queued.length, total - 1);
      assert.ok(queued.every((t) => t.status === 'queued'));
    },
  );

  it('POST /tasks/retry_failed requeues failed tasks', TEST_TIMEOUT, async () => {
    const client = new HubClient({ port: hub.port });
    try {
      const id = (await call(base, 'POST', '/tasks', { body: { prompt: 'will fail', priority: 1_000_000 } }))
        .body.task_id;
      const { tasks } = await client.lease({ worker_id: 'w', max_tasks: 1 });
      assert.equal(tasks[0]?.task_id, id);
      await client.ack({ task_id: id, status: 'failed', error: 'boom', lease_token: tasks[0]!.lease_token });
      assert.equal((await call(base, 'GET', `/tasks/${id}`)).body.task.status, 'failed');

      const retried = await call(base, 'POST', '/tasks/retry_failed');
      assert.deepEqual(retried.body, { retried: 1 });
      const task = (await call(base, 'GET', `/tasks/${id}`)).body.task;
      assert.equal(task.status, 'queued');
      assert.equal(task.error, null);
    } finally {
      client.close();
    }
  });
});

describe('REST v1 routes', () => {
  let hub: HubProcess;
  let base: string;
  before(async () => {
    hub = await startHubProcess({ rest: true });
    base = hub.restUrl!;
  });
  after(async () => {
    await hub?.stop();
  });

  it('POST /tasks takes every enqueue field; GET /tasks/:id returns the task', TEST_TIMEOUT, async () => {
    const fields = {
      prompt: 'routed',
      backend: 'echo',
      tags: ['gpu', 'fast'],
      priority: 7,
      max_attempts: 3,
      timeout_s: 90,
      metadata: { ticket: 'ABC-1' },
    };
    const { task_id } = (await call(base, 'POST', '/tasks', { body: fields })).body;
    const got = await call(base, 'GET', `/tasks/${task_id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Object.keys(got.body), ['task']);
    const { task } = got.body;
    for (const [field, value] of Object.entries(fields)) assert.deepEqual(task[field], value, field);
    assert.equal(task.task_id, task_id);
    assert.equal(task.lease_token, null);
  });

  it('POST /tasks/:id/cancel cancels once, then answers conflict', TEST_TIMEOUT, async () => {
    const { task_id } = (await call(base, 'POST', '/tasks', { body: { prompt: 'cancel me' } })).body;
    const canceled = await call(base, 'POST', `/tasks/${task_id}/cancel`);
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body.ok, true);
    assert.equal(canceled.body.task.status, 'canceled');
    const again = await expectError(base, 'POST', `/tasks/${task_id}/cancel`, 409, 'conflict');
    assert.equal(again.details?.status, 'canceled');
  });

  it('POST /tasks/batch enqueues all in order', TEST_TIMEOUT, async () => {
    const batch = await call(base, 'POST', '/tasks/batch', {
      body: { tasks: [{ prompt: 'one' }, { prompt: 'two', priority: 2 }, { prompt: 'three' }] },
    });
    assert.equal(batch.status, 200);
    const ids = batch.body.task_ids as number[];
    assert.equal(ids.length, 3);
    const prompts = [];
    for (const id of ids) prompts.push((await call(base, 'GET', `/tasks/${id}`)).body.task.prompt);
    assert.deepEqual(prompts, ['one', 'two', 'three']);
  });

  it('POST /tasks/wait answers when the task finishes, or with timed_out', TEST_TIMEOUT, async () => {
    const client = new HubClient({ port: hub.port, workerId: 'waiter' });
    try {
      const { task_id } = (
        await call(base, 'POST', '/tasks', { body: { prompt: 'wait for me', priority: 999 } })
      ).body;
      const short = await call(base, 'POST', '/tasks/wait', {
        body: { task_ids: [task_id], timeout_ms: 50 },
      });
      assert.equal(short.status, 200);
      assert.equal(short.body.timed_out, true);
      assert.equal(short.body.tasks[0].status, 'queued');

      const waiting = call(base, 'POST', '/tasks/wait', {
        body: { task_ids: [task_id], timeout_ms: 30_000, mode: 'all' },
      });
      const { tasks } = await client.lease({ max_tasks: 1 });
      assert.equal(tasks[0]?.task_id, task_id);
      await client.ack({ task_id, status: 'done', result: 'ok', lease_token: tasks[0]!.lease_token });
      const answered = await waiting;
      assert.equal(answered.status, 200);
      assert.equal(answered.body.timed_out, false);
      assert.equal(answered.body.tasks[0].status, 'done');
      assert.equal(answered.body.tasks[0].result, 'ok');

      const missing = await expectError(base, 'POST', '/tasks/wait', 404, 'not_found', {
        body: { task_ids: [task_id, 987654] },
      });
      assert.deepEqual(missing.details?.missing, [987654]);
    } finally {
      client.close();
    }
  });

  it('GET /agents lists the agents connected over TCP', TEST_TIMEOUT, async () => {
    const agent = new HubClient({ port: hub.port, workerId: 'rest-agent-1', backend: 'echo' });
    try {
      await agent.connect();
      const agents = (await call(base, 'GET', '/agents')).body.agents as Json[];
      const seen = agents.find((a) => a.worker_id === 'rest-agent-1');
      assert.ok(seen, JSON.stringify(agents));
      assert.equal(seen.connected, true);
      assert.equal(seen.backend, 'echo');
    } finally {
      agent.close();
    }
  });

  it(
    'GET /stats/history counts tasks finished and enqueued per minute; GET /hub says version and addresses',
    TEST_TIMEOUT,
    async () => {
      const before = (await call(base, 'GET', '/stats/history')).body;
      const sum = (answer: Json, field: string) =>
        (answer.minutes as Json[]).reduce((total, minute) => total + (minute[field] as number), 0);
      const client = new HubClient({ port: hub.port });
      try {
        // Top priority, so the lease takes these two before anything older tests left queued.
        await client.enqueueMany([
          { prompt: 'one', backend: 'history', priority: 1_000_000 },
          { prompt: 'two', backend: 'history', priority: 1_000_000 },
        ]);
        const { tasks } = await client.lease({
          worker_id: 'history-worker',
          max_tasks: 2,
          backend: 'history',
        });
        assert.equal(tasks.length, 2);
        const [first, second] = tasks as [Task, Task];
        await client.ack({
          task_id: first.task_id,
          status: 'done',
          result: 'ok',
          lease_token: first.lease_token,
        });
        await client.ack({
          task_id: second.task_id,
          status: 'failed',
          error: 'no',
          lease_token: second.lease_token,
        });
      } finally {
        client.close();
      }
      const after = (await call(base, 'GET', '/stats/history?minutes=5')).body;
      assert.equal(after.bucket_s, 60);
      assert.equal(after.scope, 'hub');
      assert.ok(after.since <= after.now);
      assert.equal(sum(after, 'enqueued') - sum(before, 'enqueued'), 2);
      assert.equal(sum(after, 'done') - sum(before, 'done'), 1);
      assert.equal(sum(after, 'failed') - sum(before, 'failed'), 1);
      for (const minute of after.minutes as Json[]) assert.equal(minute.start % 60, 0);
      const bad = await expectError(base, 'GET', '/stats/history?minutes=day', 400, 'bad_request');
      assert.match(bad.error, /minutes must be an integer, got "day"/);
      await expectError(base, 'GET', '/stats/history?minutes=0', 400, 'bad_request');

      const info = (await call(base, 'GET', '/hub')).body;
      assert.equal(info.server, 'mittelo');
      assert.match(info.version, /^\d+\.\d+\.\d+/);
      assert.equal(info.tcp, `tcp://${hub.host}:${hub.port}`);
      assert.equal(info.rest, base);
    },
  );

  it('shares state with the TCP port', TEST_TIMEOUT, async () => {
    const client = new HubClient({ port: hub.port });
    try {
      const viaRest = (await call(base, 'POST', '/tasks', { body: { prompt: 'from REST' } })).body.task_id;
      assert.equal((await client.get(viaRest)).prompt, 'from REST');
      const viaTcp = await client.enqueue('from TCP');
      assert.equal((await call(base, 'GET', `/tasks/${viaTcp}`)).body.task.prompt, 'from TCP');
      assert.deepEqual((await call(base, 'GET', '/stats')).body.stats, await client.stats());
    } finally {
      client.close();
    }
  });

  it('GET /openapi.json describes every route with schemas from the protocol', TEST_TIMEOUT, async () => {
    const { status, body: doc } = await call(base, 'GET', '/openapi.json');
    assert.equal(status, 200);
    assert.equal(doc.openapi, '3.1.0');
    const expected: Record<string, string[]> = {
      '/health': ['get'],
      '/stats': ['get'],
      '/tasks': ['get', 'post'],
      '/tasks/retry_failed': ['post'],
      '/tasks/batch': ['post'],
      '/tasks/wait': ['post'],
      '/tasks/{task_id}': ['get'],
      '/tasks/{task_id}/cancel': ['post'],
      '/tasks/{task_id}/output': ['get'],
      '/agents': ['get'],
      '/pause': ['post'],
      '/resume': ['post'],
      '/pauses': ['get'],
      '/limits': ['get', 'post'],
      '/limits/clear': ['post'],
      '/budgets': ['get', 'post'],
      '/budgets/clear': ['post'],
      '/spend': ['get'],
      '/tasks/prune': ['post'],
      '/stats/history': ['get'],
      '/hub': ['get'],
      '/events': ['get'],
      '/shutdown': ['post'],
      '/openapi.json': ['get'],
    };
    assert.deepEqual(Object.keys(doc.paths).sort(), Object.keys(expected).sort());
    for (const [path, methods] of Object.entries(expected)) {
      assert.deepEqual(Object.keys(doc.paths[path]).sort(), methods, path);
      for (const method of methods) assert.ok(doc.paths[path][method].responses['200'], `${method} ${path}`);
    }
    // Request bodies come from the zod schemas: every enqueue field, with its constraints.
    const ref = doc.paths['/tasks'].post.requestBody.content['application/json'].schema.$ref as string;
    const newTask = doc.components.schemas[ref.split('/').pop()!];
    assert.deepEqual(Object.keys(newTask.properties).sort(), Object.keys(newTaskSchema.shape).sort());
    assert.deepEqual(newTask.required, ['prompt']);
    const listParams = (doc.paths['/tasks'].get.parameters as Json[]).map((p) => p.name);
    for (const name of ['status', 'limit']) assert.ok(listParams.includes(name), name);
    // A pause is one shared component, the answer of all three queue-control routes.
    assert.deepEqual(Object.keys(doc.components.schemas.Pause.properties).sort(), [
      'backend',
      'paused_at',
      'reason',
      'until',
    ]);
    // Every $ref points at something that exists.
    for (const target of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)) {
      assert.ok(doc.components[target[1]!]?.[target[2]!], `dangling ${target[0]}`);
    }
  });
});

describe('REST errors', () => {
  let hub: HubProcess;
  let base: string;
  before(async () => {
    hub = await startHubProcess({ rest: true, args: ['--max-prompt-bytes', '1000'] });
    base = hub.restUrl!;
    await call(base, 'POST', '/tasks', { body: { prompt: 'already here' } });
  });
  after(async () => {
    await hub?.stop();
  });

  it('map each code to its HTTP status', TEST_TIMEOUT, async () => {
    assert.deepEqual(await expectError(base, 'GET', '/no/such/route', 404, 'not_found'), {
      error: 'not found',
      code: 'not_found',
    });
    await expectError(base, 'DELETE', '/tasks', 404, 'not_found');
    await expectError(base, 'GET', '/tasks/424242', 404, 'not_found');
    await expectError(base, 'GET', '/tasks/abc', 400, 'bad_request');
    await expectError(base, 'POST', '/tasks', 413, 'too_large', { body: { prompt: 'x'.repeat(1001) } });
    const tooBig = await expectError(base, 'POST', '/tasks', 413, 'too_large', {
      body: { prompt: 'y'.repeat(2 * 1024 * 1024) },
    });
    assert.match(tooBig.error, /request body over \d+ bytes/);
  });

  it('explain bad input clearly', TEST_TIMEOUT, async () => {
    const notJson = await expectError(base, 'POST', '/tasks', 400, 'bad_request', { body: '{"prompt": ' });
    assert.match(notJson.error, /not valid JSON/);
    assert.match(notJson.error, /"prompt"/, 'the message shows a body that works');
    const notObject = await expectError(base, 'POST', '/tasks', 400, 'bad_request', { body: '["a"]' });
    assert.match(notObject.error, /must be a JSON object/);
    const noPrompt = await expectError(base, 'POST', '/tasks', 400, 'bad_request', { body: {} });
    assert.match(noPrompt.error, /prompt/);
    const badLimit = await expectError(base, 'GET', '/tasks?limit=ten', 400, 'bad_request');
    assert.match(badLimit.error, /limit must be an integer, got "ten"/);
    await expectError(base, 'GET', '/tasks?limit=1.5', 400, 'bad_request');
    const badStatus = await expectError(base, 'GET', '/tasks?status=sleeping', 400, 'bad_request');
    assert.match(badStatus.error, /status/);
    const badEvents = await expectError(base, 'GET', '/events?events=task,weather', 400, 'bad_request');
    assert.match(badEvents.error, /events/);
  });

  it('never change stored state', TEST_TIMEOUT, async () => {
    const before = await snapshot(base);
    const bad: Array<[string, string, unknown]> = [
      ['POST', '/tasks', 'not json'],
      ['POST', '/tasks', '[{"prompt": "in an array"}]'],
      ['POST', '/tasks', { prompt: '   ' }],
      ['POST', '/tasks', { prompt: 42 }],
      ['POST', '/tasks', { prompt: 'bad priority', priority: 'high' }],
      ['POST', '/tasks', { prompt: 'bad tags', tags: ['has space'] }],
      ['POST', '/tasks', { prompt: 'z'.repeat(1001) }],
      ['POST', '/tasks', { prompt: 'w'.repeat(2 * 1024 * 1024) }],
      ['POST', '/tasks/batch', { tasks: [{ prompt: 'good' }, { prompt: '' }] }],
      ['POST', '/tasks/batch', { tasks: [] }],
      ['POST', '/tasks/batch', '{"tasks": [{"prompt": "good"}'],
      ['POST', '/tasks/retry_failed', { task_ids: ['x'] }],
      ['POST', '/tasks/abc/cancel', undefined],
      ['POST', '/tasks/424242/cancel', undefined],
      ['POST', '/tasks/wait', { task_ids: [] }],
    ];
    for (const [method, path, body] of bad) {
      const answer = await call(base, method, path, { body });
      assert.ok(answer.status >= 400 && answer.status < 500, `${method} ${path} ${answer.status}`);
      assert.equal(typeof answer.body.code, 'string');
    }
    assert.deepEqual(await snapshot(base), before);
  });
});

describe('REST auth', () => {
  const TOKEN = 't0k';
  let hub: HubProcess;
  let base: string;
  before(async () => {
    hub = await startHubProcess({ rest: true, args: ['--token', TOKEN] });
    base = hub.restUrl!;
  });
  after(async () => {
    await hub?.stop();
  });

  const protectedRoutes: Array<[string, string, unknown?]> = [
    ['GET', '/stats'],
    ['GET', '/tasks'],
    ['POST', '/tasks', { prompt: 'sneaky' }],
    ['POST', '/tasks/retry_failed'],
    ['POST', '/tasks/batch', { tasks: [{ prompt: 'sneaky' }] }],
    ['POST', '/tasks/wait', { task_ids: [1], timeout_ms: 0 }],
    ['GET', '/tasks/1'],
    ['POST', '/tasks/1/cancel'],
    ['GET', '/agents'],
    ['POST', '/pause', { backend: 'sneaky' }],
    ['POST', '/resume'],
    ['GET', '/pauses'],
    ['GET', '/stats/history'],
    ['GET', '/hub'],
    ['GET', '/events'],
    ['GET', '/openapi.json'],
    ['POST', '/shutdown'],
  ];

  it('GET /health needs no token', TEST_TIMEOUT, async () => {
    const health = await call(base, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { ok: true });
  });

  it(
    'every other route answers 401 without the token, or with a wrong one, and changes nothing',
    TEST_TIMEOUT,
    async () => {
      const seeded = await call(base, 'POST', '/tasks', { body: { prompt: 'seed' }, token: TOKEN });
      assert.equal(seeded.status, 200);
      const before = await snapshot(base, TOKEN);
      for (const [method, path, body] of protectedRoutes) {
        const missing = await expectError(base, method, path, 401, 'unauthorized', { body });
        assert.match(missing.error, /Authorization: Bearer <token>/, `${method} ${path}`);
        const wrong = await call(base, method, path, { body, token: 'not-the-t0k-token' });
        assert.equal(wrong.status, 401, `${method} ${path}`);
        assert.equal(wrong.body.code, 'unauthorized');
        assert.match(wrong.body.error, /wrong token/);
        assert.ok(!wrong.body.error.includes('not-the-t0k-token'), 'the token sent is not echoed');
        assert.ok(!wrong.body.error.includes(TOKEN), "the hub's token is not revealed");
        assert.equal(wrong.headers.get('www-authenticate'), 'Bearer');
      }
      const malformed = await expectError(base, 'GET', '/stats', 401, 'unauthorized', {
        headers: { authorization: `Basic ${TOKEN}` },
      });
      assert.match(malformed.error, /Bearer/);
      // Tokens in URLs are never accepted.
      await expectError(base, 'GET', `/stats?token=${TOKEN}`, 401, 'unauthorized');
      await expectError(base, 'GET', `/events?token=${TOKEN}`, 401, 'unauthorized');
      // Unknown routes too: nothing about the route table leaks without the token.
      await expectError(base, 'GET', '/no/such/route', 401, 'unauthorized');

      assert.deepEqual(await snapshot(base, TOKEN), before);
      assert.deepEqual((await call(base, 'GET', '/pauses', { token: TOKEN })).body, { pauses: [] });
      assert.equal(hub.child.exitCode, null, 'an unauthorized POST /shutdown did not stop the hub');
    },
  );

  it('the right token opens every route', TEST_TIMEOUT, async () => {
    for (const [method, path, body] of protectedRoutes) {
      if (path === '/shutdown' || path === '/events') continue;
      const answer = await call(base, method, path, { body, token: TOKEN });
      assert.ok(
        answer.status < 400 || answer.status === 409,
        `${method} ${path}: ${JSON.stringify(answer.body)}`,
      );
    }
    const controller = new AbortController();
    try {
      const events = await fetch(`${base}/events`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: controller.signal,
      });
      assert.equal(events.status, 200);
      assert.match(events.headers.get('content-type') ?? '', /^text\/event-stream/);
    } finally {
      controller.abort();
    }
    const doc = (await call(base, 'GET', '/openapi.json', { token: TOKEN })).body;
    assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
    assert.deepEqual(doc.paths['/health'].get.security, []);
  });

  it('TCP and REST share the token and the state', TEST_TIMEOUT, async () => {
    const client = new HubClient({ port: hub.port, token: TOKEN });
    try {
      const id = (
        await call(base, 'POST', '/tasks', { body: { prompt: 'over REST with a token' }, token: TOKEN })
      ).body.task_id;
      assert.equal((await client.get(id)).prompt, 'over REST with a token');
    } finally {
      client.close();
    }
  });
});

describe('REST event stream', () => {
  it('delivers task events, and ends on POST /shutdown, which stops the hub', TEST_TIMEOUT, async () => {
    const hub = await startHubProcess({ rest: true });
    const base = hub.restUrl!;
    const controller = new AbortController();
    try {
      const response = await fetch(`${base}/events?events=task`, { signal: controller.signal });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      const stream = new SseReader(response);

      const { task_id } = (await call(base, 'POST', '/tasks', { body: { prompt: 'watched' } })).body;
      const enqueued = await stream.find(
        (m) => m.event === 'task.enqueued' && m.data.task?.task_id === task_id,
        'task.enqueued on the SSE stream',
      );
      assert.equal(enqueued.data.event, 'task.enqueued');
      assert.equal(enqueued.data.task.prompt, 'watched');
      assert.equal(typeof enqueued.data.time, 'number');
      await call(base, 'POST', `/tasks/${task_id}/cancel`);
      await stream.find((m) => m.event === 'task.canceled', 'task.canceled on the SSE stream');

      const shutdown = await call(base, 'POST', '/shutdown');
      assert.deepEqual(shutdown.body, { ok: true });
      assert.equal(shutdown.status, 200);
      await stream.find((m) => m.event === 'hub.stopping', 'hub.stopping on the SSE stream');
      await waitFor(() => stream.done, 'the SSE stream to end');
      assert.ok(!stream.messages.some((m) => m.event.startsWith('agent.')), 'only the task category');
      assert.equal(await hub.exited, 0, hub.stderr());
    } finally {
      controller.abort();
      await hub.stop();
    }
  });
});

describe('REST server lifecycle (in process)', () => {
  let dir: string;
  let running: RunningHub;
  let base: string;
  /** Extra REST servers a test started; closed here too, in case the test failed half-way. */
  const extraServers: Array<{ close(): Promise<void> }> = [];
  before(async () => {
    dir = makeTempDir();
    running = await startHub({
      host: '127.0.0.1',
      port: 0,
      db: join(dir, 'hub.db'),
      leaseSeconds: 60,
      insecure: false,
      restPort: 0,
      maxLineBytes: 1024 * 1024,
      maxPromptBytes: 512 * 1024,
      fsync: false,
    });
    base = `http://127.0.0.1:${running.rest!.port}`;
  });
  after(async () => {
    await Promise.all(extraServers.map((server) => server.close()));
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an SSE client that goes away is unsubscribed', TEST_TIMEOUT, async () => {
    assert.equal(running.hub.events.wants('agent'), false);
    const controller = new AbortController();
    const response = await fetch(`${base}/events?events=agent`, { signal: controller.signal });
    assert.equal(response.status, 200);
    const stream = new SseReader(response);
    await waitFor(() => running.hub.events.wants('agent'), 'the stream to subscribe');
    controller.abort();
    await waitFor(() => stream.done, 'the client side to end');
    await waitFor(() => !running.hub.events.wants('agent'), 'the hub to drop the subscription');
  });

  it('close() ends open SSE streams and hung requests', TEST_TIMEOUT, async () => {
    const extra = await startRestServer(running.hub, { host: '127.0.0.1', port: 0 });
    extraServers.push(extra);
    const extraBase = `http://127.0.0.1:${extra.address.port}`;
    const controller = new AbortController();
    const socket = net.connect(extra.address.port, '127.0.0.1');
    socket.on('error', () => {});
    const connected = new Promise((resolve) => socket.once('connect', resolve));
    const socketClosed = new Promise((resolve) => socket.once('close', resolve));
    try {
      const stream = new SseReader(await fetch(`${extraBase}/events`, { signal: controller.signal }));
      await waitFor(() => stream.comments.length > 0, 'the stream to open');
      // A request whose body never finishes.
      await connected;
      socket.write(
        'POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt"',
      );
      await extra.close();
      await waitFor(() => stream.done, 'the SSE stream to end');
      await socketClosed;
      await assert.rejects(fetch(`${extraBase}/health`), 'no longer listening');
      assert.equal((await call(base, 'GET', '/health')).status, 200, 'the hub itself still serves');
    } finally {
      controller.abort();
      socket.destroy();
    }
  });

  it('a stopping hub answers 503 unavailable', TEST_TIMEOUT, async () => {
    running.hub.beginShutdown();
    await expectError(base, 'POST', '/tasks', 503, 'unavailable', { body: { prompt: 'too late' } });
    assert.equal((await call(base, 'GET', '/stats')).status, 200, 'stats still answer while stopping');
  });
});

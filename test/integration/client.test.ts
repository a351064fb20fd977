/**
 * HubClient against a real hub process: many calls in flight on one connection, reconnecting
 * after the hub restarts, the unreachable-hub error, events, and hello with a token.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ClientEvent, HubClient, HubError, HubUnreachableError } from '../../src/client/hub-client.ts';
import { type HubProcess, makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { unusedPort } from '../helpers/ports.ts';

// These tests share one hub: every task they enqueue is routed (backend or tags) to the test
// that made it, so no test leases another's work.
describe('HubClient on a plain hub', () => {
  let hub: HubProcess;
  const clients: HubClient[] = [];
  const open = (options: ConstructorParameters<typeof HubClient>[0] = {}) => {
    const client = new HubClient({ port: hub.port, reconnect: false, ...options });
    clients.push(client);
    return client;
  };

  before(async () => {
    hub = await startHubProcess();
  });
  after(async () => {
    for (const client of clients) client.close();
    await hub.stop();
  });

  it('says hello on connect and reports the hub features', async () => {
    const client = open();
    await client.connect();
    assert.ok(client.connected);
    assert.equal(client.hello?.protocol, '1');
    assert.equal(client.hello?.auth_required, false);
    assert.ok(client.hello?.features.includes('long_poll'));
  });

  it('matches answers to calls by request id with many calls in flight', async () => {
    const client = open();
    const prompts = Array.from({ length: 300 }, (_, i) => `in flight ${i}`);
    const ids = await Promise.all(prompts.map((prompt) => client.enqueue({ prompt, tags: ['bulk'] })));
    assert.equal(new Set(ids).size, prompts.length);
    const tasks = await Promise.all(ids.map((id) => client.get(id)));
    for (const [i, task] of tasks.entries()) {
      assert.equal(task.task_id, ids[i]);
      assert.equal(task.prompt, prompts[i]);
    }
  });

  it('answers that come back out of order reach the right call (a long-poll lease among quick calls)', async () => {
    const client = open();
    const producer = open();
    const parked = client.lease({ worker_id: 'patient', wait_ms: 60_000, backend: 'slow_lane' });
    // Quick calls on the same connection finish while the lease is still waiting.
    const counts = await Promise.all([client.stats(), client.stats(), client.agents()]);
    assert.equal(typeof counts[0].queued, 'number');
    const id = await producer.enqueue({ prompt: 'for the patient one', backend: 'slow_lane' });
    const { tasks } = await parked;
    assert.deepEqual(
      tasks.map((t) => t.task_id),
      [id],
    );
    assert.equal(typeof tasks[0]!.lease_token, 'string');
  });

  it('a call the hub refuses rejects with HubError carrying the code, and the client stays usable', async () => {
    const client = open();
    await assert.rejects(client.get(987_654), (error: unknown) => {
      assert.ok(error instanceof HubError);
      assert.equal(error.code, 'not_found');
      assert.match(error.message, /987654/);
      return true;
    });
    await assert.rejects(client.call('no_such_method'), (error: unknown) => {
      assert.ok(error instanceof HubError);
      assert.equal(error.code, 'unknown_method');
      return true;
    });
    assert.equal(typeof (await client.stats()).done, 'number');
  });

  it('subscribe delivers task events as "event" emissions', async () => {
    const watcher = open();
    const producer = open();
    const events: ClientEvent[] = [];
    watcher.on('event', (event) => events.push(event));
    await watcher.subscribe(['task']);
    const id = await producer.enqueue({ prompt: 'watch me', backend: 'events_only' });
    const [task] = (await producer.lease({ worker_id: 'ev', backend: 'events_only' })).tasks;
    await producer.ack({ task_id: id, status: 'done', result: 'seen', lease_token: task!.lease_token });
    const names = () =>
      events.filter((e) => 'task' in e && e.task.task_id === id).map((e) => e.event as string);
    await waitFor(() => names().includes('task.done'), 'the task.done event');
    assert.deepEqual(names(), ['task.enqueued', 'task.leased', 'task.done']);
  });

  it('agent events follow a client that says hello with a worker id', async () => {
    const watcher = open();
    const events: ClientEvent[] = [];
    watcher.on('event', (event) => events.push(event));
    await watcher.subscribe(['agent']);
    const agent = open({ workerId: 'client-agent', backend: 'codex' });
    await agent.connect();
    await waitFor(
      () => events.some((e) => e.event === 'agent.connected' && e.agent.worker_id === 'client-agent'),
      'agent.connected',
    );
    const listed = (await watcher.agents()).find((a) => a.worker_id === 'client-agent');
    assert.equal(listed?.connected, true);
    assert.equal(listed?.backend, 'codex');
    agent.close();
    await waitFor(
      () => events.some((e) => e.event === 'agent.disconnected' && e.agent.worker_id === 'client-agent'),
      'agent.disconnected',
    );
  });
});

describe('HubClient when there is no hub', () => {
  it('without reconnect: HubUnreachableError "no hub at host:port — start one with `mittelo hub`"', async () => {
    const port = await unusedPort();
    const client = new HubClient({ port, reconnect: false });
    try {
      await assert.rejects(client.stats(), (error: unknown) => {
        assert.ok(error instanceof HubUnreachableError);
        assert.equal(error.message, `no hub at 127.0.0.1:${port} — start one with \`mittelo hub\``);
        assert.equal(error.port, port);
        return true;
      });
    } finally {
      client.close();
    }
  });

  it('with reconnect and a connect timeout: gives up with HubUnreachableError', async () => {
    const port = await unusedPort();
    const client = new HubClient({ port, reconnect: true, connectTimeoutMs: 400, maxBackoffMs: 100 });
    try {
      await assert.rejects(client.connect(), HubUnreachableError);
    } finally {
      client.close();
    }
  });
});

describe('HubClient across a hub restart', () => {
  it('calls in flight when the hub dies reject with HubUnreachableError', async () => {
    const hub = await startHubProcess();
    const client = new HubClient({ port: hub.port, reconnect: false });
    try {
      await client.connect();
      const parked = assert.rejects(client.lease({ worker_id: 'w', wait_ms: 60_000 }), HubUnreachableError);
      // The lease must reach the hub before it dies; a quick call after it proves that.
      await client.stats();
      await hub.kill();
      await parked;
    } finally {
      client.close();
      await hub.stop();
    }
  });

  it('reconnects with backoff when the hub comes back on the same port and database', async () => {
    const dir = makeTempDir();
    const db = join(dir, 'hub.db');
    const hubs: HubProcess[] = [];
    const clients: HubClient[] = [];
    try {
      const first = await startHubProcess({ dir, db });
      hubs.push(first);
      const agent = new HubClient({ port: first.port, reconnect: true, maxBackoffMs: 200 });
      const watcher = new HubClient({ port: first.port, reconnect: true, maxBackoffMs: 200 });
      clients.push(agent, watcher);
      const events: ClientEvent[] = [];
      watcher.on('event', (event) => events.push(event));
      await watcher.subscribe(['task']);
      let connects = 0;
      agent.on('connected', () => {
        connects += 1;
      });

      const before = await agent.enqueue('made before the restart');
      assert.equal(connects, 1);
      const disconnected = new Promise((resolve) => agent.once('disconnected', resolve));
      assert.equal(await first.stop(), 0);
      await disconnected;

      // A call made while the hub is down keeps retrying (with backoff) until it comes back.
      const pending = agent.get(before);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = await startHubProcess({ dir, db, args: ['--port', String(first.port)] });
      hubs.push(second);
      assert.equal(second.port, first.port);
      const task = await pending;
      assert.equal(task.prompt, 'made before the restart', 'the same database');
      assert.equal(connects, 2);

      // The watcher's subscription is renewed on its new connection (made by its next call).
      await watcher.stats();
      const afterId = await agent.enqueue('made after the restart');
      assert.ok(afterId > before);
      await waitFor(
        () => events.some((e) => e.event === 'task.enqueued' && e.task.task_id === afterId),
        'the event for a task enqueued after the restart',
      );
    } finally {
      for (const client of clients) client.close();
      for (const hub of hubs) await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HubClient against a hub with a token', () => {
  let hub: HubProcess;
  before(async () => {
    hub = await startHubProcess({ args: ['--token', 'open-sesame'] });
  });
  after(async () => {
    await hub.stop();
  });

  it('with the right token: hello succeeds and calls work', async () => {
    const client = new HubClient({ port: hub.port, token: 'open-sesame', reconnect: false });
    try {
      await client.connect();
      assert.equal(client.hello?.auth_required, true);
      const id = await client.enqueue('authorized');
      assert.equal((await client.get(id)).prompt, 'authorized');
    } finally {
      client.close();
    }
  });

  it('with a wrong token: connect rejects with HubError unauthorized (no retry loop)', async () => {
    const client = new HubClient({ port: hub.port, token: 'guess', reconnect: true, maxBackoffMs: 100 });
    try {
      await assert.rejects(client.connect(), (error: unknown) => {
        assert.ok(error instanceof HubError);
        assert.equal(error.code, 'unauthorized');
        return true;
      });
    } finally {
      client.close();
    }
  });

  it('without a token: the first call rejects with HubError unauthorized that explains', async () => {
    const client = new HubClient({ port: hub.port, reconnect: false });
    try {
      await assert.rejects(client.stats(), (error: unknown) => {
        assert.ok(error instanceof HubError);
        assert.equal(error.code, 'unauthorized');
        assert.match(error.message, /token/);
        return true;
      });
    } finally {
      client.close();
    }
  });
});

/**
 * Notifications (src/notify/): a real HTTP server on port 0 receives the webhook's POSTs, a real
 * shell runs --notify-cmd. Retries, one log line per outage, a bounded queue that drops with a
 * count, and which hub events become notifications (from a real EventBus).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EventBus } from '../../src/hub/events.ts';
import { commandSender } from '../../src/notify/command.ts';
import { backendPaused, runCost, taskFailed } from '../../src/notify/events.ts';
import { HubEventNotices, watchHub } from '../../src/notify/hub-watch.ts';
import { Notifier, type NotifierOptions, type Sender } from '../../src/notify/notifier.ts';
import { webhookSender } from '../../src/notify/webhook.ts';
import type { AgentInfo, Task } from '../../src/protocol/model.ts';
import { FIXTURE_NOW, makeAgent, makeTask } from '../helpers/fixtures.ts';
import { makeTempDir, waitFor } from '../helpers/hub-process.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Received {
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/** A webhook receiver on a free port; `answer` picks each response's status (default 200). */
async function receiver(answer: (count: number) => number = () => 200) {
  const received: Received[] = [];
  let count = 0;
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let text = '';
    request.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    request.on('end', () => {
      count += 1;
      const status = answer(count);
      if (status < 300) received.push({ headers: request.headers, body: JSON.parse(text) });
      response.writeHead(status).end(status < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${port}/hook`, received, requests: () => count };
}

/** A port nothing listens on (listened on once, then closed). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A notifier sending to `sender`, with the lines it logs kept in `lines`. */
function loggedNotifier(sender: Sender, options: Omit<NotifierOptions, 'sender' | 'log'> = {}) {
  const lines: string[] = [];
  return { notifier: new Notifier({ sender, log: (line) => lines.push(line), ...options }), lines };
}

/** A task that failed for want of a codex login. */
function failedTask(id: number, fields: Partial<Task> = {}): Task {
  return makeTask(id, {
    status: 'failed',
    created_at: FIXTURE_NOW,
    updated_at: FIXTURE_NOW + 10,
    result: null,
    error: 'codex: not logged in',
    backend: 'codex',
    tags: ['ts'],
    error_kind: 'auth',
    error_fix: 'codex login',
    duration_ms: 12,
    metadata: { ticket: 7 },
    ...fields,
  });
}

/** A connected codex agent that has done nothing yet. */
function agent(workerId: string, fields: Partial<AgentInfo> = {}): AgentInfo {
  return makeAgent(workerId, {
    backend: 'codex',
    tasks_done: 0,
    first_seen: FIXTURE_NOW,
    last_contact: FIXTURE_NOW,
    ...fields,
  });
}

const origin = { source: 'hub' as const, hub: 'tcp://127.0.0.1:8765' };

describe('webhook notifications', () => {
  it('POSTs each event as JSON, in order, with the documented shape', async () => {
    const hook = await receiver();
    const { notifier, lines } = loggedNotifier(webhookSender(hook.url));
    notifier.push(taskFailed(failedTask(3, { prompt: 'x'.repeat(5000) }), origin));
    notifier.push(backendPaused('codex', origin));
    await notifier.close(10_000);
    assert.equal(hook.received.length, 2);
    const [failed, paused] = hook.received;
    assert.equal(failed!.headers['content-type'], 'application/json');
    assert.equal(failed!.headers['x-mittelo-event'], 'task.failed');
    const body = failed!.body as { event: string; time: number; task: Record<string, unknown> };
    assert.deepEqual(Object.keys(body), ['event', 'time', 'source', 'host', 'hub', 'task']);
    assert.equal(body.event, 'task.failed');
    assert.equal(typeof body.time, 'number');
    assert.equal(body.task.task_id, 3);
    assert.equal(body.task.error_kind, 'auth');
    assert.equal(body.task.error_fix, 'codex login');
    assert.deepEqual(body.task.metadata, { ticket: 7 });
    assert.equal((body.task.prompt as string).length, 500, 'the prompt is cut');
    assert.equal('lease_token' in body.task, false);
    assert.deepEqual(
      { event: paused!.body.event, backend: paused!.body.backend, hub: paused!.body.hub },
      { event: 'backend.paused', backend: 'codex', hub: 'tcp://127.0.0.1:8765' },
    );
    assert.deepEqual(lines, [], 'nothing to say when every event is delivered');
  });

  it('retries a server that answers 500, then 200, and says nothing', async () => {
    const hook = await receiver((count) => (count === 1 ? 500 : 200));
    const { notifier, lines } = loggedNotifier(webhookSender(hook.url), { backoffMs: 10 });
    notifier.push(backendPaused(null, origin));
    await notifier.close(10_000);
    assert.equal(hook.requests(), 2);
    assert.equal(hook.received.length, 1);
    assert.equal(notifier.delivered, 1);
    assert.deepEqual(lines, []);
  });

  it('does not retry a 404 (the URL is wrong), and says so once', async () => {
    const hook = await receiver(() => 404);
    const { notifier, lines } = loggedNotifier(webhookSender(hook.url), { backoffMs: 10 });
    notifier.push(backendPaused(null, origin));
    notifier.push(backendPaused(null, origin));
    await notifier.close(10_000);
    assert.equal(hook.requests(), 2, 'one attempt per event');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^webhook http:\/\/127\.0\.0\.1:\d+\/hook failed: HTTP 404/);
  });

  it('a dead URL is logged once per outage, push never waits, and its recovery is logged once', async () => {
    let failing = true;
    const hook = await receiver(() => (failing ? 503 : 200));
    const { notifier, lines } = loggedNotifier(webhookSender(hook.url), { attempts: 2, backoffMs: 5 });
    for (let i = 0; i < 5; i += 1) notifier.push(backendPaused(`b${i}`, origin));
    await waitFor(() => hook.requests() === 10, 'two attempts at each of five events');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(
      lines[0]!,
      /failed: HTTP 503 .*\(2 attempts\); events are not delivered until it works again/,
    );
    failing = false;
    notifier.push(backendPaused('after', origin));
    await notifier.close(10_000);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[1]!, /works again; 5 event\(s\) were not delivered while it failed/);
    assert.deepEqual(
      hook.received.map((r) => r.body.backend),
      ['after'],
    );

    // Nothing listens at all: the connection is refused, named in the one line.
    const { notifier: dead, lines: refused } = loggedNotifier(
      webhookSender(`http://127.0.0.1:${await deadPort()}/`),
      { attempts: 2, backoffMs: 5 },
    );
    const started = Date.now();
    for (let i = 0; i < 20; i += 1) dead.push(backendPaused(null, origin));
    assert.ok(Date.now() - started < 1000, 'push only queues');
    await dead.close(20_000);
    assert.equal(refused.length, 1, refused.join('\n'));
    assert.match(refused[0]!, /failed: ECONNREFUSED/);
  });

  it('keeps at most maxQueued events and counts what it drops', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lines: string[] = [];
    const sent: string[] = [];
    const notifier = new Notifier({
      sender: {
        name: 'slow target',
        async send(notification) {
          await gate;
          sent.push(String((notification as { backend: string }).backend));
        },
      },
      log: (line) => lines.push(line),
      maxQueued: 2,
    });
    for (let i = 0; i < 5; i += 1) notifier.push(backendPaused(`b${i}`, origin));
    assert.equal(notifier.dropped, 3);
    assert.equal(lines.length, 1, 'one line when it starts dropping');
    release();
    await notifier.close(10_000);
    assert.deepEqual(sent, ['b0', 'b1']);
    assert.match(lines[1]!, /^slow target: 3 event\(s\) were dropped while the queue was full$/);
  });

  it('close gives up after its time, saying how many were left', async () => {
    const lines: string[] = [];
    const notifier = new Notifier({
      sender: {
        name: 'stuck target',
        send: (_n, signal) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')))),
      },
      log: (line) => lines.push(line),
    });
    notifier.push(backendPaused(null, origin));
    notifier.push(backendPaused(null, origin));
    await notifier.close(50);
    assert.deepEqual(lines, ['stuck target: gave up on 2 event(s) not delivered within 0.05 s']);
  });
});

describe('--notify-cmd', () => {
  it('runs the command with the event JSON on stdin and its name in MITTELO_EVENT', async () => {
    const dir = makeTempDir('mittelo-notify-');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'events.jsonl');
    const names = join(dir, 'names.txt');
    const { notifier, lines } = loggedNotifier(
      commandSender(`cat >> '${out}'; echo "$MITTELO_EVENT" >> '${names}'`),
    );
    notifier.push(taskFailed(failedTask(9), origin));
    notifier.push(backendPaused('codex', origin));
    await notifier.close(20_000);
    const events = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; task?: { task_id: number } });
    assert.deepEqual(
      events.map((e) => e.event),
      ['task.failed', 'backend.paused'],
    );
    assert.equal(events[0]!.task!.task_id, 9);
    assert.equal(readFileSync(names, 'utf8'), 'task.failed\nbackend.paused\n');
    assert.deepEqual(lines, []);
  });

  it('a failing command is said once, with its exit code and last stderr line, and not run twice per event', async () => {
    const dir = makeTempDir('mittelo-notify-');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const runs = join(dir, 'runs');
    const { notifier, lines } = loggedNotifier(
      commandSender(`echo run >> '${runs}'; echo 'no chat token' >&2; exit 3`),
    );
    notifier.push(backendPaused(null, origin));
    notifier.push(backendPaused(null, origin));
    await notifier.close(20_000);
    assert.equal(readFileSync(runs, 'utf8'), 'run\nrun\n');
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^--notify-cmd ".*" failed: exited with 3: no chat token; events are not delivered/,
    );
  });
});

describe('which hub events notify', () => {
  it('a task that failed for good, a pause, and the first unhealthy agent of each backend per outage', () => {
    const bus = new EventBus();
    const got: Array<Record<string, unknown>> = [];
    const stop = watchHub({ subscribe: (c, l) => bus.subscribe(c, l), events: bus }, origin, (n) =>
      got.push(n as unknown as Record<string, unknown>),
    );
    bus.taskEvents('task.done', [failedTask(1, { status: 'done' })]);
    bus.taskEvents('task.requeued', [failedTask(2, { status: 'queued' })]);
    bus.taskEvents('task.failed', [failedTask(3)]);
    bus.pauseChanged({ backend: 'codex', paused: true });
    bus.pauseChanged({ backend: 'codex', paused: false });
    const sick = { healthy: false, reason: 'codex: not logged in', fix: 'codex login' };
    bus.agentEvent('agent.connected', agent('a', sick));
    bus.agentEvent('agent.updated', agent('a', sick));
    bus.agentEvent('agent.connected', agent('b', sick)); // same outage of codex
    bus.agentEvent('agent.connected', agent('c', { backend: 'echo', ...sick }));
    bus.agentEvent('agent.updated', agent('a'));
    bus.agentEvent('agent.disconnected', agent('b', { connected: false, ...sick }));
    bus.agentEvent('agent.updated', agent('a', sick)); // codex had recovered: a new outage
    stop();
    bus.taskEvents('task.failed', [failedTask(4)]);
    assert.deepEqual(
      got.map((n) => [n.event, (n.task as { task_id?: number })?.task_id ?? n.backend, n.worker_id ?? null]),
      [
        ['task.failed', 3, null],
        ['backend.paused', 'codex', null],
        ['backend.unhealthy', 'codex', 'a'],
        ['backend.unhealthy', 'echo', 'c'],
        ['backend.unhealthy', 'codex', 'a'],
      ],
    );
    const unhealthy = got[2]!;
    assert.equal(unhealthy.reason, 'codex: not logged in');
    assert.equal(unhealthy.fix, 'codex login');
  });

  it('HubEventNotices ignores what is not worth a message', () => {
    const notices = new HubEventNotices(origin);
    assert.equal(notices.fromEvent({ event: 'hub.stopping', time: 1 }), null);
    assert.equal(notices.fromEvent({ event: 'agent.connected', time: 1, agent: agent('ok') }), null);
  });

  it('sums cost and tokens over the usage records that have them', () => {
    assert.deepEqual(
      runCost([null, { cost_usd: 0.1, input_tokens: 10 }, { cost_usd: 0.2, output_tokens: 3 }]),
      {
        cost_usd: 0.3,
        input_tokens: 10,
        output_tokens: 3,
      },
    );
    assert.deepEqual(runCost([null, { model: 'x' }]), {
      cost_usd: null,
      input_tokens: null,
      output_tokens: null,
    });
  });
});

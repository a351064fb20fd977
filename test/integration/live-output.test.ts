/**
 * Live output on a real hub process (docs/PROTOCOL.md, "live output"): `output` by the lease's
 * holder only, `output_tail`, `task.output` events for subscribers that ask (TCP subscribe
 * `output: true`, SSE `?output=1`) and for nobody else, the REST route, and `mittelo logs` — with
 * -f following a shell agent's task and seeing its first line before the task ends.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.ts';
import { type Backend, readyReport } from '../../src/backends/types.ts';
import { HubClient } from '../../src/client/hub-client.ts';
import { startCli } from '../helpers/cli-process.ts';
import {
  HANG_GUARD_MS,
  type HubProcess,
  makeTempDir,
  startHubProcess,
  waitFor,
} from '../helpers/hub-process.ts';
import { RawClient, type WireMessage } from '../helpers/raw-client.ts';
import { runCli } from '../helpers/run-cli.ts';

const hubs: HubProcess[] = [];
const closers: Array<() => void> = [];
after(async () => {
  for (const close of closers) close();
  await Promise.all(hubs.map((hub) => hub.stop()));
});

async function hub(): Promise<HubProcess> {
  const started = await startHubProcess({ rest: true });
  hubs.push(started);
  return started;
}

async function raw(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  closers.push(() => client.close());
  return client;
}

/** Enqueue one task and lease it as `worker`: its id and lease token. */
async function leased(client: RawClient, worker: string): Promise<{ task_id: number; lease_token: string }> {
  await client.result('enqueue', { prompt: `work of ${worker}`, backend: worker });
  const { tasks } = await client.result('lease', { worker_id: worker, backend: worker, max_tasks: 1 });
  assert.equal(tasks.length, 1);
  return { task_id: tasks[0].task_id, lease_token: tasks[0].lease_token };
}

describe('live output over TCP', () => {
  it('the holder adds lines; output_tail reads them after a seq; others are refused', async () => {
    const h = await hub();
    const client = await raw(h.port);
    const hello = await client.result('hello', { client: 'test' });
    assert.ok(hello.features.includes('live_output'));
    const lease = await leased(client, 'w1');
    const sent = await client.result('output', {
      ...lease,
      worker_id: 'w1',
      lines: [
        { kind: 'stdout', text: 'one' },
        { kind: 'tool', text: 'two', at: 1_800_000_000 },
      ],
    });
    assert.deepEqual(sent, { task_id: lease.task_id, last_seq: 2 });
    await client.result('output', {
      ...lease,
      lines: [{ kind: 'text', text: 'x'.repeat(5000) }],
      dropped: 3,
    });

    const tail = await client.result('output_tail', { task_id: lease.task_id });
    assert.equal(tail.last_seq, 3);
    assert.equal(tail.lost, 3, 'the lines the agent said it dropped');
    assert.deepEqual(
      tail.lines.map((line: WireMessage) => [line.seq, line.kind, line.text.length]),
      [
        [1, 'stdout', 3],
        [2, 'tool', 3],
        [3, 'text', 1000],
      ],
    );
    assert.equal(tail.lines[1].at, 1_800_000_000);
    assert.equal(typeof tail.lines[0].at, 'number');
    const after = await client.result('output_tail', { task_id: lease.task_id, after_seq: 1, limit: 1 });
    assert.deepEqual(
      after.lines.map((line: WireMessage) => line.seq),
      [2],
    );

    // Not the holder: another worker, a stale token, a task nobody leased, one that does not exist.
    const other = await client.call('output', {
      ...lease,
      worker_id: 'w2',
      lines: [{ kind: 'text', text: 'no' }],
    });
    assert.equal(other.error?.code, 'conflict');
    const stale = await client.call('output', {
      task_id: lease.task_id,
      lease_token: 'not-the-token',
      lines: [{ kind: 'text', text: 'no' }],
    });
    assert.equal(stale.error?.code, 'conflict');
    const queued = (await client.result('enqueue', { prompt: 'nobody has it' })).task_id;
    const notLeased = await client.call('output', { task_id: queued, lines: [{ kind: 'text', text: 'no' }] });
    assert.equal(notLeased.error?.code, 'conflict');
    const missing = await client.call('output', { task_id: 99_999, lines: [{ kind: 'text', text: 'no' }] });
    assert.equal(missing.error?.code, 'not_found');
    const missingTail = await client.call('output_tail', { task_id: 99_999 });
    assert.equal(missingTail.error?.code, 'not_found');
    const silent = await client.result('output_tail', { task_id: queued });
    assert.deepEqual(silent, { task_id: queued, lines: [], last_seq: 0, lost: 0 });
    // Bad params: one line saying what was wrong.
    const badKind = await client.call('output', { ...lease, lines: [{ kind: 'shout', text: 'no' }] });
    assert.equal(badKind.error?.code, 'bad_request');
    assert.match(badKind.error.message, /kind/);
    const empty = await client.call('output', { ...lease, lines: [] });
    assert.equal(empty.error?.code, 'bad_request');
    const tooMany = await client.call('output', {
      ...lease,
      lines: Array.from({ length: 201 }, () => ({ kind: 'text', text: 'x' })),
    });
    assert.equal(tooMany.error?.code, 'bad_request');
    assert.equal(
      (await client.result('output_tail', { task_id: lease.task_id })).last_seq,
      3,
      'nothing added',
    );

    // Acked: no more output, the tail is still there to read.
    await client.result('ack', { ...lease, status: 'done', result: 'ok' });
    const late = await client.call('output', { ...lease, lines: [{ kind: 'text', text: 'late' }] });
    assert.equal(late.error?.code, 'conflict');
    assert.equal((await client.result('output_tail', { task_id: lease.task_id })).lines.length, 3);
  });

  it('task.output goes to subscribers that asked for it, and to nobody else', async () => {
    const h = await hub();
    const worker = await raw(h.port);
    const plain = await raw(h.port);
    const v1 = await raw(h.port);
    const watcher = await raw(h.port);
    // A v0.1-style subscriber (no params) and a v1 one naming categories: no output events.
    assert.deepEqual(await plain.result('subscribe'), { ok: true, events: ['task', 'agent'] });
    assert.deepEqual(await v1.result('subscribe', { events: ['task'] }), { ok: true, events: ['task'] });
    assert.deepEqual(await watcher.result('subscribe', { events: ['task'], output: true }), {
      ok: true,
      events: ['task'],
      output: true,
    });
    const lease = await leased(worker, 'w1');
    await worker.result('output', { ...lease, lines: [{ kind: 'stdout', text: 'hello' }] });
    const event = await watcher.nextMatching((message) => message.event === 'task.output');
    assert.equal(event.task_id, lease.task_id);
    assert.deepEqual(
      event.lines.map((line: WireMessage) => [line.seq, line.kind, line.text]),
      [[1, 'stdout', 'hello']],
    );
    await worker.result('ack', { ...lease, status: 'done', result: 'ok' });
    await watcher.nextMatching((message) => message.event === 'task.done');
    for (const client of [plain, v1]) {
      await client.nextMatching((message) => message.event === 'task.done');
      await client.synced();
      const seen: WireMessage[] = [];
      while (client.hasUnread) seen.push(await client.nextMessage());
      assert.ok(!seen.some((message) => message.event === 'task.output'));
    }
  });

  it('HubClient: output, outputTail and subscribe with output', async () => {
    const h = await hub();
    const client = new HubClient({ port: h.port, reconnect: false, workerId: 'hc' });
    closers.push(() => client.close());
    const watcher = new HubClient({ port: h.port });
    closers.push(() => watcher.close());
    const events: WireMessage[] = [];
    watcher.on('event', (event) => events.push(event));
    await watcher.subscribe(['task'], { output: true });
    assert.ok(watcher.hasFeature('live_output'));
    const id = await client.enqueue({ prompt: 'p', backend: 'hc' });
    const { tasks } = await client.lease({ worker_id: 'hc', backend: 'hc' });
    assert.equal(tasks[0]!.task_id, id);
    const answer = await client.output({
      task_id: id,
      lease_token: tasks[0]!.lease_token,
      worker_id: 'hc',
      lines: [{ kind: 'edit', text: 'src/a.ts' }],
    });
    assert.deepEqual(answer, { task_id: id, last_seq: 1 });
    const tail = await client.outputTail(id);
    assert.deepEqual(
      tail.lines.map((line) => line.text),
      ['src/a.ts'],
    );
    await waitFor(() => events.some((event) => event.event === 'task.output'), 'the task.output event');
  });
});

describe('an agent forwarding live output', () => {
  it("sends a running backend's lines as they come, drops what is over its rate, and the rest before the ack", async () => {
    const h = await hub();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const backend: Backend = {
      name: 'chatty',
      async run(_task, context) {
        context.onOutput?.({ kind: 'status', text: 'starting' });
        await gate;
        // 300 lines at once: more than the burst of 200 a task may send.
        for (let i = 1; i <= 300; i += 1) context.onOutput?.({ kind: 'stdout', text: `line ${i}` });
        return { ok: true, output: 'done' };
      },
      preflight: async () => readyReport('chatty'),
    };
    const agent = new Agent({ port: h.port, backend, preflight: false, longPollMs: 500, log: () => {} });
    const running = agent.run();
    closers.push(() => void agent.stop(0));
    const client = new HubClient({ port: h.port, reconnect: false });
    closers.push(() => client.close());
    const id = await client.enqueue({ prompt: 'talk', backend: 'chatty' });
    const first = await waitFor(async () => {
      const tail = await client.outputTail(id);
      return tail.lines.length > 0 ? tail : null;
    }, 'the first line while the task runs');
    assert.deepEqual(
      first!.lines.map((line) => [line.seq, line.kind, line.text]),
      [[1, 'status', 'starting']],
    );
    assert.equal((await client.get(id)).status, 'leased', 'seen before the task ended');
    release();
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    assert.equal(tasks[0]!.status, 'done');
    // Sent before the ack: the hub has it all once the task is done.
    const tail = await client.outputTail(id);
    assert.ok(tail.lost > 0, 'lines over the rate were dropped and counted');
    assert.equal(tail.lines.length + tail.lost, 301, 'every line kept or counted');
    assert.equal(tail.last_seq, tail.lines.length);
    assert.deepEqual(
      tail.lines.slice(1, 3).map((line) => line.text),
      ['line 1', 'line 2'],
    );
    await agent.stop(0);
    await running;
  });
});

describe('live output over REST', () => {
  it('GET /tasks/{id}/output, SSE ?output=1, and the OpenAPI document', async () => {
    const h = await hub();
    const worker = await raw(h.port);
    const lease = await leased(worker, 'w1');
    const controller = new AbortController();
    closers.push(() => controller.abort());
    const stream = await fetch(`${h.restUrl}/events?events=task&output=1`, { signal: controller.signal });
    assert.equal(stream.status, 200);
    const reader = stream.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    const readUntil = async (pattern: RegExp) => {
      const deadline = Date.now() + HANG_GUARD_MS;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in the stream: ${text}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil(/: subscribed/);
    await worker.result('output', { ...lease, lines: [{ kind: 'stderr', text: 'over http' }] });
    await readUntil(/event: task\.output\ndata: .*over http/);
    const data = JSON.parse(/event: task\.output\ndata: (.*)\n/.exec(text)![1]!);
    assert.equal(data.task_id, lease.task_id);
    assert.equal(data.lines[0].seq, 1);

    const answer = await fetch(`${h.restUrl}/tasks/${lease.task_id}/output?after_seq=0&limit=10`);
    assert.equal(answer.status, 200);
    const body = (await answer.json()) as WireMessage;
    assert.equal(body.last_seq, 1);
    assert.equal(body.lines[0].text, 'over http');
    const missing = await fetch(`${h.restUrl}/tasks/99999/output`);
    assert.equal(missing.status, 404);
    const bad = await fetch(`${h.restUrl}/tasks/${lease.task_id}/output?after_seq=x`);
    assert.equal(bad.status, 400);
    const badSse = await fetch(`${h.restUrl}/events?output=maybe`);
    assert.equal(badSse.status, 400);
    await badSse.body?.cancel();

    const openapi = (await (await fetch(`${h.restUrl}/openapi.json`)).json()) as WireMessage;
    const operation = openapi.paths['/tasks/{task_id}/output'].get;
    assert.equal(operation.operationId, 'output_tail');
    assert.deepEqual(
      operation.parameters.map((p: WireMessage) => [p.name, p.in]),
      [
        ['task_id', 'path'],
        ['after_seq', 'query'],
        ['limit', 'query'],
      ],
    );
    controller.abort();
  });
});

describe('mittelo logs', () => {
  it('prints the kept lines, says what was not kept, and refuses an unknown task', async () => {
    const h = await hub();
    const worker = await raw(h.port);
    const lease = await leased(worker, 'w1');
    await worker.result('output', {
      ...lease,
      lines: [
        { kind: 'stdout', text: 'first' },
        { kind: 'tool', text: 'Read README.md' },
      ],
      dropped: 2,
    });
    const ran = await runCli(['logs', String(lease.task_id), '--port', String(h.port)]);
    assert.equal(ran.code, 0, ran.stderr);
    const lines = ran.stdout.trimEnd().split('\n');
    assert.equal(lines[0], '… 2 earlier lines not kept');
    assert.match(lines[1]!, /^\d\d:\d\d:\d\d stdout first$/);
    assert.match(lines[2]!, /^\d\d:\d\d:\d\d tool Read README\.md$/);
    const json = await runCli(['logs', String(lease.task_id), '--json', '--port', String(h.port)]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).last_seq, 2);
    const unknown = await runCli(['logs', '99999', '--port', String(h.port)]);
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /^mittelo: task 99999 does not exist\n$/);
    const unknownFollow = await runCli(['logs', '99999', '-f', '--port', String(h.port)]);
    assert.equal(unknownFollow.code, 4);
    assert.match(unknownFollow.stderr, /^mittelo: task 99999 does not exist\n$/);
  });

  it('-f follows a running task: its first line before it ends, then the end', async () => {
    const h = await hub();
    const dir = makeTempDir('mittelo-logs-');
    const go = join(dir, 'go');
    const agent = startCli([
      'agent',
      '--port',
      String(h.port),
      '--backend',
      'shell',
      '--shell-cmd',
      'sh',
      '--worker-id',
      'logs-agent',
    ]);
    closers.push(() => agent.kill());
    const client = new HubClient({ port: h.port, reconnect: false });
    closers.push(() => client.close());
    const id = await client.enqueue(
      `echo "first line"; while [ ! -e '${go}' ]; do sleep 0.05; done; echo "second line"`,
    );
    const logs = startCli(['logs', String(id), '-f', '--port', String(h.port)]);
    closers.push(() => logs.kill());
    await waitFor(() => /stdout first line/.test(logs.stdout()), 'the first line in logs -f', HANG_GUARD_MS);
    // The task is still running: it waits for the file this test has not made yet.
    assert.equal((await client.get(id)).status, 'leased');
    assert.doesNotMatch(logs.stdout(), /second line|done/);
    writeFileSync(go, '');
    assert.equal(await logs.exit(), 0, logs.stderr());
    const lines = logs.stdout().trimEnd().split('\n');
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d stdout first line$/);
    assert.match(lines[1]!, /^\d\d:\d\d:\d\d stdout second line$/);
    assert.equal(lines.at(-1), `task ${id} done`);
  });

  it('-f exits 1 when the task fails', async () => {
    const h = await hub();
    const client = await raw(h.port);
    const lease = await leased(client, 'w1');
    const logs = startCli(['logs', String(lease.task_id), '-f', '--port', String(h.port)]);
    closers.push(() => logs.kill());
    await client.result('output', { ...lease, lines: [{ kind: 'stderr', text: 'it broke' }] });
    await waitFor(() => /stderr it broke/.test(logs.stdout()), 'the line in logs -f');
    await client.result('ack', { ...lease, status: 'failed', error: 'boom', retryable: false });
    assert.equal(await logs.exit(), 1);
    assert.match(logs.stdout(), new RegExp(`task ${lease.task_id} failed: boom\\n$`));
  });
});

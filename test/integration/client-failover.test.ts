/**
 * Failover between hub addresses, with real hub processes: a client and a `mittelo agent --hub
 * A,B` move to the second hub when the first is killed (SIGKILL) and carry on working there; an
 * ack in flight when its hub dies is sent again to the next address and accepted there (the hub
 * restarted elsewhere on the same database); and a hub that goes silent (SIGSTOP) is given up on
 * after a request timeout, in favour of the next.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.ts';
import { type Backend, readyReport } from '../../src/backends/types.ts';
import { type ClientEvent, HubClient, RequestTimeoutError } from '../../src/client/hub-client.ts';
import { type CliProcess, startCli } from '../helpers/cli-process.ts';
import {
  HANG_GUARD_MS,
  type HubProcess,
  makeTempDir,
  startHubProcess,
  waitFor,
} from '../helpers/hub-process.ts';
import { unusedPort } from '../helpers/ports.ts';

const addr = (hub: { port: number }) => `127.0.0.1:${hub.port}`;

describe('failover between two hubs', () => {
  it('a client and an agent (mittelo agent --hub A,B) move to B when A is killed, and keep working', async () => {
    const hubs: HubProcess[] = [];
    const clients: HubClient[] = [];
    let agent: CliProcess | null = null;
    try {
      const a = await startHubProcess();
      const b = await startHubProcess();
      hubs.push(a, b);
      const both = [addr(a), addr(b)];
      const client = new HubClient({ hubs: both, maxBackoffMs: 200 });
      const watcher = new HubClient({ hubs: both, maxBackoffMs: 200 });
      clients.push(client, watcher);
      const events: ClientEvent[] = [];
      watcher.on('event', (event) => events.push(event));
      await watcher.subscribe(['task']);

      agent = startCli(['agent', '--hub', both.join(','), '--backend', 'echo', '--worker-id', 'mover']);
      await agent.waitForStderr(new RegExp(`hub 127\\.0\\.0\\.1:${a.port}, 127\\.0\\.0\\.1:${b.port}`));

      const first = await client.enqueue({ prompt: 'on A', backend: 'echo' });
      const onA = await client.wait([first], { timeout_ms: HANG_GUARD_MS });
      assert.equal(onA.tasks[0]?.status, 'done');
      assert.equal(onA.tasks[0]?.result, 'echo:on A');
      assert.equal(client.port, a.port);

      await a.kill();

      // The client's next call reconnects, to B; the watcher reconnects by itself and subscribes again.
      const second = await client.enqueue({ prompt: 'on B', backend: 'echo' });
      assert.equal(client.port, b.port);
      const onB = await client.wait([second], { timeout_ms: HANG_GUARD_MS });
      assert.equal(onB.tasks[0]?.status, 'done', 'the agent moved to B and ran it');
      assert.equal(onB.tasks[0]?.result, 'echo:on B');
      assert.equal(onB.tasks[0]?.worker_id, 'mover');
      await waitFor(
        () =>
          events.some((e) => e.event === 'task.done' && e.task.task_id === second && watcher.port === b.port),
        "the watcher's event for the task done on B",
      );
      await agent.waitForStderr(new RegExp(`reconnected to the hub at 127\\.0\\.0\\.1:${b.port}`));
      assert.match(agent.stderr(), new RegExp(`lost the hub at 127\\.0\\.0\\.1:${a.port}`));
    } finally {
      agent?.kill('SIGKILL');
      await agent?.exited;
      for (const client of clients) client.close();
      for (const hub of hubs) await hub.stop();
    }
  });

  it('an ack in flight when its hub dies is sent again to the next address, and accepted there (same database)', async () => {
    const dir = makeTempDir();
    const db = join(dir, 'hub.db');
    const hubs: HubProcess[] = [];
    const clients: HubClient[] = [];
    let agent: Agent | null = null;
    let running: Promise<unknown> | null = null;
    try {
      const a = await startHubProcess({ dir, db });
      hubs.push(a);
      const standbyPort = await unusedPort();

      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const started: number[] = [];
      const backend: Backend = {
        name: 'gated',
        async run(task) {
          started.push(task.task_id);
          await gate;
          return { ok: true, output: `done:${task.prompt}` };
        },
        preflight: async () => readyReport('gated'),
      };
      const logs: string[] = [];
      agent = new Agent({
        hubs: [addr(a), `127.0.0.1:${standbyPort}`],
        backend,
        workerId: 'acker',
        preflight: false,
        log: (message) => logs.push(message),
      });
      running = agent.run();

      const producer = new HubClient({ port: a.port, reconnect: false });
      clients.push(producer);
      const id = await producer.enqueue({ prompt: 'survive', backend: 'gated' });
      await waitFor(() => started.includes(id), 'the agent to start the task');

      // Hub A stops answering; the run finishes, so its ack goes out to A and waits there.
      a.child.kill('SIGSTOP');
      release();
      // White-box, to know the ack is on the wire: the agent's client and its calls in flight.
      const agentClient = (agent as unknown as { client: HubClient }).client;
      const inFlight = (agentClient as unknown as { pending: Map<number, { method: string }> }).pending;
      await waitFor(
        () => [...inFlight.values()].some((call) => call.method === 'ack'),
        'the ack in flight to the stopped hub',
      );
      await a.kill(); // the ack's connection closes: it may or may not have been applied

      // The same database comes back at the second address (a standby taking over).
      const b = await startHubProcess({ dir, db, args: ['--port', String(standbyPort)] });
      hubs.push(b);
      const check = new HubClient({ port: b.port, reconnect: false });
      clients.push(check);
      const { tasks } = await check.wait([id], { timeout_ms: HANG_GUARD_MS });
      assert.equal(tasks[0]?.status, 'done', logs.join('\n'));
      assert.equal(tasks[0]?.result, 'done:survive');
      await waitFor(() => agent!.counts.done === 1, 'the agent to count the ack');
      assert.ok(
        logs.some((line) => line.includes(`reconnected to the hub at 127.0.0.1:${standbyPort}`)),
        logs.join('\n'),
      );
    } finally {
      await agent?.stop(0);
      await running;
      for (const client of clients) client.close();
      for (const hub of hubs) await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a hub that goes silent (SIGSTOP) is given up after a request timeout: the next call goes to B', async () => {
    const hubs: HubProcess[] = [];
    let stopped: HubProcess | null = null;
    try {
      const a = await startHubProcess();
      const b = await startHubProcess();
      hubs.push(a, b);
      const silent = new HubClient({ hubs: [addr(a), addr(b)], requestTimeoutMs: 500, maxBackoffMs: 200 });
      try {
        const id = await silent.enqueue('before the silence');
        assert.ok(id > 0);
        a.child.kill('SIGSTOP');
        stopped = a;
        await assert.rejects(silent.stats(), (error: unknown) => {
          assert.ok(error instanceof RequestTimeoutError);
          assert.equal(error.code, 'request_timeout');
          assert.equal(error.details?.connection_dropped, true);
          return true;
        });
        const stats = await silent.stats();
        assert.equal(silent.port, b.port);
        assert.equal(stats.queued, 0, "B's own database");
      } finally {
        silent.close();
      }
    } finally {
      if (stopped) await stopped.kill();
      for (const hub of hubs) await hub.stop();
    }
  });
});

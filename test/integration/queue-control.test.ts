/**
 * Pause, resume and delayed tasks through a real hub process, the real CLI and a real agent:
 * `mittelo pause` shows in `status`, agents get nothing for the paused route (a parked long-poll
 * stays parked), queued work stays, the pause survives a hub restart and is there over REST too;
 * `mittelo resume` lets the parked lease and the agent finish the work.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { Pause, Task } from '../../src/protocol/model.ts';
import { startCli } from '../helpers/cli-process.ts';
import { type HubProcess, makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { type Ran, runCli } from '../helpers/run-cli.ts';

const ok = (ran: Ran): string => {
  assert.equal(ran.code, 0, `exit ${ran.code}; stderr: ${ran.stderr}`);
  return ran.stdout;
};

describe('pause and resume through a real hub, the CLI and an agent', () => {
  const dir = makeTempDir('mittelo-queue-control-');
  const db = `${dir}/hub.db`;
  let hub: HubProcess;
  const cleanups: Array<() => unknown> = [];
  const mittelo = (args: string[]) => runCli([...args, '--port', String(hub.port)], { cwd: dir });
  const connect = () => {
    const client = new HubClient({ port: hub.port, reconnect: false });
    cleanups.push(() => client.close());
    return client;
  };
  const rest = async (method: string, path: string, body?: object) => {
    const response = await fetch(`${hub.restUrl}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  before(async () => {
    hub = await startHubProcess({ db, rest: true });
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await hub.stop();
  });

  it('a paused backend: status says so, a parked lease and a probe get nothing; resume hands the task out', async () => {
    const paused = ok(await mittelo(['pause', '--backend', 'echo', '--reason', 'over budget']));
    assert.match(
      paused,
      /^paused echo \(since \d\d:\d\d, reason: over budget\): agents of echo get no new tasks; running ones finish\. Resume with `mittelo resume --backend echo`\n$/,
    );
    const client = connect();
    const parked = client.lease({ worker_id: 'parked', backend: 'echo', wait_ms: 120_000 });
    const [id] = (await mittelo(['enqueue', '--prompt', 'wait for it', '--backend', 'echo'])).stdout
      .trim()
      .split('\n')
      .map(Number);
    const probe = connect();
    assert.deepEqual((await probe.lease({ worker_id: 'probe', backend: 'echo' })).tasks, []);
    // The enqueue woke the parked lease; it looked, and the pause kept the task from it.
    const status = ok(await mittelo(['status']));
    assert.match(status, /^echo paused \(over budget\), since \d\d:\d\d$/m);
    assert.match(status, new RegExp(`^${id}\\s+queued\\s+echo\\s`, 'm'));
    assert.equal((await probe.get(id!)).status, 'queued');
    assert.deepEqual(
      (await probe.pauses()).map((p) => [p.backend, p.reason]),
      [['echo', 'over budget']],
    );

    assert.equal(ok(await mittelo(['resume', '--backend', 'echo'])), 'resumed echo\n');
    const { tasks } = await parked;
    assert.deepEqual(
      tasks.map((t) => t.task_id),
      [id],
      'the parked lease is woken by the resume',
    );
    await client.ack({ task_id: id!, status: 'done', result: 'ok', lease_token: tasks[0]!.lease_token });
    assert.equal(
      ok(await mittelo(['resume', '--backend', 'echo'])),
      'echo was not paused; nothing changed\n',
    );
  });

  it('a whole-queue pause holds an agent off, survives a hub restart, shows over REST; resume lets it finish', async () => {
    assert.match(
      ok(await mittelo(['pause', '--for', '2h'])),
      /^paused the whole queue \(since \d\d:\d\d, until /,
    );
    const probe = connect();
    const id = await probe.enqueue({ prompt: 'after the pause', backend: 'echo' });

    // A restart on the same database: the pause is still there.
    cleanups
      .splice(0)
      .reverse()
      .forEach((cleanup) => void cleanup());
    await hub.stop();
    hub = await startHubProcess({ db, rest: true });
    const pauses = await rest('GET', '/pauses');
    assert.equal(pauses.status, 200);
    const [pause] = pauses.body.pauses as Pause[];
    assert.equal(pause?.backend, null);
    assert.ok(pause!.until! > Date.now() / 1000 + 3600, `until ${pause!.until}`);

    const agent = startCli([
      'agent',
      '--backend',
      'echo',
      '--worker-id',
      'w-echo',
      '--port',
      String(hub.port),
    ]);
    cleanups.push(() => agent.kill());
    const client = connect();
    await waitFor(
      async () => (await client.agents()).some((a) => a.worker_id === 'w-echo' && a.connected),
      'the agent to connect',
    );
    assert.deepEqual((await client.lease({ worker_id: 'probe', backend: 'echo' })).tasks, []);
    assert.match(ok(await mittelo(['status'])), /^the whole queue paused until .+, since \d\d:\d\d$/m);
    assert.equal((await client.get(id)).status, 'queued');

    // Over REST: a second pause, a bad one refused with nothing changed, then the resume.
    const echo = await rest('POST', '/pause', { backend: 'echo', reason: 'also this' });
    assert.equal(echo.status, 200);
    assert.equal((echo.body.pause as Pause).backend, 'echo');
    const bad = await rest('POST', '/pause', { until: Date.now() / 1000 - 10 });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /until is in the past/);
    const resumed = await rest('POST', '/resume', {});
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.resumed, true);
    assert.deepEqual(
      (resumed.body.paused as Pause[]).map((p) => p.backend),
      ['echo'],
    );
    assert.match(
      ok(await mittelo(['resume'])),
      /^the whole queue was not paused; nothing changed\necho paused \(also this\), since \d\d:\d\d\n$/,
    );
    assert.equal((await client.get(id)).status, 'queued', 'echo is still paused');
    assert.equal(ok(await mittelo(['resume', '--backend', 'echo'])), 'resumed echo\n');
    const waited = ok(await mittelo(['wait', String(id), '--timeout-s', '60', '--json']));
    const [done] = (JSON.parse(waited) as { tasks: Task[] }).tasks;
    assert.equal(done!.status, 'done');
    assert.equal(done!.worker_id, 'w-echo');
  });

  it('enqueue refuses not_before and delay_s together, negative or over a year away, with nothing enqueued', async () => {
    const client = connect();
    const before = await client.stats();
    const cases: Array<[object, RegExp]> = [
      [
        { prompt: 'x', not_before: Date.now() / 1000 + 60, delay_s: 5 },
        /give not_before .* or delay_s .*, not both/,
      ],
      [{ prompt: 'x', delay_s: -1 }, /delay_s is a number of seconds \(0 or more\)/],
      [{ prompt: 'x', delay_s: 400 * 86_400 }, /delay_s may be at most a year/],
      [
        { prompt: 'x', not_before: Date.now() },
        /not_before is more than a year from now: .*not milliseconds/,
      ],
      [{ prompt: 'x', not_before: -5 }, /not_before is a Unix time in seconds \(0 or more\)/],
    ];
    for (const [task, message] of cases) {
      await assert.rejects(client.enqueue(task as never), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'bad_request');
        assert.match(error.message, message);
        return true;
      });
      await assert.rejects(
        client.enqueueMany([{ prompt: 'fine' }, task as never]),
        /tasks\.1\.(delay_s|not_before)/,
      );
      const over = await rest('POST', '/tasks', task);
      assert.equal(over.status, 400, JSON.stringify(over.body));
    }
    assert.deepEqual(await client.stats(), before);
    // delay_s is counted from the hub's clock.
    const id = await client.enqueue({ prompt: 'in a minute', delay_s: 60 });
    const task = await client.get(id);
    assert.ok(Math.abs(task.available_at - (task.created_at + 60)) < 1e-6, JSON.stringify(task));
  });
});

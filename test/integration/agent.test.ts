/**
 * `mittelo agent` against a real hub process: echo and shell backends, timeouts that kill the
 * process tree, capped floods, failures with stderr, cancellation, graceful and hard stops, a
 * killed agent whose task another agent finishes, reconnecting after a hub restart, preflight,
 * tokens, a v0.1 hub, and what each run cost (reported, estimated, unknown, none).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { Task } from '../../src/protocol/model.ts';
import { type CliProcess, startCli } from '../helpers/cli-process.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import {
  HANG_GUARD_MS,
  type HubProcess,
  makeTempDir,
  startHubProcess,
  waitFor,
} from '../helpers/hub-process.ts';
import { isAlive, signalPending } from '../helpers/processes.ts';
import { runCli } from '../helpers/run-cli.ts';
import { startV01Hub } from '../helpers/v01-hub.ts';

const dir = makeTempDir('mittelo-agent-');
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
/** A fresh path in the test folder (for pid files). */
const tempPath = (name: string) => join(dir, `${name}-${++fileCount}`);

async function hub(args: string[] = []): Promise<{ hub: HubProcess; client: HubClient }> {
  const running = await startHubProcess({ args });
  const client = new HubClient({ port: running.port, reconnect: false });
  cleanups.push(
    () => running.stop(),
    () => client.close(),
  );
  return { hub: running, client };
}

function agent(port: number, args: string[], env?: NodeJS.ProcessEnv): CliProcess {
  const process = startCli(['agent', '--port', String(port), ...args], { env });
  cleanups.push(() => process.kill());
  return process;
}

async function finished(client: HubClient, id: number): Promise<Task> {
  const { tasks, timed_out } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
  assert.equal(timed_out, false, `task ${id} did not finish`);
  return tasks[0]!;
}

function readPid(path: string): number {
  return Number(readFileSync(path, 'utf8').trim());
}

describe('mittelo agent', () => {
  it('runs echo tasks, shows up in the registry, and stops cleanly on SIGTERM', async () => {
    const { client, hub: h } = await hub();
    const worker = agent(h.port, ['--backend', 'echo', '--worker-id', 'echo-one']);
    const id = await client.enqueue('hello agent');
    const task = await finished(client, id);
    assert.equal(task.status, 'done');
    assert.equal(task.result, 'echo:hello agent');
    assert.equal(task.worker_id, 'echo-one');
    const [info] = await client.agents();
    assert.equal(info!.worker_id, 'echo-one');
    assert.equal(info!.backend, 'echo');
    assert.equal(info!.connected, true);
    assert.equal(info!.tasks_done, 1);
    worker.kill('SIGTERM');
    assert.equal(await worker.exit(), 0);
    assert.match(worker.stderr(), /stopped \(1 done, 0 failed, 0 released\)/);
  });

  it('gives a shell command the prompt on stdin and the task and worker ids in its environment', async () => {
    const { client, hub: h } = await hub();
    agent(h.port, [
      '--backend',
      'shell',
      '--shell-cmd',
      'cat; echo " task=$MITTELO_TASK_ID worker=$MITTELO_WORKER_ID"',
      '--worker-id',
      'sh-1',
    ]);
    const id = await client.enqueue('from stdin');
    const task = await finished(client, id);
    assert.equal(task.result, `from stdin task=${id} worker=sh-1\n`);
  });

  it('runs up to --max-tasks tasks at once', async () => {
    const { client, hub: h } = await hub();
    agent(h.port, [
      '--backend',
      'shell',
      '--shell-cmd',
      'sleep 1; cat',
      '--max-tasks',
      '3',
      '--worker-id',
      'parallel',
    ]);
    const ids = await client.enqueueMany(['a', 'b', 'c', 'd']);
    const busiest = await waitFor(async () => {
      const info = (await client.agents()).find((a) => a.worker_id === 'parallel');
      return info && info.current_tasks.length >= 3 ? info.current_tasks.length : 0;
    }, 'three tasks running at once');
    assert.equal(busiest, 3, 'never more than --max-tasks');
    const { tasks } = await client.wait(ids, { timeout_ms: HANG_GUARD_MS });
    assert.deepEqual(
      tasks.map((t) => t.result),
      ['a', 'b', 'c', 'd'],
    );
  });

  it('keeps extending the lease of a task that outlasts it, so no second agent gets it', async () => {
    const { client, hub: h } = await hub(['--lease-seconds', '1']);
    agent(h.port, ['--backend', 'shell', '--shell-cmd', 'sleep 2.5; cat', '--worker-id', 'slow-but-alive']);
    const id = await client.enqueue('long task');
    await waitFor(async () => (await client.get(id)).status === 'leased', 'the task to be leased');
    agent(h.port, ['--backend', 'echo', '--worker-id', 'eager']);
    const task = await finished(client, id);
    assert.equal(task.result, 'long task', 'the first agent finished it');
    assert.equal(task.worker_id, 'slow-but-alive');
    assert.equal(task.lease_expirations, 0);
    assert.equal(task.attempts, 1);
  });

  it('kills a backend that hangs at the task timeout and fails the task with kind timeout', async () => {
    const { client, hub: h } = await hub();
    const pidFile = tempPath('hang');
    agent(h.port, ['--backend', 'shell', '--shell-cmd', `echo $$ > ${pidFile}; exec sleep 30`]);
    const id = await client.enqueue({ prompt: 'hang', timeout_s: 0.5 });
    const task = await finished(client, id);
    assert.equal(task.status, 'failed');
    assert.equal(task.error_kind, 'timeout');
    assert.match(task.error!, /ran past its timeout of 0\.5 s; its process tree was killed/);
    assert.match(task.error_fix!, /timeout_s/);
    await waitFor(() => !isAlive(readPid(pidFile)), 'the hung process to be gone');
  });

  it('caps a backend that floods stdout and says what was cut', async () => {
    const { client, hub: h } = await hub();
    agent(h.port, [
      '--backend',
      'shell',
      '--shell-cmd',
      'head -c 5000000 /dev/zero | tr "\\0" y',
      '--max-output-bytes',
      '1000',
    ]);
    const id = await client.enqueue('flood');
    const task = await finished(client, id);
    assert.equal(task.status, 'done');
    assert.ok(task.result!.startsWith('y'.repeat(1000)));
    assert.match(task.result!, /\[mittelo: output cut at 1000 bytes; 4999000 more bytes dropped\]$/);
  });

  it('fails a task whose backend exits non-zero, with its stderr', async () => {
    const { client, hub: h } = await hub();
    agent(h.port, [
      '--backend',
      'shell',
      '--shell-cmd',
      'cat > /dev/null; echo "model exploded" >&2; exit 3',
    ]);
    const id = await client.enqueue('boom');
    const task = await finished(client, id);
    assert.equal(task.status, 'failed');
    assert.equal(task.error_kind, 'unknown');
    assert.match(task.error!, /exited with code 3: model exploded/);
  });

  it('stops the backend of a task canceled on the hub, and keeps working', async () => {
    const { client, hub: h } = await hub();
    const pidFile = tempPath('cancel');
    const worker = agent(h.port, [
      '--backend',
      'shell',
      '--shell-cmd',
      `if [ "$(cat)" = slow ]; then echo $$ > ${pidFile}; exec sleep 30; fi; echo quick`,
    ]);
    const slow = await client.enqueue('slow');
    await waitFor(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
      'the slow task to start',
    );
    const pid = readPid(pidFile);
    await client.cancel(slow);
    // Bounded well below the backend's own 30 s: gone by then, it was killed, not finished.
    await waitFor(() => !isAlive(pid), 'the canceled backend to be killed', 20_000);
    await worker.waitForStderr(new RegExp(`task ${slow} was canceled on the hub; its backend was stopped`));
    assert.equal((await client.get(slow)).status, 'canceled');
    const next = await client.enqueue('next');
    assert.equal((await finished(client, next)).result, 'quick\n');
  });

  it('on SIGTERM lets a short task finish within the grace period', async () => {
    const { client, hub: h } = await hub();
    const started = tempPath('short');
    const worker = agent(h.port, ['--backend', 'shell', '--shell-cmd', `touch ${started}; sleep 0.5; cat`]);
    const id = await client.enqueue('finish me');
    // Leased at the hub is not yet running here (the lease answer may still be on its way, and a
    // task not started is released on stop): wait for the backend itself.
    await waitFor(() => existsSync(started), 'the backend to start');
    worker.kill('SIGTERM');
    assert.equal(await worker.exit(), 0);
    const task = await client.get(id);
    assert.equal(task.status, 'done');
    assert.equal(task.result, 'finish me');
  });

  it('on SIGTERM releases a task that outlasts the grace period and kills its backend', async () => {
    const { client, hub: h } = await hub();
    const pidFile = tempPath('grace');
    const worker = agent(h.port, [
      '--backend',
      'shell',
      '--shell-cmd',
      `echo $$ > ${pidFile}; exec sleep 30`,
      '--grace-s',
      '0.3',
    ]);
    const id = await client.enqueue('too long');
    await waitFor(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
      'the task to start',
    );
    worker.kill('SIGTERM');
    assert.equal(await worker.exit(), 0);
    assert.match(worker.stderr(), /0 done, 0 failed, 1 released/);
    const task = await client.get(id);
    assert.equal(task.status, 'queued', 'released back to the queue');
    assert.equal(isAlive(readPid(pidFile)), false);
  });

  it('a second signal stops at once and still releases the running task', async () => {
    const { client, hub: h } = await hub();
    const pidFile = tempPath('twice');
    const worker = agent(h.port, [
      '--backend',
      'shell',
      '--shell-cmd',
      `echo $$ > ${pidFile}; exec sleep 30`,
    ]);
    const id = await client.enqueue('stuck');
    await waitFor(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
      'the task to start',
    );
    worker.kill('SIGINT');
    // Two signals close together could reach the agent as one: send the second once the first is taken.
    await waitFor(() => !signalPending(worker.child.pid!, 'SIGINT'), 'the first SIGINT to be taken');
    worker.kill('SIGINT');
    // Bounded well below the 30 s grace period: exited by then, it did not wait the grace out.
    assert.equal(await worker.exit(20_000), 0);
    assert.equal((await client.get(id)).status, 'queued');
    assert.equal(isAlive(readPid(pidFile)), false);
  });

  it('hands the task of an agent killed with -9 to another agent after the lease expires', async () => {
    const { client, hub: h } = await hub(['--lease-seconds', '1']);
    const pidFile = tempPath('killed');
    const first = agent(h.port, [
      '--backend',
      'shell',
      '--shell-cmd',
      `echo $$ > ${pidFile}; exec sleep 30`,
      '--worker-id',
      'doomed',
    ]);
    const id = await client.enqueue('survive me');
    await waitFor(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
      'the first agent to start the task',
    );
    first.kill('SIGKILL');
    await first.exit();
    // Its backend lived in its own process group; a real crash leaves it to run out. Here, end it.
    process.kill(readPid(pidFile), 'SIGKILL');
    agent(h.port, ['--backend', 'echo', '--worker-id', 'rescuer']);
    const task = await finished(client, id);
    assert.equal(task.status, 'done');
    assert.equal(task.result, 'echo:survive me');
    assert.equal(task.worker_id, 'rescuer');
    const { tasks } = await client.list({});
    assert.equal(tasks.length, 1, 'one task, one final result');
    assert.equal(tasks[0]!.lease_expirations, 1);
  });

  it('reconnects after the hub restarts, saying so once per outage', async () => {
    const dbDir = makeTempDir('mittelo-agent-restart-');
    cleanups.push(() => rmSync(dbDir, { recursive: true, force: true }));
    const db = join(dbDir, 'hub.db');
    const first = await startHubProcess({ db });
    const port = first.port;
    const worker = agent(port, ['--backend', 'echo']);
    await waitFor(async () => {
      const probe = new HubClient({ port, reconnect: false });
      try {
        return (await probe.agents()).some((a) => a.connected);
      } finally {
        probe.close();
      }
    }, 'the agent to connect');
    await first.kill();
    await worker.waitForStderr(/lost the hub/);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // several reconnect attempts
    const second = await startHubProcess({ db, args: ['--port', String(port)] });
    cleanups.push(() => second.stop());
    const client = new HubClient({ port, reconnect: false });
    cleanups.push(() => client.close());
    const id = await client.enqueue('after the restart');
    assert.equal((await finished(client, id)).result, 'echo:after the restart');
    await worker.waitForStderr(/reconnected to the hub/);
    assert.equal(worker.stderr().match(/lost the hub/g)?.length, 1);
    assert.equal(worker.stderr().match(/reconnected/g)?.length, 1);
  });

  it('refuses an unknown backend, listing the known ones', async () => {
    const ran = await runCli(['agent', '--backend', 'cladue', '--port', '1']);
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /unknown backend "cladue"\. Known backends: echo, shell, .*claude_code.*upper/);
    assert.match(ran.stderr, /backends\/cladue\/run/);
  });

  it('with --require-ready refuses to start when the backend is not ready', async () => {
    const ran = await runCli([
      'agent',
      '--backend',
      'shell',
      '--shell-cmd',
      'mittelo-missing-cli --x',
      '--require-ready',
      '--port',
      '1',
    ]);
    assert.equal(ran.code, 1);
    assert.match(ran.stderr, /\[shell\] fail: mittelo-missing-cli is not on PATH\n {2}fix: /);
    assert.match(ran.stderr, /--require-ready: backend shell not ready/);
  });

  it('without --require-ready reports itself unhealthy to the hub and leases nothing', async () => {
    const { client, hub: h } = await hub();
    const worker = agent(h.port, [
      '--backend',
      'shell',
      '--shell-cmd',
      'mittelo-missing-cli',
      '--worker-id',
      'unready',
    ]);
    const info = await waitFor(
      async () => (await client.agents()).find((a) => a.worker_id === 'unready' && !a.healthy),
      'the unhealthy report',
    );
    assert.match(info!.reason!, /shell: mittelo-missing-cli is not on PATH/);
    assert.match(info!.fix!, /install it/);
    const status = await runCli(['status', '--port', String(h.port)]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^unready +shell +connected +UNHEALTHY +- +0 +0 +\d+s ago$/m);
    assert.match(status.stdout, /^unready: shell: mittelo-missing-cli is not on PATH\n {2}fix: install it/m);
    const id = await client.enqueue('nobody takes this');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await client.get(id)).status, 'queued');
    worker.kill('SIGTERM');
    assert.equal(await worker.exit(), 0);
  });

  it('exits 4 when the hub refuses its token', async () => {
    const { hub: h } = await hub(['--token', 'right']);
    const worker = agent(h.port, ['--backend', 'echo', '--token', 'wrong']);
    assert.equal(await worker.exit(), 4);
    assert.match(worker.stderr(), /wrong token/);
  });

  it('works against a v0.1 hub: polls, acks the v0.1 way', async () => {
    const v01 = await startV01Hub();
    cleanups.push(() => v01.close());
    const worker = agent(v01.port, ['--backend', 'echo', '--worker-id', 'old-school']);
    v01.enqueue('first');
    v01.enqueue('second');
    await waitFor(() => v01.tasks.every((t) => t.status === 'done'), 'both tasks done on the v0.1 hub');
    assert.deepEqual(
      v01.tasks.map((t) => t.result),
      ['echo:first', 'echo:second'],
    );
    const leases = v01.requests.filter((r) => r.method === 'lease');
    assert.ok(leases.every((r) => r.params.worker_id === 'old-school'));
    assert.ok(!v01.requests.some((r) => r.method === 'extend' || r.method === 'release'));
    worker.kill('SIGTERM');
    assert.equal(await worker.exit(), 0);
  });

  it('with --once runs what one lease brings and exits', async () => {
    const { client, hub: h } = await hub();
    const ids = await client.enqueueMany(['a', 'b', 'c']);
    const worker = agent(h.port, ['--backend', 'echo', '--once', '--max-tasks', '2']);
    assert.equal(await worker.exit(), 0);
    const states = await Promise.all(ids.map(async (id) => (await client.get(id)).status));
    assert.deepEqual(states, ['done', 'done', 'queued']);
  });
  it("sends each run's cost with its ack: reported, estimated from the price table, unknown, or none", async () => {
    const { client, hub: h } = await hub();
    const home = join(dir, 'cost-home');
    /** One task run by a claude agent (the fake CLI) with `extra` in its environment. */
    const claudeRun = async (prompt: string, extra: NodeJS.ProcessEnv) => {
      const id = await client.enqueue({ prompt, backend: 'claude_code' });
      const worker = agent(
        h.port,
        ['--backend', 'claude_code', '--once'],
        fakeCliEnv('success', home, { ANTHROPIC_API_KEY: 'sk-ant-test', ...extra }),
      );
      const task = await finished(client, id);
      assert.equal(await worker.exit(), 0, worker.stderr());
      assert.equal(task.status, 'done', task.error ?? '');
      return task;
    };
    const reported = await claudeRun('reported', { FAKE_CLI_COST_USD: '0.0042' });
    assert.equal(reported.cost_usd, 0.0042);
    assert.equal(reported.cost_basis, 'reported');
    // No cost from the CLI: tokens of Claude Sonnet 4.5 at its list price (3 in, 15 out per MTok).
    const estimated = await claudeRun('estimated', {
      FAKE_CLI_COST_USD: 'none',
      FAKE_CLI_MODEL: 'claude-sonnet-4-5-20250929',
      FAKE_CLI_TOKENS: '1000,100',
    });
    assert.equal(estimated.cost_basis, 'estimated');
    assert.equal(estimated.cost_usd, 0.0045);
    const unknown = await claudeRun('unknown', { FAKE_CLI_COST_USD: 'none', FAKE_CLI_MODEL: 'claude-next' });
    assert.equal(unknown.cost_basis, 'unknown');
    assert.equal(unknown.cost_usd, null, 'an unknown cost is not 0');
    assert.equal(unknown.usage?.input_tokens, 7, 'its tokens are kept');
    // echo spends nothing measurable: no cost is sent at all.
    const id = await client.enqueue({ prompt: 'free', backend: 'echo' });
    const worker = agent(h.port, ['--backend', 'echo', '--once']);
    const echo = await finished(client, id);
    assert.equal(await worker.exit(), 0);
    assert.equal(echo.cost_basis, null);
    assert.equal(echo.cost_usd, null);
  });
  it('sends no cost to a v0.1 hub, which keeps none', async () => {
    const v01 = await startV01Hub();
    cleanups.push(() => v01.close());
    v01.enqueue('costly');
    const env = fakeCliEnv('success', join(dir, 'cost-home-v01'), { ANTHROPIC_API_KEY: 'sk-ant-test' });
    const worker = agent(v01.port, ['--backend', 'claude_code', '--once'], env);
    await waitFor(() => v01.tasks[0]!.status === 'done', 'the task done on the v0.1 hub');
    assert.equal(await worker.exit(), 0, worker.stderr());
    const ack = v01.requests.find((r) => r.method === 'ack')!;
    assert.equal((ack.params.usage as Record<string, unknown>).cost_usd, 0.0042, 'the CLI did report a cost');
    assert.equal('cost_usd' in ack.params, false);
    assert.equal('cost_basis' in ack.params, false);
  });
});

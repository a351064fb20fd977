/**
 * `mittelo swarm` against a real hub process: several agents share the work, Ctrl-C stops every
 * one of them and leaves no backend process behind, and bad specs are refused up front.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import { startCli } from '../helpers/cli-process.ts';
import { HANG_GUARD_MS, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { pidsRunning, signalPending } from '../helpers/processes.ts';
import { runCli } from '../helpers/run-cli.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('mittelo swarm', () => {
  it('runs several agents of several backends, and Ctrl-C stops them all with nothing left running', async () => {
    const hub = await startHubProcess();
    const client = new HubClient({ port: hub.port, reconnect: false });
    cleanups.push(
      () => hub.stop(),
      () => client.close(),
    );
    // A sleep length no other process on the machine uses, to find leftovers by command line.
    const marker = `${30 + Math.random()}`.slice(0, 12);
    const swarm = startCli([
      'swarm',
      '--port',
      String(hub.port),
      '--agent',
      'echo=2',
      '--agent',
      'shell=2',
      '--shell-cmd',
      `if [ "$(cat)" = sleep ]; then exec sleep ${marker}; fi; echo shell`,
    ]);
    cleanups.push(() => swarm.kill());
    await swarm.waitForStderr(/4 agents \(echo×2, shell×2\)/);
    await waitFor(
      async () => (await client.agents()).filter((a) => a.connected).length === 4,
      'four connected agents',
    );

    const ids = await client.enqueueMany(Array.from({ length: 40 }, (_, i) => `task ${i}`));
    const { tasks } = await client.wait(ids, { timeout_ms: HANG_GUARD_MS });
    assert.ok(tasks.every((t) => t.status === 'done'));
    const workers = new Set(tasks.map((t) => t.worker_id));
    assert.ok(workers.size >= 2, `the work was shared (workers: ${[...workers].join(', ')})`);

    // Two long tasks keep both shell agents busy when Ctrl-C arrives.
    const long = await client.enqueueMany([
      { prompt: 'sleep', backend: 'shell' },
      { prompt: 'sleep', backend: 'shell' },
    ]);
    await waitFor(() => pidsRunning(`sleep ${marker}`).length === 2, 'both long backends running');
    swarm.kill('SIGINT');
    // Two signals close together could reach the swarm as one: send the second once the first is taken.
    await waitFor(() => !signalPending(swarm.child.pid!, 'SIGINT'), 'the first SIGINT to be taken');
    swarm.kill('SIGINT'); // the second Ctrl-C: do not wait out the grace period
    // Bounded well below the 30 s grace period: exited by then, it did not wait the grace out.
    assert.equal(await swarm.exit(20_000), 0);
    assert.match(swarm.stderr(), /mittelo swarm: stopped \(\d+ done, 0 failed, 2 released\)/);
    assert.deepEqual(pidsRunning(`sleep ${marker}`), [], 'no backend process left behind');
    for (const id of long) assert.equal((await client.get(id)).status, 'queued');
    await waitFor(async () => (await client.agents()).every((a) => !a.connected), 'every agent disconnected');
  });

  const badSpecs: Array<[string[], RegExp]> = [
    [['--agent', 'echo=x'], /bad --agent "echo=x": the count must be a whole number/],
    [['--agent', '=2'], /bad --agent "=2": the backend name is missing/],
    [['--agent', 'echo'], /bad --agent "echo": use name=count/],
    [[], /no agents given: use name=count/],
    [['--agent', 'nope=1'], /unknown backend "nope"/],
  ];
  for (const [args, message] of badSpecs) {
    it(`refuses ${args.join(' ') || 'no --agent'} with exit 2 before connecting`, async () => {
      const ran = await runCli(['swarm', '--port', '1', ...args]);
      assert.equal(ran.code, 2, ran.stderr);
      assert.match(ran.stderr, message);
    });
  }
});

/**
 * Caps on leasing through a real hub process, real agents and the CLI: a hub started with
 * `--limit shell=1` and four shell agents never has two shell tasks leased at once (tracked from
 * the hub's own task events), and every task finishes; `mittelo limit` sets, shows and clears caps
 * at run time, `mittelo status` shows them, and REST serves the same.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClientEvent } from '../../src/client/hub-client.ts';
import { HubClient } from '../../src/client/hub-client.ts';
import { type CliProcess, startCli } from '../helpers/cli-process.ts';
import { type HubProcess, makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { type Ran, runCli } from '../helpers/run-cli.ts';

const ok = (ran: Ran): string => {
  assert.equal(ran.code, 0, `exit ${ran.code}; stderr: ${ran.stderr}`);
  return ran.stdout;
};

describe('caps on leasing through a real hub, agents and the CLI', () => {
  const dir = makeTempDir('mittelo-caps-');
  let hub: HubProcess;
  const agents: CliProcess[] = [];
  const clients: HubClient[] = [];
  const mittelo = (args: string[]) => runCli([...args, '--port', String(hub.port)], { cwd: dir });
  const connect = () => {
    const client = new HubClient({ port: hub.port, reconnect: false });
    clients.push(client);
    return client;
  };

  before(async () => {
    hub = await startHubProcess({ db: `${dir}/hub.db`, rest: true, args: ['--limit', 'shell=1'] });
  });
  after(async () => {
    for (const agent of agents) agent.kill('SIGTERM');
    for (const agent of agents) await agent.exit().catch(() => {});
    for (const client of clients) client.close();
    await hub.stop();
  });

  it('a cap of 1 on a backend with 4 agents never has 2 of its tasks leased at once; all finish', async () => {
    const watcher = connect();
    const held = new Set<number>();
    let most = 0;
    let finished = 0;
    watcher.on('event', (event: ClientEvent) => {
      if (!('task' in event)) return;
      if (event.event === 'task.leased') {
        held.add(event.task.task_id);
        most = Math.max(most, held.size);
      } else if (event.event !== 'task.enqueued') {
        held.delete(event.task.task_id);
        if (event.event === 'task.done' || event.event === 'task.failed') finished += 1;
      }
    });
    await watcher.subscribe(['task']);
    const n = 12;
    await watcher.enqueueMany(Array.from({ length: n }, (_, i) => ({ prompt: `t${i}`, backend: 'shell' })));
    for (let i = 0; i < 4; i += 1) {
      agents.push(
        startCli(
          [
            'agent',
            '--backend',
            'shell',
            '--shell-cmd',
            'sleep 0.05; cat',
            '--worker-id',
            `w${i}`,
            '--port',
            String(hub.port),
          ],
          { cwd: dir },
        ),
      );
    }
    await waitFor(() => finished === n, `all ${n} tasks finish (${finished} so far)`);
    assert.equal(most, 1, 'never two shell tasks leased at once');
    const stats = await watcher.stats();
    assert.equal(stats.done, n);
  });

  it('mittelo limit sets, lists and clears caps; status shows them; REST serves the same', async () => {
    assert.equal(
      ok(await mittelo(['limit', 'set', 'codex=3', '--rate', '20/min'])),
      'codex: cap 3, 20/min\n',
    );
    assert.equal(ok(await mittelo(['limit', 'set', 'codex', '--rate', 'off'])), 'codex: cap 3\n');
    assert.equal(ok(await mittelo(['limit', 'set', 'tag:gpu=1'])), 'tag:gpu: cap 1\n');
    const listed = ok(await mittelo(['limit']));
    assert.match(listed, /^limit: codex: 0\/3 leased \(cap 3\)$/m);
    assert.match(listed, /^limit: shell: 0\/1 leased \(cap 1\)$/m);
    assert.match(listed, /^limit: tag:gpu: 0\/1 leased \(cap 1\)$/m);
    assert.match(ok(await mittelo(['status'])), /^limit: codex: 0\/3 leased \(cap 3\)$/m);
    const response = await fetch(`${hub.restUrl}/limits`);
    const body = (await response.json()) as { limits: { scope: string }[] };
    assert.deepEqual(
      body.limits.map((cap) => cap.scope),
      ['codex', 'shell', 'tag:gpu'],
    );
    assert.equal(ok(await mittelo(['limit', 'clear', 'codex'])), 'codex: no cap now\n');
    assert.equal(ok(await mittelo(['limit', 'clear', 'codex'])), 'codex had no cap; nothing changed\n');

    const bad = await mittelo(['limit', 'set', 'codex=0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /the cap must be a whole number of tasks, 1 or more, got "0"/);
    const badRate = await mittelo(['limit', 'set', 'codex', '--rate', 'fast']);
    assert.equal(badRate.code, 2);
    assert.match(badRate.stderr, /"fast" is not a rate of 1 or more tasks per minute; write it as 20\/min/);
  });
});

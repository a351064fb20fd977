/**
 * A lease whose answer the transport could not deliver (the caller hung up between the lease and
 * its answer, or the line could not be written) goes back to the queue at once, instead of staying
 * with a worker that never heard of it until the lease runs out. The TCP server calls
 * `Hub.undelivered` when its send fails; this drives the Hub directly on a real SQLite file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type CallContext, Hub } from '../../src/hub/hub.ts';
import type { Task } from '../../src/protocol/model.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

describe('Hub.undelivered', () => {
  const root = mkdtempSync(join(tmpdir(), 'mittelo-undelivered-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('releases the tasks of an undelivered lease, attempt not counted, and leaves other answers alone', async () => {
    const store = new SqliteStore({ path: join(root, 'hub.db') });
    const hub = new Hub({ store, leaseSeconds: 600, maxPromptBytes: 1024 });
    const caller: CallContext = { authenticated: true, isAlive: () => true };
    try {
      await hub.call('enqueue_many', { tasks: [{ prompt: 'a' }, { prompt: 'b' }, { prompt: 'c' }] }, caller);
      const leased = (await hub.call('lease', { worker_id: 'gone', max_tasks: 2 }, caller)) as {
        tasks: Task[];
      };
      assert.equal(leased.tasks.length, 2);
      hub.undelivered('stats', { stats: {} }); // not a lease: nothing to give back
      hub.undelivered('lease', leased);
      const deadline = Date.now() + 60_000;
      let stats = await store.stats();
      while (stats.leased > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        stats = await store.stats();
      }
      assert.deepEqual(stats, { queued: 3, leased: 0, done: 0, failed: 0, canceled: 0 });
      for (const task of await store.get(leased.tasks.map((t) => t.task_id))) {
        assert.equal(task.attempts, 0, 'an undelivered lease is not an attempt');
        assert.match(task.error ?? '', /could not be delivered/);
      }
      const agents = (await hub.call('agents', {}, caller)) as {
        agents: { worker_id: string; current_tasks: number[] }[];
      };
      assert.deepEqual(agents.agents.find((a) => a.worker_id === 'gone')?.current_tasks ?? [], []);
    } finally {
      await store.close();
    }
  });
});

/**
 * `mittelo copy`: a queue carried from a SQLite file to PostgreSQL and back keeps every task as it
 * was (ids, statuses, results, attempts, times, leases); a non-empty target, a source a hub is
 * running on, and bad --from/--to values are refused with one line and nothing copied.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Task } from '../../src/protocol/model.ts';
import { openStore } from '../../src/store/open-store.ts';
import { makeTempDir, startHubProcess } from '../helpers/hub-process.ts';
import { testPostgres } from '../helpers/postgres.ts';
import { runCli } from '../helpers/run-cli.ts';

/** Every task of a store, oldest first, exactly as stored. */
async function everyTask(db: string): Promise<Task[]> {
  const store = await openStore(db, { log: () => {} });
  try {
    const tasks: Task[] = [];
    for (
      let page = await store.dump(0, 500);
      page.length > 0;
      page = await store.dump(page.at(-1)!.task_id, 500)
    ) {
      tasks.push(...page);
    }
    return tasks;
  } finally {
    await store.close();
  }
}

/** A SQLite queue with a task in every status, a retried one, a routed one and one still leased. */
async function makeSourceQueue(db: string): Promise<void> {
  const store = await openStore(db, { log: () => {} });
  try {
    await store.enqueue([
      { prompt: 'will be done', tags: ['gpu'], metadata: { pack: 'x' } },
      { prompt: 'will fail', max_attempts: 2 },
      { prompt: 'will be canceled' },
      { prompt: 'stays leased', backend: 'claude_code', priority: 5 },
      { prompt: 'stays queued', backend: 'codex' },
    ]);
    const lease = (backend?: string) =>
      store.lease({ worker_id: 'w1', max_tasks: 1, lease_seconds: 600, tags: ['gpu'], backend });
    const [done] = (await lease()).tasks;
    await store.ack({
      task_id: done!.task_id,
      lease_token: done!.lease_token,
      status: 'done',
      result: 'ok',
      usage: { tokens: 3 },
    });
    const [failing] = (await lease()).tasks;
    await store.ack({
      task_id: failing!.task_id,
      lease_token: failing!.lease_token,
      status: 'failed',
      error: 'boom',
      retryable: false,
    });
    await store.cancel(3);
    await lease('claude_code');
  } finally {
    await store.close();
  }
}

describe('mittelo copy', () => {
  let dir: string;
  let pgUrl: string;

  before(async () => {
    dir = makeTempDir('mittelo-copy-');
    pgUrl = await (await testPostgres()).createDatabase();
  });
  after(async () => (await testPostgres()).dropCreatedDatabases());

  it('carries a queue from SQLite to PostgreSQL and back, every task as it was', async () => {
    const source = join(dir, 'source.db');
    await makeSourceQueue(source);
    const original = await everyTask(source);
    assert.deepEqual(
      original.map((task) => task.status),
      ['done', 'failed', 'canceled', 'leased', 'queued'],
    );

    const there = await runCli(['copy', '--from', source, '--to', pgUrl]);
    assert.equal(there.code, 0, there.stderr);
    assert.match(
      there.stdout,
      /copied 5 task\(s\) .* queued 1 · leased 1 · done 1 · failed 1 · canceled 1 · total 5/,
    );
    assert.deepEqual(await everyTask(pgUrl), original);

    const back = join(dir, 'back.db');
    const home = await runCli(['copy', '--from', pgUrl, '--to', back]);
    assert.equal(home.code, 0, home.stderr);
    assert.deepEqual(await everyTask(back), original);

    // New tasks continue after the copied ids.
    const store = await openStore(back, { log: () => {} });
    try {
      const [next] = await store.enqueue([{ prompt: 'after the copy' }]);
      assert.equal(next!.task_id, 6);
    } finally {
      await store.close();
    }
  });

  it('refuses a target that already holds tasks, copying nothing', async () => {
    const source = join(dir, 'second.db');
    await makeSourceQueue(source);
    const target = join(dir, 'occupied.db');
    const occupied = await openStore(target, { log: () => {} });
    await occupied.enqueue([{ prompt: 'already here' }]);
    await occupied.close();

    const refused = await runCli(['copy', '--from', source, '--to', target]);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /already holds 1 task\(s\).*--allow-nonempty/);
    assert.equal((await everyTask(target)).length, 1);

    // Told to add to it: refused all the same when an id is in both, and nothing of it changes.
    const collides = await runCli(['copy', '--from', source, '--to', target, '--allow-nonempty']);
    assert.equal(collides.code, 4, collides.stderr);
    assert.match(collides.stderr, /task 1 already exists/);
    assert.equal((await everyTask(target)).length, 1);
  });

  it('refuses a source a hub is running on, and bad --from/--to values', async () => {
    const hub = await startHubProcess();
    try {
      const busy = await runCli(['copy', '--from', hub.db, '--to', join(dir, 'never.db')]);
      assert.notEqual(busy.code, 0);
      assert.match(busy.stderr, /another|in use|locked/i);
    } finally {
      await hub.stop();
    }
    const missingFlag = await runCli(['copy', '--from', join(dir, 'x.db')]);
    assert.equal(missingFlag.code, 2);
    assert.match(missingFlag.stderr, /--to/);
    const unreachable = await runCli([
      'copy',
      '--from',
      'postgres://nobody@127.0.0.1:1/none',
      '--to',
      join(dir, 'y.db'),
    ]);
    assert.equal(unreachable.code, 3, unreachable.stderr);
    assert.match(unreachable.stderr, /127\.0\.0\.1:1/);
  });
});

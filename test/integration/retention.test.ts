/**
 * Retention through a real hub process: `mittelo prune` (TCP), `POST /tasks/prune` (REST) and
 * `mittelo hub --keep-finished` (also from MITTELO_KEEP_FINISHED), on SQLite and on two hubs
 * sharing one PostgreSQL database. Bad durations and unfinished statuses are refused with one
 * line and nothing removed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { Stats } from '../../src/protocol/model.ts';
import { type HubProcess, makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { testPostgres } from '../helpers/postgres.ts';
import { callOnce } from '../helpers/raw-client.ts';
import { runCli } from '../helpers/run-cli.ts';

const hubs: HubProcess[] = [];
const clients: HubClient[] = [];
after(async () => {
  for (const client of clients) client.close();
  await Promise.allSettled(hubs.map((hub) => hub.stop()));
  const pg = await testPostgres().catch(() => null);
  await pg?.dropCreatedDatabases();
});

async function hub(
  options: Parameters<typeof startHubProcess>[0] = {},
): Promise<{ hub: HubProcess; client: HubClient }> {
  const started = await startHubProcess(options);
  hubs.push(started);
  const client = new HubClient({ port: started.port, reconnect: false });
  clients.push(client);
  await client.connect();
  return { hub: started, client };
}

/**
 * Fill the queue: 3 done, 2 failed, 1 canceled (finished now), then one leased and one queued
 * task (the queued one is the newest, so every finished task may be pruned).
 */
async function fill(client: HubClient): Promise<void> {
  const ids = await client.enqueueMany(Array.from({ length: 6 }, (_, i) => ({ prompt: `finished ${i}` })));
  const { tasks } = await client.call<{ tasks: { task_id: number; lease_token: string }[] }>('lease', {
    worker_id: 'w',
    max_tasks: 6,
  });
  assert.equal(tasks.length, 6);
  for (const [k, task] of tasks.entries()) {
    if (k === 5) await client.cancel(task.task_id);
    else
      await client.ack({
        task_id: task.task_id,
        lease_token: task.lease_token,
        status: k < 3 ? 'done' : 'failed',
      });
  }
  assert.equal(ids.length, 6);
  await client.enqueue({ prompt: 'leased', priority: 5 });
  await client.call('lease', { worker_id: 'holder', max_tasks: 1 });
  await client.enqueue('queued, the newest');
  assert.deepEqual(await client.stats(), { queued: 1, leased: 1, done: 3, failed: 2, canceled: 1 });
}

const at = (h: HubProcess) => ['--port', String(h.port)];

describe('mittelo prune', () => {
  it('removes finished tasks of the given statuses older than the duration, and says how many', async () => {
    const { hub: h, client } = await hub();
    await fill(client);

    const none = await runCli(['prune', '--older-than', '1h', ...at(h)]);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'removed 0 finished tasks (done, failed, canceled) older than 1h\n');

    const done = await runCli(['prune', '--older-than', '0s', '--status', 'done', ...at(h)]);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, 'removed 3 finished tasks (done) older than 0s\n');
    assert.deepEqual(await client.stats(), { queued: 1, leased: 1, done: 0, failed: 2, canceled: 1 });

    const json = await runCli([
      'prune',
      '--older-than',
      '0s',
      '--status',
      'failed,canceled',
      '--json',
      ...at(h),
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      removed: 3,
      older_than_s: 0,
      statuses: ['failed', 'canceled'],
    });
    assert.deepEqual(await client.stats(), { queued: 1, leased: 1, done: 0, failed: 0, canceled: 0 });
  });

  it('refuses unfinished statuses and bad durations with one line, exit 2, nothing removed', async () => {
    const { hub: h, client } = await hub();
    await fill(client);
    const before: Stats = await client.stats();
    for (const [args, message] of [
      [['--status', 'done,queued'], /--status queued: prune removes finished tasks only .*never pruned/],
      [['--status', 'leased'], /queued and leased tasks are work still to do/],
      [['--status', 'finished'], /"finished" is not a task status/],
    ] as const) {
      const ran = await runCli(['prune', '--older-than', '0s', ...args, ...at(h)]);
      assert.equal(ran.code, 2, ran.stderr);
      assert.match(ran.stderr, message);
      assert.equal(ran.stderr.trim().split('\n').length, 1, ran.stderr);
    }
    for (const duration of ['7', '1.5h', 'soon', '-1d', '']) {
      const ran = await runCli(['prune', '--older-than', duration, ...at(h)]);
      assert.equal(ran.code, 2, ran.stderr);
      assert.match(ran.stderr, /^mittelo: --older-than must be a duration: a whole number and a unit/);
    }
    const missing = await runCli(['prune', ...at(h)]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--older-than/);
    // The protocol refuses an unfinished status too, whoever asks.
    const raw = await callOnce(h.port, 'prune', { older_than_s: 0, statuses: ['done', 'queued'] });
    assert.equal(raw.error.code, 'bad_request');
    assert.match(raw.error.message, /never queued/);
    assert.deepEqual(await client.stats(), before);
  });

  it('over REST: POST /tasks/prune, 400 for a status that is not finished', async () => {
    const { hub: h, client } = await hub({ rest: true });
    await fill(client);
    const post = (body: unknown) =>
      fetch(`${h.restUrl}/tasks/prune`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const refused = await post({ older_than_s: 0, statuses: ['leased'] });
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { code: string }).code, 'bad_request');
    const noAge = await post({});
    assert.equal(noAge.status, 400);
    const answer = await post({ older_than_s: 0 });
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), {
      removed: 6,
      older_than_s: 0,
      statuses: ['done', 'failed', 'canceled'],
    });
    assert.deepEqual(await client.stats(), { queued: 1, leased: 1, done: 0, failed: 0, canceled: 0 });
    const openApi = (await (await fetch(`${h.restUrl}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    assert.ok(openApi.paths['/tasks/prune'], 'the OpenAPI document lists the route');
  });
});

describe('mittelo hub --keep-finished', () => {
  /** A database holding the finished tasks of `fill`, at least `ageS` old once this resolves. */
  async function oldFinishedTasks(db: string, ageS: number): Promise<void> {
    const { hub: h, client } = await hub({ db });
    await fill(client);
    const finishedAt = Date.now();
    client.close();
    await h.stop();
    await waitFor(() => Date.now() - finishedAt > ageS * 1000 + 100, `the tasks to be ${ageS} s old`);
  }

  it('prunes finished tasks older than the setting when it starts (flag or MITTELO_KEEP_FINISHED)', async () => {
    for (const setting of [{ args: ['--keep-finished', '1s'] }, { env: { MITTELO_KEEP_FINISHED: '1s' } }]) {
      const dir = makeTempDir('mittelo-retention-');
      const db = join(dir, 'hub.db');
      await oldFinishedTasks(db, 1);
      const { hub: h, client } = await hub({ db, dir, ...setting });
      await waitFor(async () => (await client.stats()).done === 0, 'the start-up prune');
      assert.deepEqual(await client.stats(), { queued: 1, leased: 1, done: 0, failed: 0, canceled: 0 });
      await waitFor(() => /pruned 6 finished task\(s\)/.test(h.stderr()), 'the prune to be logged');
    }
  });

  it('keeps what is younger than the setting, and refuses a bad duration before starting', async () => {
    const { client } = await hub({ args: ['--keep-finished', '2w'] });
    await fill(client);
    assert.deepEqual(await client.stats(), { queued: 1, leased: 1, done: 3, failed: 2, canceled: 1 });
    const bad = await runCli([
      'hub',
      '--port',
      '0',
      '--db',
      join(makeTempDir(), 'x.db'),
      '--keep-finished',
      '7',
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mittelo: --keep-finished must be a duration: .*got "7" \(add a unit\)\n$/);
  });

  it('two hubs on one PostgreSQL database pruning at start remove every old task once', async () => {
    const pg = await testPostgres();
    const url = await pg.createDatabase();
    await oldFinishedTasks(url, 1);
    const [a, b] = await Promise.all([
      hub({ db: url, args: ['--keep-finished', '1s'] }),
      hub({ db: url, args: ['--keep-finished', '1s'] }),
    ]);
    await waitFor(async () => (await a.client.stats()).done === 0, 'the start-up prunes');
    for (const { client } of [a, b]) {
      await waitFor(
        async () => (await client.stats()).failed + (await client.stats()).canceled === 0,
        'every old task to be gone',
      );
      assert.deepEqual(await client.stats(), { queued: 1, leased: 1, done: 0, failed: 0, canceled: 0 });
    }
    // Each hub logs what it removed: together, every task once.
    const logged = () =>
      [a, b].map(({ hub: h }) => Number(/pruned (\d+) finished/.exec(h.stderr())?.[1] ?? 0));
    await waitFor(() => logged()[0]! + logged()[1]! >= 6, 'both prunes to be logged');
    assert.equal(logged()[0]! + logged()[1]!, 6, `each task pruned once: ${logged().join(' + ')}`);
  });
});

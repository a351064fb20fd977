/**
 * No answer may grow without bound: `list {limit: 0}` and `lease {max_tasks: 520}` over tasks
 * with megabyte prompts used to build answers of hundreds of megabytes and crash the hub while
 * sending them (RangeError: Invalid string length), leaving the leases with a worker that never
 * got them. Now both stop at a byte budget, `list` says where to go on, and the CLI pages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HubProcess, startHubProcess } from '../helpers/hub-process.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { runCli } from '../helpers/run-cli.ts';

const LONG = 120_000; // a bound against hangs, never a timing assertion
const TASKS = 30;
const PROMPT_BYTES = 1024 * 1024;

describe('answers bounded by bytes', () => {
  let hub: HubProcess;
  let client: RawClient;

  before(async () => {
    hub = await startHubProcess({
      args: ['--max-prompt-bytes', String(2 * PROMPT_BYTES), '--max-line-bytes', String(3 * PROMPT_BYTES)],
    });
    client = await RawClient.connect(hub.port);
    for (let i = 0; i < TASKS; i++) {
      await client.result('enqueue', { prompt: `${i}:`.padEnd(PROMPT_BYTES, 'p') }, LONG);
    }
  });
  after(async () => {
    client?.close();
    await hub?.stop();
  });

  it('list {limit: 0} answers a page of at most the budget, says truncated, and paging reaches every task', async () => {
    const seen: number[] = [];
    let before: number | undefined;
    let pages = 0;
    for (;;) {
      const page = await client.result('list', { limit: 0, ...(before ? { before_id: before } : {}) }, LONG);
      pages += 1;
      assert.ok(page.tasks.length > 0 || seen.length === TASKS);
      assert.ok(page.tasks.length < TASKS, `one answer must not carry all ${TASKS} MiB`);
      seen.push(...page.tasks.map((task: { task_id: number }) => task.task_id));
      if (!page.truncated) break;
      assert.equal(page.next_before_id, page.tasks.at(-1).task_id);
      before = page.next_before_id;
      assert.ok(pages < TASKS, 'paging must end');
    }
    assert.equal(new Set(seen).size, TASKS);
    assert.ok(pages >= 3, `expected several pages, got ${pages}`);
  });

  it('mittelo status --limit 0 pages through all of them (table and --json)', async () => {
    const json = await runCli(['status', '--port', String(hub.port), '--limit', '0', '--json'], {
      timeoutMs: LONG,
    });
    assert.equal(json.code, 0, json.stderr);
    const answer = JSON.parse(json.stdout);
    assert.equal(answer.tasks.length, TASKS);
    assert.equal(answer.stats.queued, TASKS);
    const table = await runCli(['status', '--port', String(hub.port), '--limit', '0'], { timeoutMs: LONG });
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout.split('\n').filter((line) => /^\s*\d+\s+queued/.test(line)).length, TASKS);
    assert.doesNotMatch(table.stdout, /newest of/);
  });

  it('lease {max_tasks: 520} stops at the budget: the rest stay queued, the hub keeps serving', async () => {
    const leased = await client.result(
      'lease',
      { worker_id: 'big', max_tasks: 520, lease_seconds: 600 },
      LONG,
    );
    assert.ok(leased.tasks.length >= 1 && leased.tasks.length < TASKS, `got ${leased.tasks.length}`);
    const stats = (await client.result('stats', {}, LONG)).stats;
    assert.equal(stats.leased, leased.tasks.length, 'only what was answered is leased');
    assert.equal(stats.queued, TASKS - leased.tasks.length);
    for (const task of leased.tasks) {
      await client.result('release', { task_id: task.task_id, lease_token: task.lease_token }, LONG);
    }
  });
});

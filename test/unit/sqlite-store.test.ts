/**
 * SqliteStore: the Store contract on real database files in temp folders, then what only the
 * SQLite store promises: its file and folder, WAL, durability across reopening, upgrading a v0.1
 * file, refusing files it must not touch, and a lease query that stays on its index.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isMitteloError } from '../../src/errors.ts';
import type { Task } from '../../src/protocol/model.ts';
import { SCHEMA_VERSION } from '../../src/store/sqlite/migrations.ts';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.ts';
import { leaseTasks, storeContract } from '../store-contract.ts';

const contractRoot = mkdtempSync(join(tmpdir(), 'mittelo-store-contract-'));
let opened = 0;

storeContract(
  'SqliteStore',
  async ({ reopen, ...options }) =>
    new SqliteStore({
      path: reopen ? (reopen as SqliteStore).path : join(contractRoot, `store-${++opened}`, 'hub.db'),
      ...options,
    }),
  async () => rmSync(contractRoot, { recursive: true, force: true }),
);

describe('SqliteStore on disk', () => {
  let root: string;
  let counter = 0;
  /** A path in a folder that does not exist yet. */
  const freshPath = () => join(root, `case-${++counter}`, 'nested', 'hub.db');
  const open = (path: string, options: Partial<SqliteStoreOptions> = {}) =>
    new SqliteStore({ path, ...options });

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'mittelo-sqlite-store-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** The constructor must throw a MitteloError with this code and a message matching `pattern`. */
  function refusedToOpen(path: string, code: string, pattern: RegExp): void {
    assert.throws(
      () => open(path),
      (error: unknown) => {
        assert.ok(isMitteloError(error), `expected a MitteloError, got ${String(error)}`);
        assert.equal(error.code, code);
        assert.match(error.message, pattern);
        assert.ok(error.message.includes(path), `the message should name the file: ${error.message}`);
        return true;
      },
    );
  }

  it('creates the file and its folder, in WAL mode', async () => {
    const path = freshPath();
    assert.equal(existsSync(path), false);
    const store = open(path);
    assert.equal(store.path, path);
    assert.ok(existsSync(path));
    await store.enqueue([{ prompt: 'x' }]);
    await store.close();
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    } finally {
      check.close();
    }
  });

  it('keeps every task and lease across close and reopen', async () => {
    const path = freshPath();
    const clock = () => 1_700_000_000.5;
    const first = open(path, { now: clock, retry: { default_max_attempts: 2 } });
    const tasks = await first.enqueue([
      { prompt: 'done', metadata: { k: 'v' } },
      { prompt: 'failed', max_attempts: 1 },
      { prompt: 'requeued' },
      { prompt: 'held', backend: 'codex', tags: ['gpu'], priority: 3 },
      { prompt: 'queued' },
      { prompt: 'canceled' },
    ]);
    const [done, failed, requeued, held, , canceled] = tasks as Task[];
    const leased = await leaseTasks(first, {
      worker_id: 'w',
      backend: 'codex',
      tags: ['gpu'],
      max_tasks: 4,
      lease_seconds: 600,
    });
    const token = (task: Task) => leased.find((t) => t.task_id === task.task_id)!.lease_token;
    await first.ack({ task_id: done!.task_id, lease_token: token(done!), status: 'done', result: 'r' });
    await first.ack({ task_id: failed!.task_id, lease_token: token(failed!), status: 'failed', error: 'e' });
    await first.ack({ task_id: requeued!.task_id, lease_token: token(requeued!), status: 'failed' });
    await first.cancel(canceled!.task_id);
    const rows = await first.list({ limit: 0 });
    const stats = await first.stats();
    const wake = await first.nextWakeAt();
    await first.close();

    const second = open(path, { now: clock, retry: { default_max_attempts: 2 } });
    try {
      assert.deepEqual(await second.list({ limit: 0 }), rows);
      assert.deepEqual(await second.stats(), stats);
      assert.deepEqual(stats, { queued: 2, leased: 1, done: 1, failed: 1, canceled: 1 });
      assert.equal(await second.nextWakeAt(), wake);
      // The lease token was stored too: the holder can still finish its task after a hub restart.
      const { task } = await second.ack({
        task_id: held!.task_id,
        lease_token: token(held!),
        status: 'done',
        result: 'after restart',
      });
      assert.equal(task.status, 'done');
      const [next] = await second.enqueue([{ prompt: 'next' }]);
      assert.ok(next!.task_id > Math.max(...tasks.map((t) => t.task_id)));
    } finally {
      await second.close();
    }
  });

  it('commits writes still in the open batch when closed', async () => {
    const path = freshPath();
    const store = open(path);
    const pending = store.enqueue([{ prompt: 'a' }, { prompt: 'b' }]);
    await store.close();
    assert.equal((await pending).length, 2);
    const reopened = open(path);
    try {
      assert.deepEqual(
        (await reopened.list({ limit: 0 })).map((t) => t.prompt),
        ['b', 'a'],
      );
    } finally {
      await reopened.close();
    }
  });

  it('opens a v0.1 database file, upgrades it in place and keeps serving its tasks', async () => {
    const path = freshPath();
    const at = 1_700_000_000.125;
    makeV01Database(path, at);

    let now = at + 100;
    const store = open(path, { now: () => now });
    try {
      const rows = await store.list({ limit: 0 });
      assert.deepEqual(
        rows.map((t) => [t.task_id, t.prompt, t.status]),
        [
          [5, 'failed long ago', 'failed'],
          [4, 'done long ago', 'done'],
          [3, 'held by a dead agent', 'leased'],
          [2, 'second', 'queued'],
          [1, 'first', 'queued'],
        ],
      );
      const done = rows.find((t) => t.task_id === 4)!;
      assert.deepEqual(
        [done.created_at, done.updated_at, done.leased_until, done.worker_id, done.result, done.error],
        [at, at + 2, null, 'old-worker', 'the result', null],
      );
      assert.equal(done.attempts, 0);
      assert.equal(done.priority, 0);
      assert.deepEqual(done.tags, []);
      assert.equal(done.lease_token, null);
      assert.deepEqual(await store.stats(), { queued: 2, leased: 1, done: 1, failed: 1, canceled: 0 });

      // Oldest first across the queued tasks and the expired v0.1 lease.
      const leased = await leaseTasks(store, { worker_id: 'new', max_tasks: 3, lease_seconds: 60 });
      assert.deepEqual(
        leased.map((t) => t.task_id),
        [1, 2, 3],
      );
      assert.equal(leased[2]!.lease_expirations, 1);
      for (const task of leased) {
        const { task: acked } = await store.ack({ task_id: task.task_id, status: 'done', result: 'ok' });
        assert.equal(acked.status, 'done');
      }
      assert.equal(await store.retryFailed(), 1);
      now += 1;
      const [added] = await store.enqueue([{ prompt: 'new' }]);
      assert.equal(added!.task_id, 6);
      assert.deepEqual(await store.stats(), { queued: 2, leased: 0, done: 4, failed: 0, canceled: 0 });
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    } finally {
      check.close();
    }
  });

  it('refuses a file written by a newer Mittelö, and leaves it alone', async () => {
    const path = freshPath();
    await open(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    refusedToOpen(path, 'bad_request', /newer Mittelö/);
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
    } finally {
      check.close();
    }
  });

  it('refuses a second store on a file another hub has open, until that hub closes', async () => {
    const path = freshPath();
    const first = open(path);
    try {
      await first.enqueue([{ prompt: 'mine' }]);
      refusedToOpen(path, 'unavailable', /in use by another hub/);
      // The refused open must not disturb the hub that owns the file.
      assert.equal((await leaseTasks(first, { worker_id: 'w', max_tasks: 1, lease_seconds: 60 })).length, 1);
    } finally {
      await first.close();
    }
    const second = open(path);
    try {
      assert.deepEqual(await second.stats(), { queued: 0, leased: 1, done: 0, failed: 0, canceled: 0 });
    } finally {
      await second.close();
    }
  });

  it('refuses a file that is not a database, and leaves it alone', () => {
    const path = join(root, `case-${++counter}-notes.txt`);
    const text = 'these are my notes, not a database\n'.repeat(200);
    writeFileSync(path, text);
    refusedToOpen(path, 'bad_request', /is not a Mittelö database/);
    assert.equal(readFileSync(path, 'utf8'), text);
  });

  it('plans the lease and wake-up queries on their partial indexes, so finished rows never slow them', async () => {
    const path = freshPath();
    const store = open(path);
    await store.enqueue([{ prompt: 'ready' }, { prompt: 'routed', backend: 'codex' }]);
    // Builds (and caches) the lease statements whose SQL text is checked below.
    await leaseTasks(store, { worker_id: 'w', backend: 'codex', max_tasks: 10, lease_seconds: 60 });
    const internals = store as unknown as StoreInternals;
    const lease = internals.leaseStatements.get(10);
    assert.ok(lease, 'lease statements for max_tasks 10 should be cached');
    const queries = {
      ...lease,
      nextLeaseEnd: internals.sql.nextLeaseEnd,
      nextBackoffEnd: internals.sql.nextBackoffEnd,
    };
    await store.close();

    const db = new Database(path);
    try {
      // Many finished rows, as after a long run: the plan must not depend on scanning them.
      db.exec(`
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
        INSERT INTO tasks (prompt, status, created_at, updated_at, worker_id, result)
        SELECT 'old ' || i, 'done', 1, 1, 'w', 'r' FROM n;`);
      const leaseArgs = { now: 1e10, backend: 'codex', tags: '[]' };
      const plan = (statement: Database.Statement) =>
        (
          db
            .prepare(`EXPLAIN QUERY PLAN ${statement.source}`)
            .all(statement.source.includes('@') ? leaseArgs : 1e10) as {
            detail: string;
          }[]
        ).map((row) => row.detail);
      for (const [name, index, search] of [
        ['readyUnrouted', 'tasks_ready', /\(backend=\?\)/],
        ['readyRouted', 'tasks_ready', /\(backend=\?\)/],
        ['expired', 'tasks_leased', /\(leased_until<\?\)/],
        ['nextLeaseEnd', 'tasks_leased', /\(leased_until>\?\)/],
        ['nextBackoffEnd', 'tasks_delayed', /\(available_at>\?\)/],
      ] as const) {
        const steps = plan(queries[name]);
        const main = steps.find((detail) => /^SEARCH tasks\b/.test(detail));
        assert.ok(main, `${name}: the tasks table must be searched, not scanned: ${steps.join(' | ')}`);
        assert.match(main, new RegExp(`USING (COVERING )?INDEX ${index}\\b`), name);
        assert.match(main, search, name);
        if (name === 'readyUnrouted' || name === 'readyRouted') {
          // The index hands rows over in lease order, so LIMIT stops after the first few.
          assert.ok(!steps.some((detail) => detail.includes('TEMP B-TREE')), `${name}: ${steps.join(' | ')}`);
        }
      }
    } finally {
      db.close();
    }

    const reopened = open(path);
    try {
      const [task] = await reopened.enqueue([{ prompt: 'after 50,000 finished rows' }]);
      const leased = await leaseTasks(reopened, { worker_id: 'w', max_tasks: 1, lease_seconds: 60 });
      assert.deepEqual(
        leased.map((t) => t.task_id),
        [task!.task_id],
      );
    } finally {
      await reopened.close();
    }
  });
});

/** Statements SqliteStore keeps private; read here so the plans checked are of the real SQL. */
interface StoreInternals {
  leaseStatements: Map<number, Record<'readyUnrouted' | 'readyRouted' | 'expired', Database.Statement>>;
  sql: Record<'nextLeaseEnd' | 'nextBackoffEnd', Database.Statement>;
}

/** A database file exactly as the Python v0.1 hub left it: its table, its rows, user_version 0. */
function makeV01Database(path: string, at: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS tasks (
        task_id INTEGER PRIMARY KEY AUTOINCREMENT,
        prompt TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        leased_until REAL,
        worker_id TEXT,
        result TEXT,
        error TEXT
      )`);
    const insert = db.prepare(
      `INSERT INTO tasks (prompt, status, created_at, updated_at, leased_until, worker_id, result, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    insert.run('first', 'queued', at, at, null, null, null, null);
    insert.run('second', 'queued', at, at, null, null, null, null);
    insert.run('held by a dead agent', 'leased', at, at + 1, at + 61, 'dead-worker', null, null);
    insert.run('done long ago', 'done', at, at + 2, null, 'old-worker', 'the result', null);
    insert.run('failed long ago', 'failed', at, at + 3, null, 'old-worker', null, 'it broke');
    assert.equal(db.pragma('user_version', { simple: true }), 0);
  } finally {
    db.close();
  }
}

/**
 * PostgresStore on a real PostgreSQL server (test/helpers/postgres.ts: npm test's shared throwaway
 * cluster, or one of this file's own): the Store contract, each store on a fresh database; the
 * shared-database contract with two stores on one database; then what only this store promises:
 * migrations that are idempotent and safe when hubs start together, refusing bad input at open
 * with one clear line and nothing written, the database's clock, database failures answered as
 * errors (never success), the fleet channel coming back after it is cut, and lease plans that stay
 * on their indexes beside many finished rows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { isMitteloError, type MitteloError } from '../../src/errors.ts';
import { SCHEMA_VERSION } from '../../src/store/postgres/migrations.ts';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.ts';
import { unusedPort } from '../helpers/ports.ts';
import { dropCreatedDatabases, type TestPostgres, testPostgres } from '../helpers/postgres.ts';
import { leaseTasks, storeContract } from '../store-contract.ts';
import { sharedStoreContract } from '../store-contract-shared.ts';

/** Every store a test opens is closed by it; this closes the ones a failing test left open. */
const opened = new Set<PostgresStore>();
async function openStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const store = await PostgresStore.open({ log: () => {}, ...options });
  opened.add(store);
  return store;
}
async function closeAll(): Promise<void> {
  await Promise.allSettled([...opened].map((store) => store.close()));
  opened.clear();
}

/** The database each contract store was opened on, so the suite can open it again. */
const contractUrls = new WeakMap<object, string>();

storeContract(
  'PostgresStore',
  async ({ reopen, ...options }) => {
    const url = (reopen && contractUrls.get(reopen)) || (await (await testPostgres()).createDatabase());
    const store = await openStore({ url, ...options });
    contractUrls.set(store, url);
    return store;
  },
  async () => {
    await closeAll();
    await dropCreatedDatabases();
  },
);

sharedStoreContract(
  'PostgresStore',
  async (options) => {
    const url = await (await testPostgres()).createDatabase();
    const a = await openStore({ url, ...options });
    const b = await openStore({ url, ...options });
    return [a, b];
  },
  async () => {
    await closeAll();
    await dropCreatedDatabases();
  },
);

/** A query as the database's superuser, on one connection that is closed again. */
async function admin<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** The open must be refused with this code and a message matching `pattern`. */
async function refusedToOpen(
  options: PostgresStoreOptions,
  code: string,
  pattern: RegExp,
): Promise<MitteloError> {
  let caught: unknown;
  try {
    const store = await openStore(options);
    await store.close();
  } catch (error) {
    caught = error;
  }
  assert.ok(isMitteloError(caught), `expected a MitteloError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes('\n'), `one line: ${caught.message}`);
  return caught;
}

/** Tables in a schema (nothing written means this did not change). */
async function tablesOf(url: string, schema: string): Promise<string[]> {
  const rows = await admin<{ relname: string }>(
    url,
    `SELECT c.relname::text AS relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`,
    [schema],
  );
  return rows.map((row) => row.relname);
}

describe('PostgresStore on a PostgreSQL server', () => {
  let server: TestPostgres;
  before(async () => {
    server = await testPostgres();
  });
  after(async () => {
    await closeAll();
    await dropCreatedDatabases();
  });

  describe('migrations', () => {
    it('creates its schema and version table once; opening again changes nothing', async () => {
      const url = await server.createDatabase();
      const first = await openStore({ url });
      await first.enqueue([{ prompt: 'kept' }]);
      await first.close();
      const versions = await admin(url, 'SELECT version, description FROM mittelo.schema_version');
      assert.equal(versions.length, SCHEMA_VERSION);
      assert.deepEqual(await tablesOf(url, 'mittelo'), [
        'budgets',
        'caps',
        'hub_agents',
        'lease_starts',
        'pauses',
        'schema_version',
        'spend',
        'status_counts',
        'tasks',
      ]);
      const second = await openStore({ url });
      try {
        assert.deepEqual(
          await admin(url, 'SELECT version, description FROM mittelo.schema_version'),
          versions,
        );
        assert.deepEqual(
          (await second.list({ limit: 0 })).map((t) => t.prompt),
          ['kept'],
        );
        assert.deepEqual(await second.stats(), { queued: 1, leased: 0, done: 0, failed: 0, canceled: 0 });
      } finally {
        await second.close();
      }
    });

    it('hubs opening a fresh database at the same moment migrate it once, and both work', async () => {
      const url = await server.createDatabase();
      const stores = await Promise.all([1, 2, 3, 4].map(() => openStore({ url })));
      try {
        const versions = await admin<{ version: number }>(url, 'SELECT version FROM mittelo.schema_version');
        assert.deepEqual(
          versions.map((row) => row.version),
          Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
        );
        const created = await Promise.all(stores.map((store, i) => store.enqueue([{ prompt: `from ${i}` }])));
        assert.equal(new Set(created.flat().map((t) => t.task_id)).size, 4);
        assert.deepEqual((await stores[0]!.stats()).queued, 4);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });

    it('keeps separate stores in separate schemas of one database', async () => {
      const url = await server.createDatabase();
      const a = await openStore({ url, schema: 'team_a' });
      const b = await openStore({ url, schema: 'team_b' });
      try {
        await a.enqueue([{ prompt: 'for a' }]);
        assert.deepEqual(await b.list({ limit: 0 }), []);
        assert.deepEqual(
          (await a.list({ limit: 0 })).map((t) => t.prompt),
          ['for a'],
        );
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
      await refusedToOpen({ url, schema: 'Bad-Name' }, 'bad_request', /not a plain lowercase identifier/);
    });
  });

  describe('refuses bad input at open, with one line and nothing written', () => {
    it('a server that is not answering: unavailable, naming host:port', async () => {
      const port = await unusedPort();
      await refusedToOpen(
        { url: `postgres://mittelo@127.0.0.1:${port}/somedb` },
        'unavailable',
        new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port}/somedb is not answering.*start the server`),
      );
    });

    it('a server that does not answer in time: unavailable, within the connect timeout', async () => {
      // A listener that accepts and never speaks: the connection opens, the server never answers.
      const silent = net.createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as net.AddressInfo;
      try {
        const started = Date.now();
        await refusedToOpen(
          { url: `postgres://mittelo@127.0.0.1:${port}/somedb`, connectTimeoutMs: 300 },
          'unavailable',
          new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port}/somedb did not answer within`),
        );
        assert.ok(Date.now() - started < 5000);
      } finally {
        silent.close();
      }
    });

    it('a malformed URL: bad_request with the expected shape, never the password', async () => {
      for (const url of [
        'not a url',
        'postgres//host/db',
        'http://host/db',
        'postgres://host:5432',
        'mysql://u:p@h/d',
      ]) {
        await refusedToOpen(
          { url },
          'bad_request',
          /expected postgres:\/\/user\[:password\]@host\[:port\]\/database/,
        );
      }
      const error = await refusedToOpen(
        { url: 'postgres://me:hunter2@host:99999/db' },
        'bad_request',
        /is not a PostgreSQL URL/,
      );
      assert.ok(!error.message.includes('hunter2'), error.message);
    });

    it('a database that does not exist: bad_request saying how to create it', async () => {
      const name = `mittelo_missing_${process.pid}`;
      await refusedToOpen(
        { url: server.url(name) },
        'bad_request',
        new RegExp(`"${name}" does not exist.*createdb .*${name}`),
      );
      const found = await admin(server.adminUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      assert.deepEqual(found, [], 'no database was created');
    });

    it('a login the server refuses: bad_request naming the user', async () => {
      const url = await server.createDatabase();
      const withUser = url.replace(/\/\/[^@]*@/, '//nobody_here@');
      await refusedToOpen({ url: withUser }, 'bad_request', /does not let user "nobody_here" in/);
      const password = await refusedToOpen(
        { url: withUser.replace('nobody_here@', 'nobody_here:s3cret@') },
        'bad_request',
        /nobody_here/,
      );
      assert.ok(!password.message.includes('s3cret'));
    });

    it('a schema that belongs to something else: bad_request, and its tables are left alone', async () => {
      const url = await server.createDatabase();
      await admin(
        url,
        `CREATE SCHEMA mittelo; CREATE TABLE mittelo.accounts (id int PRIMARY KEY, owner text);
         INSERT INTO mittelo.accounts VALUES (1, 'someone else')`,
      );
      await refusedToOpen({ url }, 'bad_request', /schema "mittelo" in .* is not a Mittelö store.*accounts/);
      assert.deepEqual(await tablesOf(url, 'mittelo'), ['accounts']);
      assert.deepEqual(await admin(url, 'SELECT * FROM mittelo.accounts'), [
        { id: 1, owner: 'someone else' },
      ]);
      // An empty schema (made for the hub by an administrator) is taken.
      await admin(url, 'CREATE SCHEMA hubq');
      const store = await openStore({ url, schema: 'hubq' });
      await store.close();
      assert.ok((await tablesOf(url, 'hubq')).includes('tasks'));
    });

    it('a schema written by a newer Mittelö: bad_request saying to upgrade, nothing changed', async () => {
      const url = await server.createDatabase();
      const store = await openStore({ url });
      await store.enqueue([{ prompt: 'from the future' }]);
      await store.close();
      await admin(url, `INSERT INTO mittelo.schema_version (version, description) VALUES ($1, 'future')`, [
        SCHEMA_VERSION + 1,
      ]);
      const before = await admin(url, 'SELECT * FROM mittelo.tasks');
      await refusedToOpen({ url }, 'bad_request', /written by a newer Mittelö.*[Uu]pgrade mittelo/);
      assert.deepEqual(await admin(url, 'SELECT * FROM mittelo.tasks'), before);
      assert.equal((await admin(url, 'SELECT * FROM mittelo.schema_version')).length, SCHEMA_VERSION + 1);
    });
  });

  describe("the database's clock", () => {
    it('stamps and compares times with the server clock when no clock is injected', async () => {
      const url = await server.createDatabase();
      const store = await openStore({ url });
      try {
        const clock = async () =>
          (await admin<{ t: number }>(url, 'SELECT extract(epoch from clock_timestamp())::float8 AS t'))[0]!
            .t;
        const start = await clock();
        const [task] = await store.enqueue([{ prompt: 'now' }]);
        const [held] = await leaseTasks(store, { worker_id: 'w', max_tasks: 1, lease_seconds: 30 });
        const end = await clock();
        assert.ok(
          task!.created_at >= start && task!.created_at <= end,
          `${task!.created_at} in [${start}, ${end}]`,
        );
        assert.ok(held!.updated_at >= task!.created_at && held!.updated_at <= end);
        assert.equal(held!.leased_until, held!.updated_at + 30);
        assert.ok(Math.abs(task!.created_at - Date.now() / 1000) < 60, 'Unix seconds');
        const wake = await store.nextWakeAt();
        assert.equal(wake, held!.leased_until);
        // A lease ran out by the server's clock, not ours: 1 s leases, then wait past them.
        await store.extend({ task_id: held!.task_id, lease_token: held!.lease_token, lease_seconds: 0.2 });
        await new Promise((resolve) => setTimeout(resolve, 400));
        const [again] = await leaseTasks(store, { worker_id: 'v', max_tasks: 1, lease_seconds: 30 });
        assert.equal(again?.task_id, task!.task_id);
        assert.equal(again!.lease_expirations, 1);
      } finally {
        await store.close();
      }
    });
  });

  describe('database failures', () => {
    /** Close the store's connections from the server side (the admin's own is spared). */
    async function cutConnections(url: string): Promise<void> {
      const database = new URL(url).pathname.slice(1);
      await admin(
        server.adminUrl,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [database],
      );
    }

    it('a server that refuses connections: writes and reads answer unavailable, then work again', async () => {
      const url = await server.createDatabase();
      const database = new URL(url).pathname.slice(1);
      const store = await openStore({ url, fleet: false });
      try {
        await store.enqueue([{ prompt: 'before' }]);
        await admin(server.adminUrl, `ALTER DATABASE "${database}" ALLOW_CONNECTIONS false`);
        await cutConnections(url);
        const refusedCall = async (call: Promise<unknown>) => {
          await assert.rejects(call, (error: unknown) => {
            assert.ok(isMitteloError(error), String(error));
            assert.equal(error.code, 'unavailable', error.message);
            assert.ok(error.message.includes(store.where), error.message);
            return true;
          });
        };
        await refusedCall(store.enqueue([{ prompt: 'refused' }]));
        await refusedCall(store.stats());
        await refusedCall(leaseTasks(store, { worker_id: 'w', max_tasks: 1, lease_seconds: 30 }));
        await refusedCall(store.ack({ task_id: 1, status: 'done' }));
        await admin(server.adminUrl, `ALTER DATABASE "${database}" ALLOW_CONNECTIONS true`);
        const [after] = await store.enqueue([{ prompt: 'after' }]);
        assert.ok(after);
        assert.deepEqual(
          (await store.list({ limit: 0 })).map((t) => t.prompt),
          ['after', 'before'],
        );
      } finally {
        await admin(server.adminUrl, `ALTER DATABASE "${database}" ALLOW_CONNECTIONS true`).catch(() => {});
        await store.close();
      }
    });

    it('a read-only server: writes answer storage_error and store nothing; reads go on', async () => {
      const url = await server.createDatabase();
      const database = new URL(url).pathname.slice(1);
      const store = await openStore({ url, fleet: false });
      try {
        const [task] = await store.enqueue([{ prompt: 'before' }]);
        await admin(server.adminUrl, `ALTER DATABASE "${database}" SET default_transaction_read_only = on`);
        await cutConnections(url);
        const before = await store.list({ limit: 0 });
        for (const call of [
          () => store.enqueue([{ prompt: 'refused' }]),
          () => leaseTasks(store, { worker_id: 'w', max_tasks: 1, lease_seconds: 30 }),
          () => store.cancel(task!.task_id),
          () => store.retryFailed(),
        ]) {
          await assert.rejects(call(), (error: unknown) => {
            assert.ok(isMitteloError(error), String(error));
            assert.equal(error.code, 'storage_error', error.message);
            assert.match(error.message, /is read-only/);
            assert.ok(error.message.includes(store.where));
            return true;
          });
        }
        assert.deepEqual(await store.list({ limit: 0 }), before);
        assert.deepEqual(await store.stats(), { queued: 1, leased: 0, done: 0, failed: 0, canceled: 0 });
        await admin(server.adminUrl, `ALTER DATABASE "${database}" RESET default_transaction_read_only`);
        await cutConnections(url);
        assert.equal((await store.cancel(task!.task_id)).status, 'canceled');
      } finally {
        await store.close();
      }
    });

    it('a connection lost while a write waits for its answer: unavailable, never success', async () => {
      const url = await server.createDatabase();
      const store = await openStore({ url, fleet: false });
      const locker = new pg.Client({ connectionString: url });
      await locker.connect();
      try {
        const [task] = await store.enqueue([{ prompt: 'held' }]);
        const [held] = await leaseTasks(store, { worker_id: 'w', max_tasks: 1, lease_seconds: 60 });
        const lostWrites = [
          () => store.enqueue([{ prompt: 'in flight' }]),
          () =>
            store.ack({
              task_id: task!.task_id,
              lease_token: held!.lease_token,
              status: 'done',
              result: 'r',
            }),
        ];
        for (const write of lostWrites) {
          // Hold the table, so the write waits inside the server; then cut its connection.
          await locker.query('BEGIN');
          await locker.query('LOCK TABLE mittelo.tasks IN ACCESS EXCLUSIVE MODE');
          const pending = write();
          pending.catch(() => {});
          const database = new URL(url).pathname.slice(1);
          let waiting: { pid: number }[] = [];
          const deadline = Date.now() + 10_000;
          while (waiting.length === 0 && Date.now() < deadline) {
            waiting = await admin<{ pid: number }>(
              server.adminUrl,
              `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
              [database],
            );
          }
          assert.equal(waiting.length, 1, 'the write should be waiting for the lock');
          await admin(server.adminUrl, 'SELECT pg_terminate_backend($1)', [waiting[0]!.pid]);
          await assert.rejects(pending, (error: unknown) => {
            assert.ok(isMitteloError(error), String(error));
            assert.equal(error.code, 'unavailable', error.message);
            assert.match(
              error.message,
              /was lost before it confirmed this write.*may or may not have been stored/,
            );
            assert.ok(error.message.includes(store.where));
            return true;
          });
          await locker.query('ROLLBACK');
        }
        // Neither was stored (the server rolled them back), and the store goes on with new connections.
        assert.deepEqual(
          (await store.list({ limit: 0 })).map((t) => [t.prompt, t.status]),
          [['held', 'leased']],
        );
        const { task: done } = await store.ack({
          task_id: task!.task_id,
          lease_token: held!.lease_token,
          status: 'done',
        });
        assert.equal(done.status, 'done');
      } finally {
        await locker.end().catch(() => {});
        await store.close();
      }
    });

    it('a full disk: storage_full, nothing of a refused write stored; works again once there is room', async (t) => {
      const full = await smallTablespace(t);
      if (!full) return;
      const url = await server.createDatabase();
      const store = await openStore({ url, fleet: false });
      try {
        await admin(
          url,
          `ALTER TABLE mittelo.tasks SET TABLESPACE ${full.name};
           ALTER INDEX ALL IN TABLESPACE pg_default SET TABLESPACE ${full.name}`,
        );
        // Incompressible prompts of ~64 KiB from 8 callers at once, until the disk is full.
        const prompt = (i: number) => `${i} ${randomBytes(48 * 1024).toString('base64')}`;
        const stored: number[] = [];
        let refusedFull = 0;
        for (let round = 0; round < 200 && refusedFull === 0; round++) {
          const results = await Promise.allSettled(
            Array.from({ length: 8 }, (_, i) => store.enqueue([{ prompt: prompt(round * 8 + i) }])),
          );
          for (const result of results) {
            if (result.status === 'fulfilled') stored.push(result.value[0]!.task_id);
            else {
              const error = result.reason as MitteloError;
              assert.equal(error.code, 'storage_full', error.message);
              assert.match(error.message, /out of disk space.*nothing of this request was stored/);
              assert.ok(error.message.includes(store.where));
              refusedFull += 1;
            }
          }
        }
        assert.ok(refusedFull > 0, 'the disk should have filled up');
        const listed = await store.list({ limit: 0 });
        assert.deepEqual(
          listed.map((task) => task.task_id).sort((a, b) => a - b),
          stored.sort((a, b) => a - b),
          'every answered task is stored, and no refused one',
        );
        assert.equal((await store.stats()).queued, stored.length);
        // Reads go on; once there is room, writes work again on the same store.
        await full.grow();
        const [after] = await store.enqueue([{ prompt: 'after' }]);
        assert.ok(after);
        assert.equal((await store.stats()).queued, stored.length + 1);
      } finally {
        await store.close();
        await server.dropDatabase(url);
        await full.remove();
      }
    });

    it('a prompt PostgreSQL cannot store (NUL) is refused alone; the others of its batch are stored', async () => {
      const url = await server.createDatabase();
      const store = await openStore({ url, fleet: false });
      try {
        const results = await Promise.allSettled([
          store.enqueue([{ prompt: 'fine' }]),
          store.enqueue([{ prompt: 'nul \u0000 inside' }]),
          store.enqueue([{ prompt: 'also fine' }]),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        const reason = (results[1] as PromiseRejectedResult).reason as MitteloError;
        assert.equal(reason.code, 'bad_request');
        assert.match(reason.message, /NUL/);
        assert.deepEqual(await store.stats(), { queued: 2, leased: 0, done: 0, failed: 0, canceled: 0 });
      } finally {
        await store.close();
      }
    });
  });

  describe('fleet', () => {
    it('comes back after its channel is cut, tells the hub, and delivers again', async () => {
      const url = await server.createDatabase();
      const a = await openStore({ url });
      const b = await openStore({ url });
      try {
        const reconnected: number[] = [];
        b.fleet!.onReconnect(() => reconnected.push(Date.now()));
        const heard: unknown[] = [];
        b.fleet!.onMessage((message) => heard.push(message));
        const database = new URL(url).pathname.slice(1);
        await admin(
          server.adminUrl,
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = $1 AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
          [database],
        );
        await until(() => reconnected.length >= 1 && b.fleet!.listening, 'b reconnects');
        a.fleet!.publish({ kind: 'work' });
        await until(() => heard.length >= 1, 'b hears a after the reconnect');
        assert.deepEqual(heard, [{ kind: 'work' }]);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });

  describe('query plans', () => {
    it('leases, wakes and counts from partial indexes beside 200,000 finished rows', async () => {
      const url = await server.createDatabase();
      const store = await openStore({ url, fleet: false });
      await store.enqueue([{ prompt: 'ready' }, { prompt: 'routed', backend: 'codex' }]);
      await admin(
        url,
        `INSERT INTO mittelo.tasks (prompt, status, created_at, updated_at, worker_id, result)
         SELECT 'old ' || i, 'done', 1, 1, 'w', 'r' FROM generate_series(1, 200000) AS i;
         ANALYZE mittelo.tasks`,
      );
      try {
        const internals = store as unknown as { sql: Record<string, Record<string, { text: string }>> };
        const literal = (value: unknown) => (value === null ? 'NULL' : pg.escapeLiteral(String(value)));
        /** The plan the store's prepared statement gets once PostgreSQL settles on a generic one. */
        const plan = async (text: string, values: unknown[]) => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          try {
            await client.query('SET plan_cache_mode = force_generic_plan');
            await client.query({ name: 'p', text, values });
            const args = values.length ? `(${values.map(literal).join(', ')})` : '';
            const explained = await client.query(`EXPLAIN EXECUTE p${args}`);
            return explained.rows.map((row) => row['QUERY PLAN'] as string).join('\n');
          } finally {
            await client.end();
          }
        };
        const pick = internals.sql.lease!.pick!.text;
        // The tasks are read from their indexes only. (The pauses table holds a row per paused
        // backend at most: scanning it is the right plan.)
        const leasePlan = await plan(pick, [null, 'codex', '{}', 5, '{}']);
        assert.doesNotMatch(leasePlan, /Seq Scan on tasks/, leasePlan);
        for (const index of ['tasks_unrouted', 'tasks_ready', 'tasks_leased'])
          assert.match(leasePlan, new RegExp(index), leasePlan);
        const wakePlan = await plan(internals.sql.reads!.nextWakeAt!.text, [1e10]);
        assert.doesNotMatch(wakePlan, /Seq Scan on tasks/, wakePlan);
        const countPlan = await plan(internals.sql.reads!.queuedByBackend!.text, []);
        assert.doesNotMatch(countPlan, /Seq Scan/, countPlan);
        const leased = await leaseTasks(store, {
          worker_id: 'w',
          backend: 'codex',
          max_tasks: 5,
          lease_seconds: 60,
        });
        assert.deepEqual(leased.map((t) => t.prompt).sort(), ['ready', 'routed']);
      } finally {
        await store.close();
      }
    });
  });
});

/**
 * A tablespace on a 4 MiB tmpfs, owned by the server's user, for a real "no space left on device"
 * (SQLSTATE 53100). Needs root (mount) and a server on this machine; the test skips otherwise.
 */
async function smallTablespace(
  t: TestContext,
): Promise<{ name: string; grow: () => Promise<void>; remove: () => Promise<void> } | null> {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to mount a small tmpfs');
    return null;
  }
  const server = await testPostgres();
  const [setting] = await admin<{ dir: string }>(
    server.adminUrl,
    `SELECT current_setting('data_directory') AS dir`,
  );
  let owner: { uid: number; gid: number };
  try {
    owner = statSync(setting!.dir);
  } catch {
    t.skip('the PostgreSQL server is not on this machine');
    return null;
  }
  const mountPoint = mkdtempSync(join(tmpdir(), 'mittelo-pg-full-'));
  chmodSync(mountPoint, 0o755);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], {
    encoding: 'utf8',
  });
  if (mounted.status !== 0) {
    rmSync(mountPoint, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs here: ${(mounted.stderr || mounted.error?.message || '').trim()}`);
    return null;
  }
  const location = join(mountPoint, 'space');
  mkdirSync(location);
  chownSync(location, owner.uid, owner.gid);
  const name = `mittelo_full_${process.pid}`;
  await admin(server.adminUrl, `CREATE TABLESPACE ${name} LOCATION '${location}'`);
  return {
    name,
    grow: async () => {
      spawnSync('mount', ['-o', 'remount,size=64m', mountPoint]);
    },
    remove: async () => {
      await admin(server.adminUrl, `DROP TABLESPACE IF EXISTS ${name}`).catch(() => {});
      spawnSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    },
  };
}

/** Poll a condition (every 20 ms, at most 10 s). */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

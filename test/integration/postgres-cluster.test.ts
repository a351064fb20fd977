/**
 * The throwaway PostgreSQL of test/helpers/postgres.ts: fresh databases that are really separate,
 * a cluster that is gone (folder and server) once stopped, and one clear line when the server
 * binaries are missing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { NOT_FOUND } from '../../scripts/postgres-server.mjs';
import { HANG_GUARD_MS, REPO_ROOT } from '../helpers/hub-process.ts';
import { dropCreatedDatabases, startPostgres, testPostgres } from '../helpers/postgres.ts';

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('throwaway PostgreSQL for tests', () => {
  after(() => dropCreatedDatabases());

  it('creates distinct databases that take connections and queries', async () => {
    const server = await testPostgres();
    const first = await server.createDatabase();
    const second = await server.createDatabase();
    assert.notEqual(first, second);
    await query(first, 'create table only_here (n int); insert into only_here values (42)');
    assert.deepEqual((await query(first, 'select n from only_here')).rows, [{ n: 42 }]);
    const elsewhere = await query(second, "select to_regclass('only_here') as found");
    assert.equal(elsewhere.rows[0].found, null);
    assert.equal(
      (await query(second, 'select current_database() as db')).rows[0].db,
      new URL(second).pathname.slice(1),
    );
  });

  it('stops: the server refuses connections and its folder is gone', async () => {
    const cluster = await startPostgres();
    const url = await cluster.createDatabase();
    assert.equal((await query(url, 'select 1 as one')).rows[0].one, 1);
    assert.ok(existsSync(cluster.dir));
    await cluster.stop();
    assert.equal(existsSync(cluster.dir), false);
    // stop() resolves once the server process has exited: nothing listens on its port any more.
    await assert.rejects(query(url, 'select 1'), /ECONNREFUSED|terminat|connect/i);
  });

  it('says what to install, in one line, when the server binaries are missing', async () => {
    const script = join(REPO_ROOT, 'test', 'helpers', 'postgres.ts');
    const code = `import(${JSON.stringify(script)}).then((m) => m.testPostgres()).then(() => console.log('started'), (e) => console.log(e.stack))`;
    const env: NodeJS.ProcessEnv = { ...process.env, MITTELO_PG_BINDIR: '/nonexistent' };
    delete env.MITTELO_TEST_PG_URL;
    delete env.MITTELO_TEST_PG_ERROR;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', code], {
      env,
      timeout: HANG_GUARD_MS,
    });
    assert.equal(
      stdout.trim(),
      `Error: MITTELO_PG_BINDIR=/nonexistent has no initdb and postgres: ${NOT_FOUND}`,
    );
  });
});

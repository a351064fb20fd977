/**
 * `mittelo doctor --db postgres://…`: the database row says whether the server answers and what
 * schema it holds, writing nothing; a server that is not there is a failed row with its fix.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { checkPostgres } from '../../src/doctor/core-checks.ts';
import { openStore } from '../../src/store/open-store.ts';
import { testPostgres } from '../helpers/postgres.ts';
import { runCli } from '../helpers/run-cli.ts';

async function schemaExists(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'mittelo'`);
    return rows.length > 0;
  } finally {
    await client.end();
  }
}

describe('doctor on a PostgreSQL --db', () => {
  after(async () => (await testPostgres()).dropCreatedDatabases());

  it('reports a fresh database as usable without creating anything, then the schema once made', async () => {
    const url = await (await testPostgres()).createDatabase();
    const fresh = await checkPostgres(url);
    assert.equal(fresh.ok, true, fresh.detail);
    assert.match(fresh.detail, /answers; the first hub creates the schema \(v\d+\)/);
    assert.equal(await schemaExists(url), false, 'doctor writes nothing');

    const store = await openStore(url, { log: () => {} });
    await store.close();
    const made = await checkPostgres(url);
    assert.equal(made.ok, true, made.detail);
    assert.match(made.detail, /the Mittelö schema is at v\d+/);
  });

  it('fails the database row of `mittelo doctor` for a server that is not there, naming it', async () => {
    const ran = await runCli(['doctor', '--db', 'postgres://nobody@127.0.0.1:1/none']);
    assert.notEqual(ran.code, 0);
    const output = ran.stdout + ran.stderr;
    assert.match(output, /database/);
    assert.match(output, /127\.0\.0\.1:1\/none is not answering/);
  });
});

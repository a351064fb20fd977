/**
 * GroupCommit on a real SQLite file: writes issued in one turn of the event loop share one commit,
 * nobody is answered before that commit, a failing write undoes only itself, and reads issued
 * while a batch is open wait for it. A second, read-only connection plays "everyone else": what it
 * sees is what is on disk. (SqliteStore locks its file exclusively, so these tests drive
 * GroupCommit on a database of their own.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../src/store/sqlite/group-commit.ts';

interface Fixture {
  db: Database.Database;
  batch: GroupCommit;
  /** A write as the store makes them: a better-sqlite3 transaction function (a savepoint in the batch). */
  insert: (name: string) => () => void;
  /** The names another connection can see, that is, what has been committed. */
  committed: () => string[];
  /** COMMIT statements GroupCommit has run so far. */
  commits: () => number;
  reader: Database.Database;
}

describe('GroupCommit', () => {
  let root: string;
  let counter = 0;
  let fixture: Fixture;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'mittelo-group-commit-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  beforeEach(() => {
    const path = join(root, `batch-${++counter}.db`);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE items (name TEXT NOT NULL UNIQUE)');
    // Count commits by watching the statement GroupCommit prepares for them.
    let commits = 0;
    const prepare = db.prepare.bind(db);
    db.prepare = ((source: string) => {
      const statement = prepare(source);
      if (source.trim().toUpperCase() === 'COMMIT') {
        const run = statement.run.bind(statement);
        statement.run = (...args: unknown[]) => {
          commits += 1;
          return run(...args);
        };
      }
      return statement;
    }) as typeof db.prepare;
    const batch = new GroupCommit(db);
    const insertOne = prepare('INSERT INTO items (name) VALUES (?)');
    const reader = new Database(path, { readonly: true });
    const readNames = reader.prepare('SELECT name FROM items ORDER BY name').pluck();
    fixture = {
      db,
      batch,
      insert: (name) => db.transaction(() => void insertOne.run(name)),
      committed: () => readNames.all() as string[],
      commits: () => commits,
      reader,
    };
  });

  afterEach(() => {
    fixture.batch.flush();
    fixture.reader.close();
    fixture.db.close();
  });

  it('commits the writes of one tick once, and answers each only after that commit', async () => {
    const { batch, insert, committed, commits, db } = fixture;
    const seenAtAnswer: string[][] = [];
    const names = ['a', 'b', 'c', 'd', 'e'];
    const answers = names.map((name) =>
      batch.write(insert(name)).then(() => {
        seenAtAnswer.push(committed());
      }),
    );
    assert.equal(db.inTransaction, true, 'the batch stays open for the rest of the tick');
    assert.deepEqual(committed(), [], 'nothing is on disk before the commit');
    await Promise.resolve();
    assert.deepEqual(committed(), [], 'not even after the microtasks of this tick');
    await Promise.all(answers);
    assert.equal(commits(), 1);
    assert.equal(db.inTransaction, false);
    assert.deepEqual(
      seenAtAnswer,
      names.map(() => names),
    );
  });

  it('starts a new batch for writes of a later tick', async () => {
    const { batch, insert, committed, commits } = fixture;
    await batch.write(insert('first'));
    assert.deepEqual(committed(), ['first']);
    await Promise.all([batch.write(insert('second')), batch.write(insert('third'))]);
    assert.deepEqual(committed(), ['first', 'second', 'third']);
    assert.equal(commits(), 2);
  });

  it('undoes only the write that fails, even when it opened the batch', async () => {
    const { batch, insert, committed, db } = fixture;
    const broken = new Error('half done, then broken');
    const insertThenFail = db.transaction(() => {
      insert('half')();
      throw broken;
    });
    const results = await Promise.allSettled([
      batch.write(insertThenFail),
      batch.write(insert('a')),
      batch.write(insert('a')), // UNIQUE violation
      batch.write(insert('c')),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal((results[0] as PromiseRejectedResult).reason, broken);
    assert.match(String((results[2] as PromiseRejectedResult).reason), /UNIQUE/);
    assert.deepEqual(committed(), ['a', 'c']);
  });

  it('answers a read made while a batch is open only after the commit, with the batch in it', async () => {
    const { batch, insert, committed, db } = fixture;
    const order: string[] = [];
    const write = batch.write(insert('x')).then(() => order.push('write'));
    const read = batch
      .read(() => db.prepare('SELECT count(*) AS n FROM items').get() as { n: number })
      .then((row) => {
        order.push('read');
        assert.deepEqual(committed(), ['x', 'y'], 'the read is answered only after the commit');
        return row.n;
      });
    const later = batch.write(insert('y')).then(() => order.push('later write'));
    assert.deepEqual(committed(), []);
    assert.equal(await read, 1, 'the read sees the write before it, not the one after');
    await Promise.all([write, later]);
    assert.deepEqual(order, ['write', 'read', 'later write'], 'answers keep the order of the requests');
  });

  it('answers a read at once when no batch is open, and passes on a failing read', async () => {
    const { batch, db, commits } = fixture;
    assert.equal(await batch.read(() => 42), 42);
    assert.equal(db.inTransaction, false);
    assert.equal(commits(), 0);
    await assert.rejects(
      batch.read(() => db.prepare('SELECT * FROM no_such_table').all()),
      /no such table/,
    );
  });

  it('rejects every answer of a batch whose commit fails, keeps none of it, and recovers', async () => {
    const { batch, insert, committed, db } = fixture;
    // A deferred foreign key is checked only at COMMIT: the simplest way to make a commit fail.
    db.exec(`
      CREATE TABLE parents (id INTEGER PRIMARY KEY);
      CREATE TABLE children (parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED);`);
    db.pragma('foreign_keys = ON');
    const orphan = db.transaction(() => void db.prepare('INSERT INTO children (parent) VALUES (42)').run());
    const results = await Promise.allSettled([
      batch.write(insert('innocent')),
      batch.write(orphan),
      batch.read(() => 'read in the doomed batch'),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.match(String((results[0] as PromiseRejectedResult).reason), /FOREIGN KEY/);
    assert.equal(db.inTransaction, false);
    assert.deepEqual(committed(), []);
    await batch.write(insert('next'));
    assert.deepEqual(committed(), ['next']);
  });

  it('flush commits at once (before the database is closed)', async () => {
    const { batch, insert, committed, commits } = fixture;
    const answer = batch.write(insert('now'));
    batch.flush();
    assert.deepEqual(committed(), ['now']);
    await answer;
    // The commit already scheduled for this tick finds nothing left to do.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(commits(), 1);
  });
});

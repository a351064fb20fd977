/**
 * SqliteStore when the database fails under it: a full database (PRAGMA max_page_count makes
 * SQLite answer SQLITE_FULL exactly as a full disk does), the file deleted or replaced while the
 * store has it open, and files that cannot be opened (damaged, read-only). What must hold: an
 * answer goes out only for a change that is on disk, every request of a failed batch is refused
 * with a stable code, the counters match the file, one log line per episode, and the store goes
 * on once the cause is gone.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isMitteloError, type MitteloError } from '../../src/errors.ts';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.ts';

/** The store's connection, reached only to raise the page cap (space is back). */
interface StoreInternals {
  db: Database.Database;
}

function storageError(reason: unknown): MitteloError {
  assert.ok(isMitteloError(reason), `expected a MitteloError, got ${String(reason)}`);
  return reason;
}

/** What a fresh connection finds in the file, by status and id. */
function onDisk(path: string): { ids: number[]; byStatus: Record<string, number> } {
  const db = new Database(path, { readonly: true });
  try {
    const ids = (db.prepare('SELECT task_id FROM tasks ORDER BY task_id').pluck().all() as number[]) ?? [];
    const byStatus: Record<string, number> = {};
    for (const row of db.prepare('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status').all() as {
      status: string;
      n: number;
    }[])
      byStatus[row.status] = row.n;
    return { ids, byStatus };
  } finally {
    db.close();
  }
}

describe('SqliteStore storage faults', () => {
  let root: string;
  let counter = 0;
  const freshPath = () => join(root, `case-${++counter}`, 'hub.db');
  const logs: string[] = [];
  const open = (path: string, options: Partial<SqliteStoreOptions> = {}) =>
    new SqliteStore({ path, log: (line) => logs.push(line), ...options });

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'mittelo-storage-faults-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('refuses every request of a batch whose write hits a full database, the ones before it too', async () => {
    const path = freshPath();
    // A store that is nearly full: small writes fit, a large one does not.
    const store = open(path, { maxPageCount: 40 });
    const kept = await store.enqueue([{ prompt: 'stored before the fault' }]);
    // One turn of the event loop, so all three share one batch: the small enqueue and the lease
    // run first and succeed as statements; the large enqueue then fails with SQLITE_FULL.
    const small = store.enqueue([{ prompt: 'small' }]);
    const lease = store.lease({ worker_id: 'w', max_tasks: 1, lease_seconds: 60 });
    const large = store.enqueue([{ prompt: 'x'.repeat(400_000) }]);
    const results = await Promise.allSettled([small, lease, large]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected', 'rejected'],
      'nothing of the failed batch may be answered as stored',
    );
    for (const result of results) {
      const error = storageError((result as PromiseRejectedResult).reason);
      assert.equal(error.code, 'storage_full');
      assert.match(error.message, /database or disk is full: free space under /);
      assert.ok(error.message.includes(dirname(path)), error.message);
    }
    // The counters are what is on disk: one queued task, nothing leased.
    assert.deepEqual(await store.stats(), { queued: 1, leased: 0, done: 0, failed: 0, canceled: 0 });
    // The store goes on without a restart: small writes fit again.
    const [after] = await store.enqueue([{ prompt: 'after the fault' }]);
    assert.ok(after!.task_id > kept[0]!.task_id);
    await store.close();
    const disk = onDisk(path);
    assert.deepEqual(disk.ids, [kept[0]!.task_id, after!.task_id]);
  });

  it('under a stream of writes into a full database: every answered id is stored, once, and stats match', async () => {
    const path = freshPath();
    logs.length = 0;
    const store = open(path, { maxPageCount: 120 });
    const acknowledged: number[] = [];
    let refused = 0;
    // Many turns of the event loop, several writes each, until the database is full for a while.
    for (let turn = 0; turn < 60; turn++) {
      const writes = Array.from({ length: 5 }, (_, i) =>
        store.enqueue([{ prompt: `turn ${turn} write ${i} ${'p'.repeat(6000)}` }]),
      );
      const leases = store.lease({ worker_id: 'w', max_tasks: 2, lease_seconds: 60 });
      for (const result of await Promise.allSettled([...writes, leases])) {
        if (result.status === 'fulfilled') {
          const value = result.value;
          if (Array.isArray(value) && value[0] && value[0].status === 'queued')
            acknowledged.push(...value.map((t) => t.task_id));
        } else {
          assert.equal(storageError(result.reason).code, 'storage_full');
          refused += 1;
        }
      }
    }
    assert.ok(refused > 0, 'the database should have filled up');
    assert.ok(acknowledged.length > 0, 'writes before the database filled should have been stored');
    assert.equal(new Set(acknowledged).size, acknowledged.length, 'one id was handed to two requests');
    const stats = await store.stats();
    // Space is back: raise the cap, and the same store takes writes again.
    (store as unknown as StoreInternals).db.pragma('max_page_count = 1000000');
    const [later] = await store.enqueue([{ prompt: 'space is back' }]);
    acknowledged.push(later!.task_id);
    // The episode ends once writes have worked for a few quiet seconds: write until it is logged.
    const deadline = Date.now() + 60_000;
    while (!logs.some((line) => line.includes('storage works again')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const [more] = await store.enqueue([{ prompt: 'quiet' }]);
      acknowledged.push(more!.task_id);
    }
    await store.close();

    const disk = onDisk(path);
    assert.deepEqual(
      disk.ids,
      [...acknowledged].sort((a, b) => a - b),
      'the file holds exactly the acknowledged tasks',
    );
    assert.equal(
      stats.queued + stats.leased,
      disk.ids.length - (acknowledged.length - acknowledged.indexOf(later!.task_id)),
      'stats counted only what was stored',
    );
    assert.equal(
      logs.filter((line) => line.includes('storage fault')).length,
      1,
      `one log line for the episode: ${logs.join('\n')}`,
    );
    const recovered = logs.find((line) => line.includes('storage works again'));
    assert.ok(recovered, `a line when writes work again: ${logs.join('\n')}`);
    assert.match(recovered, new RegExp(`${refused} request\\(s\\) were refused`));
  });

  it('refuses writes once the file is deleted under it, and saves what it acknowledged', async () => {
    const path = freshPath();
    logs.length = 0;
    const store = open(path);
    const acknowledged: number[] = [];
    for (const task of await store.enqueue([{ prompt: 'a' }, { prompt: 'b' }]))
      acknowledged.push(task.task_id);
    unlinkSync(path);
    // The file is looked at every few milliseconds, not on every commit: write until refused.
    let refusal: MitteloError | null = null;
    const deadline = Date.now() + 60_000;
    while (!refusal && Date.now() < deadline) {
      try {
        const [task] = await store.enqueue([{ prompt: 'after the delete' }]);
        acknowledged.push(task!.task_id);
      } catch (error) {
        refusal = storageError(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(refusal, 'a write after the delete must be refused');
    assert.equal(refusal.code, 'storage_error');
    assert.match(refusal.message, /was deleted while the hub was running; writes are refused/);
    // And stays refused: no write reaches the unlinked file any more.
    await assert.rejects(store.enqueue([{ prompt: 'still refused' }]), /was deleted/);
    // Reads still work.
    assert.equal((await store.get([acknowledged[0]!])).length, 1);
    await store.close();

    const rescued = readdirSync(dirname(path)).filter((name) => name.startsWith('hub.db.rescued-'));
    assert.equal(rescued.length, 1, `one rescue copy: ${readdirSync(dirname(path)).join(', ')}`);
    assert.deepEqual(onDisk(join(dirname(path), rescued[0]!)).ids, acknowledged);
    assert.ok(
      logs.some((line) => line.includes(rescued[0]!)),
      `the log names the copy: ${logs.join('\n')}`,
    );
    assert.equal(existsSync(path), false, 'nothing recreated at the path behind the user');
  });

  it('refuses writes once the file is replaced by another', async () => {
    const path = freshPath();
    const store = open(path);
    await store.enqueue([{ prompt: 'a' }]);
    const other = join(dirname(path), 'other.db');
    writeFileSync(other, '');
    renameSync(other, path);
    let refusal: MitteloError | null = null;
    const deadline = Date.now() + 60_000;
    while (!refusal && Date.now() < deadline) {
      await store.enqueue([{ prompt: 'b' }]).catch((error) => {
        refusal = storageError(error);
      });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(refusal);
    assert.match((refusal as MitteloError).message, /was replaced by another file/);
    await store.close();
    assert.equal(statSync(path).size, 0, 'the replacement is left alone');
  });

  it('a damaged page: one clear refusal at open, naming the file and .recover', async () => {
    const path = freshPath();
    const store = open(path);
    await store.enqueue(Array.from({ length: 300 }, (_, i) => ({ prompt: `task ${i} ${'q'.repeat(200)}` })));
    await store.close();
    // Overwrite every page but the first (the header and schema) with garbage.
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    try {
      const garbage = Buffer.alloc(size - 4096, 0xa5);
      writeSync(fd, garbage, 0, garbage.length, 4096);
    } finally {
      closeSync(fd);
    }
    assert.throws(
      () => open(path),
      (error: unknown) => {
        const refused = storageError(error);
        assert.equal(refused.code, 'storage_error');
        assert.match(refused.message, /is damaged/);
        assert.match(refused.message, /\.recover/);
        assert.ok(refused.message.includes(path), refused.message);
        return true;
      },
    );
  });

  it('a read-only file: one clear refusal at open, saying what to fix', { skip: isRoot() }, async () => {
    // As root, permissions do not stop writes; test/integration/storage-faults.test.ts mounts a
    // read-only filesystem for that case instead.
    const path = freshPath();
    const store = open(path);
    await store.enqueue([{ prompt: 'a' }]);
    await store.close();
    chmodSync(path, 0o444);
    chmodSync(dirname(path), 0o555);
    try {
      assert.throws(
        () => open(path),
        (error: unknown) => {
          const refused = storageError(error);
          assert.equal(refused.code, 'storage_error');
          assert.match(refused.message, /cannot be written|cannot open/);
          assert.ok(refused.message.includes(path), refused.message);
          return true;
        },
      );
    } finally {
      chmodSync(dirname(path), 0o755);
      chmodSync(path, 0o644);
    }
  });
});

function isRoot(): string | false {
  return process.getuid?.() === 0 ? 'runs as root, where file permissions do not stop writes' : false;
}

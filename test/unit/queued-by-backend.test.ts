/**
 * Queued tasks per backend on SQLite: one covering scan of the queued rows' partial index, so a
 * million finished rows cost it nothing (the hub answers it with every `agents` call).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { QUEUED_BY_BACKEND_SQL } from '../../src/store/sqlite/queued-by-backend.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const root = mkdtempSync(join(tmpdir(), 'mittelo-queued-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('queuedByBackend on SQLite', () => {
  it('reads only the queued rows index, covering, with no sort; counts right beside 200,000 done rows', async () => {
    const path = join(root, 'hub.db');
    const store = new SqliteStore({ path });
    await store.enqueue([
      { prompt: 'a' },
      { prompt: 'b', backend: 'codex' },
      { prompt: 'c', backend: 'codex' },
    ]);
    await store.close();

    const db = new Database(path);
    try {
      db.exec(`
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
        INSERT INTO tasks (prompt, status, created_at, updated_at, backend, worker_id, result)
        SELECT 'old ' || i, 'done', 1, 1, CASE i % 3 WHEN 0 THEN NULL ELSE 'codex' END, 'w', 'r' FROM n;`);
      const plan = (
        db.prepare(`EXPLAIN QUERY PLAN ${QUEUED_BY_BACKEND_SQL}`).all() as { detail: string }[]
      ).map((row) => row.detail);
      assert.ok(
        plan.some((detail) => /^SCAN tasks USING COVERING INDEX tasks_ready\b/.test(detail)),
        plan.join(' | '),
      );
      assert.ok(!plan.some((detail) => detail.includes('TEMP B-TREE')), plan.join(' | '));
    } finally {
      db.close();
    }

    const reopened = new SqliteStore({ path });
    try {
      assert.deepEqual(await reopened.queuedByBackend(), [
        { backend: null, queued: 1, scheduled: 0 },
        { backend: 'codex', queued: 2, scheduled: 0 },
      ]);
    } finally {
      await reopened.close();
    }
  });
});

/**
 * A database file that already holds many finished tasks, made without the protocol (a million
 * tasks through the hub would take minutes): the project's own SqliteStore creates the schema,
 * then one transaction inserts rows with status 'done'. Built once per bench run and copied, so
 * every hub still starts on a fresh file.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const built = new Map<string, Promise<string>>();

/** A pristine file with `count` done tasks in `folder`; built on first use, then reused. */
export function finishedTasksTemplate(folder: string, count: number): Promise<string> {
  const path = join(folder, `template-${count}-done.db`);
  let pending = built.get(path);
  if (!pending) {
    pending = build(path, count).then(() => path);
    built.set(path, pending);
  }
  return pending;
}

/** Copy the template to `target` (the hub then owns the copy). */
export function copyDatabase(template: string, target: string): void {
  copyFileSync(template, target);
  // The template is closed cleanly, so there is no WAL to bring along; make sure of it.
  if (existsSync(`${template}-wal`)) copyFileSync(`${template}-wal`, `${target}-wal`);
}

async function build(path: string, count: number): Promise<void> {
  // Migrations run exactly as in the hub: the schema (indexes, counters) is the real one.
  const store = new SqliteStore({ path });
  await store.close();

  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    // A scratch file: losing it to a power cut costs a rebuild, nothing else.
    db.pragma('synchronous = OFF');
    const insert = db.prepare(
      `INSERT INTO tasks (prompt, status, created_at, updated_at, leased_until, worker_id, result, error,
         priority, attempts, max_attempts, lease_expirations, available_at, duration_ms)
       VALUES (?, 'done', ?, ?, NULL, ?, ?, NULL, 0, 1, 1, 0, 0, ?)`,
    );
    const start = Date.now() / 1000 - count / 1000;
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const created = start + i / 1000;
        const prompt = `finished task ${i}`;
        insert.run(prompt, created, created + 0.05, `worker-${i % 16}`, `echo:${prompt}`, 50);
      }
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

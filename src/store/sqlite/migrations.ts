/**
 * Versioned schema migrations, tracked in SQLite's `user_version`. Version 1 has the columns of the
 * Python v0.1 hub's table, so a v0.1 database file opens here and is upgraded in place.
 */
import type Database from 'better-sqlite3';
import { MitteloError } from '../../errors.ts';

interface Migration {
  version: number;
  description: string;
  sql: string;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'v0.1 tasks table',
    // v0.1 declared AUTOINCREMENT, which costs a write to sqlite_sequence on every insert. Rows are
    // never deleted, so a plain rowid key hands out the same ever-growing ids; v0.1 files keep theirs.
    sql: `
      CREATE TABLE IF NOT EXISTS tasks (
        task_id INTEGER PRIMARY KEY,
        prompt TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        leased_until REAL,
        worker_id TEXT,
        result TEXT,
        error TEXT
      );`,
  },
  {
    version: 2,
    description: 'v1 task fields, lease and status indexes, status counters',
    sql: `
      ALTER TABLE tasks ADD COLUMN backend TEXT;
      ALTER TABLE tasks ADD COLUMN tags TEXT;
      ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE tasks ADD COLUMN lease_expirations INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN available_at REAL NOT NULL DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN timeout_s REAL;
      ALTER TABLE tasks ADD COLUMN error_kind TEXT;
      ALTER TABLE tasks ADD COLUMN error_fix TEXT;
      ALTER TABLE tasks ADD COLUMN duration_ms REAL;
      ALTER TABLE tasks ADD COLUMN usage TEXT;
      ALTER TABLE tasks ADD COLUMN metadata TEXT;
      ALTER TABLE tasks ADD COLUMN lease_token TEXT;

      -- Lease scans only the rows that can be handed out, so finished rows never slow it down.
      CREATE INDEX tasks_ready ON tasks(backend, priority DESC, task_id) WHERE status = 'queued';
      CREATE INDEX tasks_leased ON tasks(leased_until) WHERE status = 'leased';
      CREATE INDEX tasks_delayed ON tasks(available_at) WHERE status = 'queued' AND available_at > 0;
      -- list --status failed|canceled, newest first, and retry_failed. Only the rare end states:
      -- queued and leased rows are the newest ones and done rows are most of the table, so a
      -- newest-first scan finds those at once, and the everyday queued -> leased -> done moves
      -- never touch this index (8-11% of lease+ack throughput).
      -- (One index per status: SQLite uses a partial index only when the query repeats its WHERE.)
      CREATE INDEX tasks_failed ON tasks(task_id) WHERE status = 'failed';
      CREATE INDEX tasks_canceled ON tasks(task_id) WHERE status = 'canceled';`,
  },
  {
    version: 3,
    description: 'pauses of leasing (mittelo pause / resume)',
    // One row per paused scope: a backend, or '' for the whole queue (a primary key cannot be
    // NULL in every database; '' is no backend name). until NULL: until resumed.
    sql: `
      CREATE TABLE pauses (
        backend TEXT PRIMARY KEY NOT NULL,
        paused_at REAL NOT NULL,
        until REAL,
        reason TEXT
      );`,
  },
  {
    version: 4,
    description: 'caps on leasing (mittelo limit): concurrency and start rate per backend or tag',
    // lease_backend: the backend of the worker holding a lease (an unrouted task leased by a
    // claude_code agent counts against claude_code's cap). lease_starts: one row per lease start
    // under a rate cap, kept for the rate window only.
    sql: `
      ALTER TABLE tasks ADD COLUMN lease_backend TEXT;
      CREATE TABLE caps (
        scope TEXT PRIMARY KEY NOT NULL,
        concurrency INTEGER,
        rate_per_min REAL
      );
      CREATE TABLE lease_starts (scope TEXT NOT NULL, at REAL NOT NULL);
      CREATE INDEX lease_starts_scope ON lease_starts(scope, at);`,
  },
  {
    version: 5,
    description: 'spend and budgets (mittelo budget, mittelo stats): task costs, spend per day and backend',
    // spend: one row per UTC day (queue-policy.ts utcDay: whole days since 1970-01-01) and backend
    // of the acking agent ('' for none: a key cannot be NULL), summed at each accepted ack in its
    // transaction, so it outlives pruned tasks. budgets: one row per backend with a daily budget.
    sql: `
      ALTER TABLE tasks ADD COLUMN max_cost_usd REAL;
      ALTER TABLE tasks ADD COLUMN cost_usd REAL;
      ALTER TABLE tasks ADD COLUMN cost_basis TEXT;
      CREATE TABLE spend (
        day INTEGER NOT NULL,
        backend TEXT NOT NULL,
        tasks INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        estimated_usd REAL NOT NULL,
        cost_unknown INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        PRIMARY KEY (day, backend)
      ) WITHOUT ROWID;
      CREATE TABLE budgets (
        backend TEXT PRIMARY KEY NOT NULL,
        usd_per_day REAL NOT NULL
      );`,
  },
  {
    version: 6,
    description: 'structured answers: the JSON Schema an answer must meet, and the answer parsed',
    // Both JSON text (NULL: none). parsed may be any JSON value, an empty array too, so it is
    // written as its JSON text as given, never folded into NULL the way empty tags are.
    sql: `
      ALTER TABLE tasks ADD COLUMN output_schema TEXT;
      ALTER TABLE tasks ADD COLUMN parsed TEXT;`,
  },
  {
    version: 7,
    description: 'resumed sessions: whether a task continues its last CLI session, and that session',
    // session_id is what the next run continues: requeues, releases and retries keep it.
    sql: `
      ALTER TABLE tasks ADD COLUMN resume INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN session_id TEXT;`,
  },
  {
    version: 8,
    description:
      'workspaces and permissions: where a task runs, what it may do, and what its worktree changed',
    // worktree (JSON) is what the task's last run in its own worktree changed; acks set it, retries keep it.
    sql: `
      ALTER TABLE tasks ADD COLUMN workspace TEXT;
      ALTER TABLE tasks ADD COLUMN base_ref TEXT;
      ALTER TABLE tasks ADD COLUMN permissions TEXT;
      ALTER TABLE tasks ADD COLUMN worktree TEXT;`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Bring the file up to SCHEMA_VERSION, each step in its own transaction. */
export function migrate(db: Database.Database, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new MitteloError(
      'bad_request',
      `the database ${path} has schema v${current}, written by a newer Mittelö; this build knows up to v${SCHEMA_VERSION}. ` +
        'Upgrade mittelo, or pass another --db.',
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}

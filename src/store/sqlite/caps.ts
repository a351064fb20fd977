/**
 * Caps on leasing in SQLite (migration 4): the `caps` table, one row per capped scope, and
 * `lease_starts`, the lease starts of the rate window. The lease reads them in its own
 * transaction (sqlite-store.ts leaseNow); what they allow is queue-policy.ts.
 */
import type Database from 'better-sqlite3';
import type { Cap, CapState } from '../../protocol/model.ts';
import { type CapUse, RATE_WINDOW_S, scopeTag } from '../queue-policy.ts';

// A task counts against a scope while its lease runs: an expired lease is work abandoned.
const LEASED_NOW = `SELECT count(*) FROM tasks INDEXED BY tasks_leased
  WHERE status = 'leased' AND leased_until >= @now`;
const HAS_TAG = `EXISTS (SELECT 1 FROM json_each(tasks.tags) AS t WHERE t.value = @tag)`;

export class SqliteCaps {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      ofScopes: db.prepare(
        `SELECT scope, concurrency, rate_per_min FROM caps WHERE scope IN (SELECT value FROM json_each(?))`,
      ),
      leasedByBackend: db.prepare(`${LEASED_NOW} AND lease_backend = @backend`).pluck(),
      leasedWithTag: db.prepare(`${LEASED_NOW} AND ${HAS_TAG}`).pluck(),
      started: db.prepare('SELECT count(*) FROM lease_starts WHERE scope = ? AND at > ?').pluck(),
      forget: db.prepare('DELETE FROM lease_starts WHERE scope = ? AND at <= ?'),
      logStart: db.prepare('INSERT INTO lease_starts (scope, at) VALUES (?, ?)'),
      set: db.prepare(
        `INSERT INTO caps (scope, concurrency, rate_per_min) VALUES (@scope, @concurrency, @rate_per_min)
         ON CONFLICT (scope) DO UPDATE SET concurrency = excluded.concurrency, rate_per_min = excluded.rate_per_min`,
      ),
      clear: db.prepare('DELETE FROM caps WHERE scope = ?'),
      clearStarts: db.prepare('DELETE FROM lease_starts WHERE scope = ?'),
      all: db.prepare('SELECT scope, concurrency, rate_per_min FROM caps ORDER BY scope'),
      waitingForBackend: db
        .prepare(
          `SELECT count(*) FROM tasks INDEXED BY tasks_ready
           WHERE status = 'queued' AND backend = @backend AND available_at <= @now`,
        )
        .pluck(),
      waitingWithTag: db
        .prepare(`SELECT count(*) FROM tasks WHERE status = 'queued' AND available_at <= @now AND ${HAS_TAG}`)
        .pluck(),
      // When the oldest start of a full rate window leaves it: a lease may start again then.
      rateFull: db.prepare(
        `SELECT MIN(at) AS oldest, count(*) AS n, caps.rate_per_min AS rate FROM lease_starts
         JOIN caps USING (scope) WHERE at > ? AND caps.rate_per_min IS NOT NULL GROUP BY scope`,
      ),
    };
  }

  /** The caps on these scopes with their use now (inside the lease's transaction). */
  use(scopes: string[], now: number): CapUse[] {
    if (scopes.length === 0) return [];
    const caps = this.sql.ofScopes.all(JSON.stringify(scopes)) as Cap[];
    return caps.map((cap) => {
      // Starts that left the window are done with (kept small: one lease's worth of rows).
      if (cap.rate_per_min !== null) this.sql.forget.run(cap.scope, now - RATE_WINDOW_S);
      return this.measure(cap, now);
    });
  }

  /** Log the start of a lease under these (rate-capped) scopes. */
  logStarts(scopes: string[], now: number): void {
    for (const scope of scopes) this.sql.logStart.run(scope, now);
  }

  set(cap: Cap): Cap {
    this.sql.set.run(cap);
    return cap;
  }

  clear(scope: string): boolean {
    this.sql.clearStarts.run(scope);
    return this.sql.clear.run(scope).changes > 0;
  }

  list(now: number): CapState[] {
    return (this.sql.all.all() as Cap[]).map((cap) => {
      const use = this.measure(cap, now);
      const tag = scopeTag(cap.scope);
      const waiting = (
        tag === null
          ? this.sql.waitingForBackend.get({ backend: cap.scope, now })
          : this.sql.waitingWithTag.get({ tag, now })
      ) as number;
      return { ...cap, leased: use.leased, started_last_min: use.started, waiting };
    });
  }

  /** The earliest time a full rate window frees a start (null: none is full). */
  nextRateSlot(now: number): number | null {
    const rows = this.sql.rateFull.all(now - RATE_WINDOW_S) as { oldest: number; n: number; rate: number }[];
    const ends = rows.filter((r) => r.n >= Math.floor(r.rate)).map((r) => r.oldest + RATE_WINDOW_S);
    return ends.length > 0 ? Math.min(...ends) : null;
  }

  private measure(cap: Cap, now: number): CapUse {
    const tag = scopeTag(cap.scope);
    const leased = (
      tag === null
        ? this.sql.leasedByBackend.get({ backend: cap.scope, now })
        : this.sql.leasedWithTag.get({ tag, now })
    ) as number;
    const started =
      cap.rate_per_min === null ? 0 : (this.sql.started.get(cap.scope, now - RATE_WINDOW_S) as number);
    return { ...cap, leased, started };
  }
}

/**
 * pause, resume, pauses: the pauses of leasing, one row per paused scope (migrations.ts). Each is
 * one statement, stamped with the database's clock. Leases read the table in their own
 * transaction (lease.ts), so a pause committed here holds at once on every hub of the database.
 */
import type pg from 'pg';
import type { Pause } from '../../protocol/model.ts';
import { type PauseRow, pauseFromRow, pauseHolds, pauseScope } from '../pause-row.ts';
import type { PauseRequest } from '../types.ts';
import { type Db, NOW } from './db.ts';

export function pauseQueries(db: Db) {
  const s = db.s;
  return {
    // Pausing a scope again keeps the time it was paused since, unless that pause had ended.
    pause: {
      name: 'pause',
      text: `INSERT INTO ${s}.pauses AS p (backend, paused_at, until, reason)
        VALUES ($2, ${NOW(1)}, $3, $4)
        ON CONFLICT (backend) DO UPDATE SET
          paused_at = CASE WHEN p.until IS NULL OR p.until > EXCLUDED.paused_at
            THEN p.paused_at ELSE EXCLUDED.paused_at END,
          until = EXCLUDED.until, reason = EXCLUDED.reason
        RETURNING backend, paused_at, until, reason`,
    },
    resume: {
      name: 'resume',
      text: `DELETE FROM ${s}.pauses WHERE backend = $2 RETURNING until, ${NOW(1)} AS now`,
    },
    // '' (the whole queue) sorts first; C collation: byte order, as SQLite sorts.
    pauses: {
      name: 'pauses',
      text: `SELECT backend, paused_at, until, reason FROM ${s}.pauses
        WHERE until IS NULL OR until > ${NOW(1)} ORDER BY backend COLLATE "C"`,
    },
  };
}

type Queries = ReturnType<typeof pauseQueries>;

export async function pause(
  client: pg.PoolClient,
  db: Db,
  queries: Queries,
  request: PauseRequest,
): Promise<Pause> {
  const values = [db.clock(), pauseScope(request.backend), request.until ?? null, request.reason ?? null];
  const { rows } = await client.query<PauseRow>({ ...queries.pause, values });
  return pauseFromRow(rows[0]!);
}

/** Whether a pause of this scope was in force (and is now lifted). */
export async function resume(
  client: pg.PoolClient,
  db: Db,
  queries: Queries,
  backend: string | null,
): Promise<boolean> {
  const { rows } = await client.query<{ until: number | null; now: number }>({
    ...queries.resume,
    values: [db.clock(), pauseScope(backend)],
  });
  const [row] = rows;
  return row !== undefined && pauseHolds(row.until, row.now);
}

export async function pauses(db: Db, queries: Queries): Promise<Pause[]> {
  const rows = await db.read<PauseRow>({ ...queries.pauses, values: [db.clock()] });
  return rows.map(pauseFromRow);
}

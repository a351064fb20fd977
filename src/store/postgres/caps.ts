/**
 * setCap, clearCap, caps, and what a lease reads of the caps (migrations.ts, version 3). A lease
 * first locks the cap rows it is under (lockCaps, FOR UPDATE, in scope order so two leases never
 * wait on each other crosswise), then counts their use in a later statement of its transaction
 * (measureCaps): under READ COMMITTED that statement's snapshot is taken after the lock was won,
 * so it sees every grant the previous holder committed. Leases under one cap thus take turns on
 * every hub of the database, and a cap holds across hubs.
 */
import type pg from 'pg';
import type { Cap, CapState } from '../../protocol/model.ts';
import { checkCap, RATE_WINDOW_S } from '../queue-policy.ts';
import { type Db, NOW } from './db.ts';

export function capQueries(db: Db) {
  const s = db.s;
  const now = NOW(1);
  // A task counts against a scope while its lease runs: an expired lease is work abandoned.
  const use = `(SELECT count(*)::int FROM ${s}.tasks AS t WHERE t.status = 'leased' AND t.leased_until >= ${now}
      AND CASE WHEN c.scope LIKE 'tag:%' THEN t.tags @> ARRAY[substr(c.scope, 5)]
        ELSE t.lease_backend = c.scope END) AS leased,
    (SELECT count(*)::int FROM ${s}.lease_starts AS l WHERE l.scope = c.scope AND l.at > ${now} - ${RATE_WINDOW_S})
      AS started`;
  return {
    lock: {
      name: 'caps-lock',
      text: `SELECT scope FROM ${s}.caps WHERE scope = ANY($1::text[]) ORDER BY scope FOR UPDATE`,
    },
    measure: {
      name: 'caps-measure',
      text: `SELECT c.scope, c.concurrency, c.rate_per_min, ${use} FROM ${s}.caps AS c WHERE c.scope = ANY($2::text[])`,
    },
    forget: {
      name: 'caps-forget',
      text: `DELETE FROM ${s}.lease_starts WHERE scope = ANY($2::text[]) AND at <= ${now} - ${RATE_WINDOW_S}`,
    },
    logStarts: {
      name: 'caps-log-starts',
      text: `INSERT INTO ${s}.lease_starts (scope, at) SELECT unnest($2::text[]), ${now}`,
    },
    set: {
      name: 'caps-set',
      text: `INSERT INTO ${s}.caps (scope, concurrency, rate_per_min) VALUES ($1, $2, $3)
        ON CONFLICT (scope) DO UPDATE SET concurrency = EXCLUDED.concurrency, rate_per_min = EXCLUDED.rate_per_min`,
    },
    clear: {
      name: 'caps-clear',
      text: `WITH gone AS (DELETE FROM ${s}.lease_starts WHERE scope = $1)
        DELETE FROM ${s}.caps WHERE scope = $1 RETURNING scope`,
    },
    // C collation: byte order, as SQLite sorts.
    list: {
      name: 'caps-list',
      text: `SELECT c.scope, c.concurrency, c.rate_per_min, ${use},
          (SELECT count(*)::int FROM ${s}.tasks AS t WHERE t.status = 'queued' AND t.available_at <= ${now}
            AND CASE WHEN c.scope LIKE 'tag:%' THEN t.tags @> ARRAY[substr(c.scope, 5)]
              ELSE t.backend = c.scope END) AS waiting
        FROM ${s}.caps AS c ORDER BY c.scope COLLATE "C"`,
    },
  };
}

export type CapQueries = ReturnType<typeof capQueries>;

export async function setCap(client: pg.PoolClient, queries: CapQueries, cap: Cap): Promise<Cap> {
  checkCap(cap);
  await client.query({ ...queries.set, values: [cap.scope, cap.concurrency, cap.rate_per_min] });
  return cap;
}

export async function clearCap(client: pg.PoolClient, queries: CapQueries, scope: string): Promise<boolean> {
  const { rowCount } = await client.query({ ...queries.clear, values: [scope] });
  return (rowCount ?? 0) > 0;
}

export async function listCaps(db: Db, queries: CapQueries): Promise<CapState[]> {
  const rows = await db.read<CapState & { started: number }>({ ...queries.list, values: [db.clock()] });
  return rows.map(({ started, ...row }) => ({ ...row, started_last_min: started }));
}

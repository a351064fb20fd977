/**
 * lease: the leases of one event-loop turn run in one transaction (one commit), so hubs sharing
 * the database never hand out one task twice:
 *
 * 1. One SELECT per route (backend and tags) picks the candidates and locks them, FOR UPDATE SKIP
 *    LOCKED: rows another lease is taking right now are passed over, not waited for. Three
 *    branches, each read in lease order from its partial index and cut at the route's max_tasks
 *    (so a million finished rows cost nothing): unrouted queued tasks, queued tasks routed to the
 *    worker's backend, and leased tasks whose lease ran out (unrouted or this backend); queued ones
 *    only once available (retry backoff), and only tasks whose tags are all among the worker's
 *    (`tags <@ worker_tags`). The best of the three by priority, then age, are the candidates.
 *    (FOR UPDATE is not allowed on a UNION, hence one locking CTE per branch.) None at all while
 *    the worker's backend or the whole queue is paused: the pauses table is read in the same
 *    statement, so a pause given through any hub holds here at once. None either while the
 *    worker's backend is out of its budget for today (spend.ts, read in the same transaction,
 *    decided by queue-policy.ts budgetExhausted).
 * 2. The queue policy decides each candidate (reachedLeaseExpiryLimit, leaseExpiredFailure,
 *    grantLease); the candidates go to the route's requests in arrival order, each up to its
 *    max_tasks and byte budget (at least one task), as in SQLite.
 * 3. One UPDATE writes the grants, one more the poison tasks failed instead; when some were failed,
 *    the route looks again so its requests still fill up to max_tasks.
 * 4. COMMIT: every lease of the batch is answered only once it is durable.
 */
import type pg from 'pg';
import { taskAnswerBytes } from '../answer-budget.ts';
import {
  budgetExhausted,
  type CapUse,
  capScopesOf,
  fullTags,
  grantLease,
  type LeaseGrant,
  leaseExpiredFailure,
  rateScopesOf,
  reachedLeaseExpiryLimit,
  slotsOf,
  takeSlot,
} from '../queue-policy.ts';
import type { LeaseRequest, LeaseResult } from '../types.ts';
import { type CapQueries, capQueries } from './caps.ts';
import { type Db, NOW } from './db.ts';
import { isDatabaseFault, isTransient } from './faults.ts';
import { rowToTask, TASK_COLUMNS, type TaskRow, taskColumnsOf } from './rows.ts';
import { spendQueries } from './spend.ts';
import { type BatchItem, settle } from './turn-batch.ts';

export function leaseQueries(db: Db) {
  const s = db.s;
  const now = NOW(1);
  // Tasks carrying a tag whose cap is full ($5) are looked past, so they never hide the others.
  const fits = 'tags <@ $3::text[] AND NOT (tags && $5::text[])';
  // Not paused: neither the worker's backend nor the whole queue (one look at the pauses per
  // statement, evaluated once, not per row).
  const open = 'NOT EXISTS (SELECT 1 FROM paused)';
  return {
    caps: capQueries(db),
    spend: spendQueries(db),
    pick: {
      name: 'lease-pick',
      text: `WITH paused AS (
          SELECT 1 FROM ${s}.pauses
          WHERE backend IN ('', COALESCE($2::text, '')) AND (until IS NULL OR until > ${now}) LIMIT 1
        ), unrouted AS (
          SELECT ${TASK_COLUMNS} FROM ${s}.tasks
          WHERE status = 'queued' AND backend IS NULL AND available_at <= ${now} AND ${fits} AND ${open}
          ORDER BY priority DESC, task_id LIMIT $4 FOR UPDATE SKIP LOCKED
        ), routed AS (
          SELECT ${TASK_COLUMNS} FROM ${s}.tasks
          WHERE status = 'queued' AND backend IS NOT NULL AND backend = $2 AND available_at <= ${now} AND ${fits}
            AND ${open}
          ORDER BY backend, priority DESC, task_id LIMIT $4 FOR UPDATE SKIP LOCKED
        ), expired AS (
          SELECT ${TASK_COLUMNS} FROM ${s}.tasks
          WHERE status = 'leased' AND leased_until < ${now} AND (backend IS NULL OR backend = $2) AND ${fits}
            AND ${open}
          ORDER BY priority DESC, task_id LIMIT $4 FOR UPDATE SKIP LOCKED
        )
        SELECT c.*, ${now} AS now FROM (
          SELECT * FROM unrouted UNION ALL SELECT * FROM routed UNION ALL SELECT * FROM expired
        ) AS c
        ORDER BY c.priority DESC, c.task_id LIMIT $4`,
    },
    grant: {
      name: 'lease-grant',
      text: `UPDATE ${s}.tasks AS t SET status = 'leased', worker_id = v.worker_id,
          leased_until = v.leased_until, lease_token = v.lease_token, attempts = v.attempts,
          lease_expirations = v.lease_expirations, available_at = v.available_at, updated_at = v.updated_at,
          lease_backend = $3
        FROM json_to_recordset($1::json) AS v(task_id bigint, worker_id text, leased_until float8,
          lease_token text, attempts int, lease_expirations int, available_at float8, updated_at float8)
        WHERE t.task_id = ANY($2::bigint[]) AND t.task_id = v.task_id`,
    },
    poison: {
      name: 'lease-poison',
      text: `UPDATE ${s}.tasks AS t SET status = 'failed', leased_until = NULL, lease_token = NULL,
          updated_at = $1, lease_expirations = t.lease_expirations + 1, error = v.error,
          error_kind = v.error_kind, error_fix = v.error_fix
        FROM json_to_recordset($2::json) AS v(task_id bigint, error text, error_kind text, error_fix text)
        WHERE t.task_id = ANY($3::bigint[]) AND t.task_id = v.task_id
        RETURNING ${taskColumnsOf('t')}`,
    },
  };
}

export interface LeaseItem extends BatchItem<LeaseResult> {
  request: LeaseRequest;
}

/** One request's share of a batch, filled as candidates are handed out. */
interface Share {
  item: LeaseItem;
  result: LeaseResult;
  budget: number;
  bytes: number;
}

const isFull = (share: Share) =>
  share.result.tasks.length >= share.item.request.max_tasks || share.bytes >= share.budget;

/** Requests that can take the same tasks (same backend, same tags) share their candidates. */
const routeKey = (request: LeaseRequest) =>
  JSON.stringify([request.backend ?? null, [...(request.tags ?? [])].sort()]);

/**
 * Run the lease requests of one event-loop turn in one transaction (one commit). Requests with the
 * same route share one pick: its candidates go to the requests in arrival order, each up to its
 * max_tasks and byte budget. Writes go out with the next statement (the connection pipelines), so
 * a batch of one route costs two round trips: BEGIN + pick, then the grants + COMMIT.
 */
export async function runLeases(
  db: Db,
  queries: ReturnType<typeof leaseQueries>,
  items: LeaseItem[],
  onWrite: () => void,
): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    let shares: Share[];
    try {
      shares = await db.withClient((client) => leaseBatch(client, db, queries, items));
    } catch (error) {
      if (isTransient(error) && attempt < 3) continue;
      if (!isDatabaseFault(error) && items.length > 1) {
        for (const item of items) await runLeases(db, queries, [item], onWrite);
        return;
      }
      const refusal = isDatabaseFault(error) ? db.fault(error, 'write') : error;
      for (const item of items) settle(item, { error: refusal });
      return;
    }
    onWrite();
    for (const share of shares) settle(share.item, { value: share.result });
    return;
  }
}

async function leaseBatch(
  client: pg.PoolClient,
  db: Db,
  queries: ReturnType<typeof leaseQueries>,
  items: LeaseItem[],
): Promise<Share[]> {
  const shares: Share[] = items.map((item) => ({
    item,
    result: { tasks: [], expired: [] },
    budget: item.request.max_bytes ?? Number.POSITIVE_INFINITY,
    bytes: 0,
  }));
  const routes = new Map<string, Share[]>();
  for (const share of shares) {
    const key = routeKey(share.item.request);
    routes.set(key, [...(routes.get(key) ?? []), share]);
  }
  const out = new Pipeline(client);
  try {
    out.send(BEGIN);
    for (const route of routes.values()) await leaseRoute(out, db, queries, route);
    out.send(COMMIT);
    await out.settled();
  } catch (error) {
    await out.settled().catch(() => {});
    await client.query(ROLLBACK).catch(() => {});
    throw error;
  }
  return shares;
}

/**
 * Statements sent on one connection without waiting for the ones before (the pool's connections
 * pipeline): those whose answer is not needed are awaited together at the end, the first error
 * kept. Every promise has a handler at once, so a failure is never an unhandled rejection.
 */
class Pipeline {
  private readonly client: pg.PoolClient;
  private readonly pending: Promise<void>[] = [];
  private error: unknown = null;
  private failed = false;

  constructor(client: pg.PoolClient) {
    this.client = client;
  }

  send<R extends pg.QueryResultRow>(query: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const result = this.client.query<R>(query);
    this.pending.push(
      result.then(
        () => {},
        (error: unknown) => {
          if (this.failed) return;
          this.failed = true;
          this.error = error;
        },
      ),
    );
    return result;
  }

  async settled(): Promise<void> {
    await Promise.all(this.pending);
    if (this.failed) throw this.error;
  }
}

const BEGIN = { name: 'begin', text: 'BEGIN' };
const COMMIT = { name: 'commit', text: 'COMMIT' };
const ROLLBACK = { name: 'rollback', text: 'ROLLBACK' };

/** The use of the caps a lease locked, in a statement after the lock (see caps.ts). */
async function measureCaps(out: Pipeline, db: Db, queries: CapQueries, scopes: string[]): Promise<CapUse[]> {
  const { rows } = await out.send<CapUse>({ ...queries.measure, values: [db.clock(), scopes] });
  const rated = rows.filter((cap) => cap.rate_per_min !== null).map((cap) => cap.scope);
  // Starts that left the window are done with.
  if (rated.length > 0) out.send({ ...queries.forget, values: [db.clock(), rated] });
  return rows;
}

/** Hand out the candidates of one route to its requests (inside the batch's transaction). */
async function leaseRoute(
  out: Pipeline,
  db: Db,
  queries: ReturnType<typeof leaseQueries>,
  route: Share[],
): Promise<void> {
  const { backend, tags } = route[0]!.item.request;
  // The caps this route is under: locked first, then counted (caps.ts says why in that order).
  // The lock goes out with the first pick; with no cap (the common case) it costs no round trip.
  const scopes = capScopesOf({ backend, tags });
  const locked = scopes.length > 0 ? out.send({ ...queries.caps.lock, values: [scopes] }) : null;
  // The backend's budget goes out with the first pick too (one primary-key read of each table).
  const budget = backend
    ? out.send<{ usd_per_day: number; spent: number }>({
        ...queries.spend.leaseBudget,
        values: [db.clock(), backend],
      })
    : null;
  let budgetRead = false;
  let caps: CapUse[] = [];
  let slots = new Map<string, number>();
  let full: string[] = [];
  let measured = false;
  // Poison tasks found among the candidates are failed, not handed out; look again for the rest.
  for (;;) {
    const open = route.filter((share) => !isFull(share));
    if (open.length === 0) return;
    const want = open.reduce(
      (sum, share) => sum + Math.trunc(share.item.request.max_tasks - share.result.tasks.length),
      0,
    );
    const picked = out.send<TaskRow & { now: number }>({
      ...queries.pick,
      values: [db.clock(), backend ?? null, tags ?? [], want, full],
    });
    if (locked && !measured && (await locked).rows.length > 0) {
      measured = true;
      caps = await measureCaps(out, db, queries.caps, scopes);
      slots = slotsOf(caps);
      // Picked before the caps were known: look again past the tags already full.
      if (fullTags(slots).length > 0) {
        full = fullTags(slots);
        await picked;
        continue;
      }
    }
    if (backend && slots.get(backend) === 0) return;
    if (budget && !budgetRead) {
      budgetRead = true;
      const [row] = (await budget).rows;
      // Out of its budget for today: nothing for this backend until the next UTC day.
      if (row && budgetExhausted(row.spent, row.usd_per_day)) return;
    }
    const candidates = (await picked).rows;
    if (candidates.length === 0) return;
    const now = candidates[0]!.now;
    const grants: (LeaseGrant & { task_id: number; worker_id: string })[] = [];
    const poisons: { task_id: number; error: string; error_kind: string; error_fix: string }[] = [];
    const starts: string[] = [];
    let capped = false;
    let next = 0;
    let taker: Share | undefined = open[0];
    for (const candidate of candidates) {
      while (taker && isFull(taker)) taker = open[++next];
      if (!taker) break;
      if (reachedLeaseExpiryLimit(candidate, db.policy)) {
        poisons.push({ task_id: candidate.task_id, ...leaseExpiredFailure(candidate) });
        continue;
      }
      if (!takeSlot(slots, backend, candidate)) {
        capped = true;
        continue;
      }
      starts.push(...rateScopesOf(caps, backend, candidate));
      const grant = grantLease(candidate, taker.item.request, now);
      grants.push({ task_id: candidate.task_id, ...grant });
      // The candidate row plus what the UPDATE changes: no need to read it back.
      taker.result.tasks.push(rowToTask({ ...candidate, status: 'leased', ...grant }, true));
      taker.bytes += taskAnswerBytes(candidate);
    }
    if (grants.length > 0) {
      out.send({
        ...queries.grant,
        values: [JSON.stringify(grants), grants.map((g) => g.task_id), backend ?? null],
      });
    }
    if (starts.length > 0) out.send({ ...queries.caps.logStarts, values: [db.clock(), starts] });
    // A capped candidate may have filled a tag's cap: look again past that tag's tasks.
    const nowFull = fullTags(slots);
    const refill = capped && nowFull.length > full.length;
    full = nowFull;
    if (poisons.length === 0 && !refill) return;
    if (poisons.length === 0) continue;
    const failed = await out.send<TaskRow>({
      ...queries.poison,
      values: [now, JSON.stringify(poisons), poisons.map((p) => p.task_id)],
    });
    // The hub announces them like any other failure: told to the first request of the route.
    for (const row of failed.rows) route[0]!.result.expired.push(rowToTask(row));
  }
}

/**
 * ack, extend, release and cancel: changes to one task that the queue policy decides from the
 * task's current state. They run batched (every such request of one event-loop turn together) in
 * two statements and no explicit transaction:
 *
 * 1. read the tasks (and the time) in one SELECT;
 * 2. decide each change in JavaScript with queue-policy.ts (checkClaim, checkCancelable,
 *    retriesAfterFailure, retryDelaySeconds, releasedAvailableAt), exactly as SQLite does;
 * 3. write every change in one UPDATE whose WHERE clause repeats what the decision was based on
 *    (status, lease token, worker, attempts). A row another hub changed in between does not match:
 *    its request is read and decided again, so two hubs racing to ack, cancel or retry the same
 *    task end in exactly one final state and the loser gets the policy's `conflict`. (The UPDATE
 *    waits for a concurrent writer of the row and then checks the row as it committed.)
 *
 * The common case, a `done` ack by the lease's holder, skips the read: one UPDATE with the claim in
 * its WHERE clause (fastAck), as in the SQLite store; the fast UPDATE and the read of the others go
 * out together on one connection.
 *
 * An ack also adds its spend (queue-policy.ts spendOfAck) to the spend row of its day and of the
 * agent's backend (lease_backend): an upsert in a CTE of the ack's UPDATE (spend.ts addSpendCte),
 * fed by the rows the UPDATE changed, so a refused or fenced ack adds nothing and an accepted one
 * adds exactly once.
 *
 * A single UPDATE is atomic and commits before it answers (autocommit), so a request's promise
 * settles only after its change is durable. Requests for the same task in one batch go in order,
 * one per round. Rows are written in task_id order, so two hubs' batches cannot deadlock on them.
 */
import type { Task } from '../../protocol/model.ts';
import {
  ackCost,
  checkCancelable,
  checkClaim,
  releasedAvailableAt,
  retriesAfterFailure,
  retryDelaySeconds,
  type SpendAdd,
  spendOfAck,
  taskNotFound,
} from '../queue-policy.ts';
import type { AckRequest, ExtendRequest, ReleaseRequest, Transition } from '../types.ts';
import { type Db, NOW } from './db.ts';
import { describeRequestError, isDatabaseFault, isTransient } from './faults.ts';
import { jsonText, rowToTask, TASK_COLUMNS, type TaskRow, taskColumnsOf } from './rows.ts';
import { addSpendCte, SPEND_COLUMN_TYPES, type SpendColumns, spendColumns, spendColumnsOf } from './spend.ts';
import { type BatchItem, settle } from './turn-batch.ts';

/** The columns a change may write (everything but the task's identity and what it asked for). */
type Change = Pick<
  TaskRow,
  | 'status'
  | 'worker_id'
  | 'leased_until'
  | 'lease_token'
  | 'result'
  | 'error'
  | 'error_kind'
  | 'error_fix'
  | 'duration_ms'
  | 'usage'
  | 'available_at'
  | 'attempts'
  | 'updated_at'
  | 'cost_usd'
  | 'cost_basis'
  | 'parsed'
  | 'session_id'
  | 'worktree'
>;

const CHANGE_COLUMNS: (keyof Change)[] = [
  'status',
  'worker_id',
  'leased_until',
  'lease_token',
  'result',
  'error',
  'error_kind',
  'error_fix',
  'duration_ms',
  'usage',
  'available_at',
  'attempts',
  'updated_at',
  'cost_usd',
  'cost_basis',
  'parsed',
  'session_id',
  'worktree',
];

/** The json columns of a change: written as their text and cast back. */
const JSON_CHANGE_COLUMNS = new Set<keyof Change>(['usage', 'parsed', 'worktree']);

interface Decision<T> {
  change: Change;
  /** An ack's: what it adds to its spend row once the change is written. */
  spend?: SpendAdd;
  answer: (row: TaskRow) => T;
}

/** One request: how to decide its change from the current row (throwing refuses it). */
export interface ClaimOp<T = unknown> extends BatchItem<T> {
  task_id: number;
  decide: (current: TaskRow | undefined, now: number) => Decision<T>;
  /** The one-statement path of a `done` ack (see FAST_ACK); taken once, then the general path. */
  fast?: { record: FastAckRecord; answer: (row: TaskRow) => T } | undefined;
  fastTried?: boolean;
  /** Rounds this request went through (a row that changed under it sends it round again). */
  rounds?: number;
}

/** What the one-statement ack writes: the claim to match, the outcome to store, its spend. */
interface FastAckRecord extends SpendColumns {
  task_id: number;
  lease_token: string | null;
  worker_id: string | null;
  result: string | null;
  error: string | null;
  error_kind: string | null;
  error_fix: string | null;
  duration_ms: number | null;
  usage: string | null;
  cost_usd: number | null;
  cost_basis: string | null;
  parsed: string | null;
  session_id: string | null;
  worktree: string | null;
}

/**
 * The common ack, `done` by the holder of the lease, in one statement (as in the SQLite store): an
 * UPDATE whose WHERE clause is the claim (queue-policy's claimHolds: leased, and the token and the
 * worker match when given). One that matches nothing takes the general path, where checkClaim says
 * why it is refused (or a race is decided again).
 */
export function fastAck(request: AckRequest): ClaimOp<Transition>['fast'] {
  if (request.status !== 'done') return undefined;
  return {
    record: {
      task_id: request.task_id,
      lease_token: request.lease_token ?? null,
      worker_id: request.worker_id ?? null,
      result: request.result ?? null,
      error: request.error ?? null,
      error_kind: request.error_kind ?? null,
      error_fix: request.error_fix ?? null,
      duration_ms: request.duration_ms ?? null,
      usage: jsonText(request.usage),
      parsed: jsonText(request.parsed),
      session_id: request.session_id ?? null,
      worktree: jsonText(request.worktree),
      ...ackCost(request),
      ...spendColumns(spendOfAck(request)),
    },
    answer: (row) => ({ task: rowToTask(row) }),
  };
}

const unchanged = (current: TaskRow): Change => ({
  status: current.status,
  worker_id: current.worker_id,
  leased_until: current.leased_until,
  lease_token: current.lease_token,
  result: current.result,
  error: current.error,
  error_kind: current.error_kind,
  error_fix: current.error_fix,
  duration_ms: current.duration_ms,
  usage: current.usage,
  available_at: current.available_at,
  attempts: current.attempts,
  updated_at: current.updated_at,
  cost_usd: current.cost_usd,
  cost_basis: current.cost_basis,
  parsed: current.parsed,
  session_id: current.session_id,
  worktree: current.worktree,
});

function existing(current: TaskRow | undefined, taskId: number): TaskRow {
  if (!current) throw taskNotFound(taskId);
  return current;
}

export function ackDecision(request: AckRequest, db: Db) {
  return (found: TaskRow | undefined, now: number): Decision<Transition> => {
    const current = existing(found, request.task_id);
    checkClaim(current, request, 'ack');
    const outcome = {
      error: request.error ?? null,
      error_kind: request.error_kind ?? null,
      error_fix: request.error_fix ?? null,
      duration_ms: request.duration_ms ?? null,
      updated_at: now,
      // The session the next run continues: a new one when the run reported it, else the last.
      session_id: request.session_id ?? current.session_id,
      // What the run changed in its worktree: a retry works on in the same one.
      worktree: request.worktree ? jsonText(request.worktree) : current.worktree,
      ...ackCost(request),
    };
    // Every accepted ack is a run that cost something, a retried one too.
    const spend = spendOfAck(request);
    if (retriesAfterFailure(current, request)) {
      return {
        spend,
        change: {
          ...unchanged(current),
          ...outcome,
          status: 'queued',
          worker_id: null,
          leased_until: null,
          lease_token: null,
          result: null,
          parsed: null,
          available_at: now + retryDelaySeconds(current.attempts, db.policy),
        },
        answer: (row) => ({ task: rowToTask(row), requeued: true }),
      };
    }
    return {
      spend,
      change: {
        ...unchanged(current),
        ...outcome,
        status: request.status,
        leased_until: null,
        lease_token: null,
        result: request.result ?? null,
        usage: jsonText(request.usage),
        parsed: jsonText(request.parsed),
      },
      answer: (row) => ({ task: rowToTask(row) }),
    };
  };
}

export function extendDecision(request: ExtendRequest) {
  return (found: TaskRow | undefined, now: number): Decision<Task> => {
    const current = existing(found, request.task_id);
    checkClaim(current, request, 'extend');
    return {
      change: { ...unchanged(current), leased_until: now + request.lease_seconds, updated_at: now },
      answer: (row) => rowToTask(row, true),
    };
  };
}

export function releaseDecision(request: ReleaseRequest) {
  return (found: TaskRow | undefined, now: number): Decision<Task> => {
    const current = existing(found, request.task_id);
    checkClaim(current, request, 'release');
    return {
      change: {
        ...unchanged(current),
        status: 'queued',
        worker_id: null,
        leased_until: null,
        lease_token: null,
        result: null,
        parsed: null,
        error: request.error ?? null,
        error_kind: request.error_kind ?? null,
        error_fix: request.error_fix ?? null,
        duration_ms: null,
        available_at: releasedAvailableAt(now, request.delay_ms),
        attempts: current.attempts - 1, // giving work back is not an attempt
        updated_at: now,
        session_id: request.session_id ?? current.session_id,
      },
      answer: (row) => rowToTask(row),
    };
  };
}

export function cancelDecision(taskId: number) {
  return (found: TaskRow | undefined, now: number): Decision<Task> => {
    const current = existing(found, taskId);
    checkCancelable(current);
    return {
      change: {
        ...unchanged(current),
        status: 'canceled',
        leased_until: null,
        lease_token: null,
        updated_at: now,
      },
      answer: (row) => rowToTask(row),
    };
  };
}

/** Give up on a request whose task kept changing under it (another hub writing it constantly). */
const MAX_ROUNDS = 50;

export function claimQueries(db: Db) {
  const s = db.s;
  return {
    read: {
      name: 'claims-read',
      text: `SELECT ${TASK_COLUMNS}, ${NOW(2)} AS now FROM ${s}.tasks WHERE task_id = ANY($1::bigint[])`,
    },
    // The acks' spend is added by the same statement, from the rows it changed (addSpendCte).
    fastAck: {
      name: 'claims-fast-ack',
      text: `WITH acked AS (
          UPDATE ${s}.tasks AS t SET status = 'done', result = v.result, error = v.error,
            error_kind = v.error_kind, error_fix = v.error_fix, duration_ms = v.duration_ms,
            usage = v.usage::json, leased_until = NULL, lease_token = NULL, updated_at = ${NOW(3)},
            cost_usd = v.cost_usd, cost_basis = v.cost_basis, parsed = v.parsed::json,
            session_id = COALESCE(v.session_id, t.session_id), worktree = COALESCE(v.worktree::json, t.worktree)
          FROM json_to_recordset($1::json) AS v(i int, task_id bigint, lease_token text, worker_id text,
            result text, error text, error_kind text, error_fix text, duration_ms float8, usage text,
            cost_usd float8, cost_basis text, parsed text, session_id text, worktree text, ${SPEND_COLUMN_TYPES})
          WHERE t.task_id = ANY($2::bigint[]) AND t.task_id = v.task_id AND t.status = 'leased'
            AND (v.lease_token IS NULL OR t.lease_token = v.lease_token)
            AND (v.worker_id IS NULL OR t.worker_id = v.worker_id)
          RETURNING v.i AS fast_i, t.updated_at AS spend_at, t.lease_backend AS spend_backend,
            ${spendColumnsOf('v')}, ${taskColumnsOf('t')}
        ), spent AS (${addSpendCte(s, 'acked')})
        SELECT fast_i, ${TASK_COLUMNS} FROM acked`,
    },
    write: {
      name: 'claims-write',
      text: `WITH written AS (
          UPDATE ${s}.tasks AS t SET ${CHANGE_COLUMNS.map((c) => `${c} = v.${c}${JSON_CHANGE_COLUMNS.has(c) ? '::json' : ''}`).join(', ')}
          FROM json_to_recordset($1::json) AS v(i int, task_id bigint, seen_status text, seen_token text,
            seen_worker text, seen_attempts int, status text, worker_id text, leased_until float8,
            lease_token text, result text, error text, error_kind text, error_fix text,
            duration_ms float8, usage text, available_at float8, attempts int, updated_at float8,
            cost_usd float8, cost_basis text, parsed text, session_id text, worktree text, ${SPEND_COLUMN_TYPES})
          WHERE t.task_id = ANY($2::bigint[]) AND t.task_id = v.task_id AND t.status = v.seen_status
            AND t.lease_token IS NOT DISTINCT FROM v.seen_token
            AND t.worker_id IS NOT DISTINCT FROM v.seen_worker AND t.attempts = v.seen_attempts
          RETURNING v.i, v.updated_at AS spend_at, t.lease_backend AS spend_backend, ${spendColumnsOf('v')}
        ), spent AS (${addSpendCte(s, 'written')})
        SELECT i FROM written`,
    },
  };
}

interface Planned {
  op: ClaimOp;
  current: TaskRow;
  decision: Decision<unknown>;
}

/**
 * Run a batch of claim requests to the end: each is answered with its change, or refused with the
 * policy's error, or (the database failed) with the fault's MitteloError.
 */
export async function runClaims(
  db: Db,
  queries: ReturnType<typeof claimQueries>,
  ops: ClaimOp[],
  onWrite: () => void,
): Promise<void> {
  let waiting = ops;
  while (waiting.length > 0) {
    // One request per task per round, in arrival order: the next one sees the first one's change.
    const seen = new Set<number>();
    const now: ClaimOp[] = [];
    const later: ClaimOp[] = [];
    for (const op of waiting) {
      if (seen.has(op.task_id)) {
        later.push(op);
        continue;
      }
      op.rounds = (op.rounds ?? 0) + 1;
      if (op.rounds > MAX_ROUNDS) {
        const kept = Object.assign(
          new Error(`task ${op.task_id} kept changing while this request was decided; send it again`),
          { code: '40001' },
        );
        settle(op, { error: db.fault(kept, 'unsent') });
      } else {
        seen.add(op.task_id);
        now.push(op);
      }
    }
    const retry = now.length > 0 ? await runRound(db, queries, now, onWrite) : [];
    waiting = [...retry, ...later];
  }
}

/** One round: read, decide, write. Returns the requests whose row changed under them. */
async function runRound(
  db: Db,
  queries: ReturnType<typeof claimQueries>,
  ops: ClaimOp[],
  onWrite: () => void,
): Promise<ClaimOp[]> {
  const fast = ops.filter((op) => op.fast && !op.fastTried).sort((a, b) => a.task_id - b.task_id);
  const slow = ops.filter((op) => !op.fast || op.fastTried);
  for (const op of fast) op.fastTried = true;
  const ids = slow.map((op) => op.task_id);
  const records = fast.map((op, i) => ({ i, ...op.fast!.record }));
  // Both statements go out together on one connection (it pipelines): one round trip.
  let written: PromiseSettledResult<(TaskRow & { fast_i: number })[]> | null = null;
  let read: PromiseSettledResult<(TaskRow & { now: number })[]> | null = null;
  try {
    await db.withClient(async (client) => {
      const sent = [
        records.length > 0
          ? client.query<TaskRow & { fast_i: number }>({
              ...queries.fastAck,
              values: [JSON.stringify(records), records.map((r) => r.task_id), db.clock()],
            })
          : null,
        ids.length > 0
          ? client.query<TaskRow & { now: number }>({ ...queries.read, values: [ids, db.clock()] })
          : null,
      ];
      const [w, r] = await Promise.allSettled(sent.map((query) => query?.then((result) => result.rows)));
      if (sent[0]) written = w as typeof written;
      if (sent[1]) read = r as typeof read;
      // A broken connection is dropped from the pool (withClient sees the error).
      for (const outcome of [written, read] as (PromiseSettledResult<unknown> | null)[]) {
        if (outcome?.status === 'rejected' && isDatabaseFault(outcome.reason)) throw outcome.reason;
      }
    });
  } catch (error) {
    // No connection, or it broke: a fast ack may have been stored (its outcome is unknown), a
    // read changed nothing.
    for (const op of fast) settle(op, { error: db.fault(error, 'write') });
    for (const op of slow) settle(op, { error: db.fault(error, 'unsent') });
    return [];
  }

  const retry: ClaimOp[] = [];
  const fastResult = written as PromiseSettledResult<(TaskRow & { fast_i: number })[]> | null;
  if (fastResult?.status === 'fulfilled') {
    const matched = new Map(fastResult.value.map((row) => [row.fast_i, row]));
    if (matched.size > 0) onWrite();
    fast.forEach((op, i) => {
      const row = matched.get(i);
      if (row) settle(op, { value: op.fast!.answer(row) });
      else retry.push(op); // not held as claimed: the general path says why
    });
  } else if (fastResult?.status === 'rejected') {
    retry.push(...fast); // refused for its content: the general path refuses just the bad one
  }

  const readResult = read as PromiseSettledResult<(TaskRow & { now: number })[]> | null;
  if (!readResult) return retry;
  if (readResult.status === 'rejected') {
    for (const op of slow) settle(op, { error: readResult.reason });
    return retry;
  }
  const rows = readResult.value;
  const byId = new Map(rows.map((row) => [row.task_id, row]));
  const time = db.clock() ?? rows[0]?.now ?? Number.NaN;
  const planned: Planned[] = [];
  for (const op of slow) {
    const current = byId.get(op.task_id);
    try {
      planned.push({ op, current: current!, decision: op.decide(current, time) });
    } catch (error) {
      settle(op, { error });
    }
  }
  if (planned.length === 0) return retry;
  planned.sort((a, b) => a.op.task_id - b.op.task_id);
  return [...retry, ...(await writeChanges(db, queries, planned, onWrite))];
}

async function writeChanges(
  db: Db,
  queries: ReturnType<typeof claimQueries>,
  planned: Planned[],
  onWrite: () => void,
): Promise<ClaimOp[]> {
  const records = planned.map(({ op, current, decision }, i) => ({
    i,
    task_id: op.task_id,
    seen_status: current.status,
    seen_token: current.lease_token,
    seen_worker: current.worker_id,
    seen_attempts: current.attempts,
    ...decision.change,
    ...spendColumns(decision.spend),
  }));
  let applied: Set<number>;
  for (let attempt = 0; ; attempt += 1) {
    try {
      applied = await db.withClient(async (client) => {
        const result = await client.query<{ i: number }>({
          ...queries.write,
          values: [JSON.stringify(records), records.map((r) => r.task_id)],
        });
        return new Set(result.rows.map((row) => row.i));
      });
      break;
    } catch (error) {
      if (isTransient(error) && attempt < 3) continue;
      if (!isDatabaseFault(error) && planned.length > 1) {
        // Something in one request PostgreSQL cannot store (a NUL character, say): write each alone,
        // so only that one is refused.
        const again: ClaimOp[] = [];
        for (const one of planned) again.push(...(await writeChanges(db, queries, [one], onWrite)));
        return again;
      }
      const refusal = isDatabaseFault(error)
        ? db.fault(error, 'write')
        : describeRequestError(error, db.where);
      for (const { op } of planned) settle(op, { error: refusal });
      return [];
    }
  }
  onWrite();
  const retry: ClaimOp[] = [];
  planned.forEach(({ op, current, decision }, i) => {
    if (!applied.has(i)) {
      retry.push(op);
      return;
    }
    try {
      settle(op, { value: decision.answer({ ...current, ...decision.change }) });
    } catch (error) {
      settle(op, { error });
    }
  });
  return retry;
}

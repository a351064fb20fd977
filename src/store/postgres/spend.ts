/**
 * Spend and budgets in PostgreSQL (migrations.ts, version 4). The spend rows are summed by the
 * ack's own statement (claims.ts: the UPDATE of the tasks and the upsert of their spend rows are
 * one statement, so one transaction), which every hub of the database adds to; budgets are read by
 * each lease in its transaction (lease.ts), so a budget holds across hubs. What the rows mean and
 * when a budget is exhausted is queue-policy.ts; this file only reads and writes them.
 */
import type pg from 'pg';
import type { Budget, BudgetState, SpendRow } from '../../protocol/model.ts';
import {
  budgetState,
  checkBudget,
  checkSpendDays,
  firstSpendDay,
  SECONDS_PER_DAY,
  type SpendAdd,
  utcDay,
} from '../queue-policy.ts';
import { SPEND_SUMS, type StoredSpendRow, spendFromRow } from '../spend-row.ts';
import { type Db, NOW } from './db.ts';

/** queue-policy.ts utcDay in SQL (the same floor of the same double, so the same day). */
export const utcDaySql = (seconds: string): string => `floor((${seconds}) / ${SECONDS_PER_DAY})::int`;

/** What an ack's record carries for its spend row (null on the other claims: no spend). */
export type SpendColumns = { [K in keyof SpendAdd as `add_${K}`]: number | null };

export function spendColumns(spend: SpendAdd | undefined): SpendColumns {
  const columns = {} as Record<string, number | null>;
  for (const sum of SPEND_SUMS) columns[`add_${sum}`] = spend ? spend[sum] : null;
  return columns as SpendColumns;
}

/** The json_to_recordset column definitions of SpendColumns. */
export const SPEND_COLUMN_TYPES = SPEND_SUMS.map(
  (sum) => `add_${sum} ${sum === 'cost_usd' || sum === 'estimated_usd' ? 'float8' : 'bigint'}`,
).join(', ');

/** SpendColumns of a record alias, for RETURNING them to addSpendCte. */
export const spendColumnsOf = (alias: string): string =>
  SPEND_SUMS.map((sum) => `${alias}.add_${sum}`).join(', ');

/**
 * A CTE that adds the spend of the acked rows of CTE `acked` (columns spend_at, spend_backend and
 * SpendColumns; rows whose add_tasks is NULL are no ack) to their rows, one upsert per (day,
 * backend), in key order so two hubs' statements lock the rows in the same order.
 */
export function addSpendCte(s: string, acked: string): string {
  return `INSERT INTO ${s}.spend AS sp (day, backend, ${SPEND_SUMS.join(', ')})
    SELECT ${utcDaySql('a.spend_at')}, COALESCE(a.spend_backend, ''), ${SPEND_SUMS.map((sum) => `sum(a.add_${sum})`).join(', ')}
    FROM ${acked} AS a WHERE a.add_tasks IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (day, backend) DO UPDATE SET
      ${SPEND_SUMS.map((sum) => `${sum} = sp.${sum} + EXCLUDED.${sum}`).join(', ')}`;
}

export function spendQueries(db: Db) {
  const s = db.s;
  const now = NOW(1);
  const today = utcDaySql(now);
  return {
    // A lease's look at its backend's budget ($2) and today's known cost against it.
    leaseBudget: {
      name: 'spend-lease-budget',
      text: `SELECT b.usd_per_day, COALESCE(sp.cost_usd, 0) AS spent FROM ${s}.budgets AS b
        LEFT JOIN ${s}.spend AS sp ON sp.day = ${today} AND sp.backend = b.backend
        WHERE b.backend = $2`,
    },
    // Always one row at least (the time); C collation: byte order, as SQLite sorts.
    budgets: {
      name: 'spend-budgets',
      text: `SELECT c.now, b.backend, b.usd_per_day, sp.cost_usd, sp.cost_unknown
        FROM (SELECT ${now} AS now) AS c
        LEFT JOIN ${s}.budgets AS b ON true
        LEFT JOIN ${s}.spend AS sp ON sp.day = ${utcDaySql('c.now')} AND sp.backend = b.backend
        ORDER BY b.backend COLLATE "C"`,
    },
    now: { name: 'spend-now', text: `SELECT ${now} AS now` },
    rows: {
      name: 'spend-rows',
      text: `SELECT day, backend, ${SPEND_SUMS.join(', ')} FROM ${s}.spend WHERE day >= $1
        ORDER BY day DESC, backend COLLATE "C"`,
    },
    set: {
      name: 'spend-budget-set',
      text: `INSERT INTO ${s}.budgets (backend, usd_per_day) VALUES ($1, $2)
        ON CONFLICT (backend) DO UPDATE SET usd_per_day = EXCLUDED.usd_per_day`,
    },
    clear: { name: 'spend-budget-clear', text: `DELETE FROM ${s}.budgets WHERE backend = $1` },
  };
}

export type SpendQueries = ReturnType<typeof spendQueries>;

export async function setBudget(
  client: pg.PoolClient,
  queries: SpendQueries,
  budget: Budget,
): Promise<Budget> {
  checkBudget(budget);
  await client.query({ ...queries.set, values: [budget.backend, budget.usd_per_day] });
  return { backend: budget.backend, usd_per_day: budget.usd_per_day };
}

export async function clearBudget(
  client: pg.PoolClient,
  queries: SpendQueries,
  backend: string,
): Promise<boolean> {
  const { rowCount } = await client.query({ ...queries.clear, values: [backend] });
  return (rowCount ?? 0) > 0;
}

/** Every budget with today's spend against it, and the store's time they were read at. */
export async function listBudgets(
  db: Db,
  queries: SpendQueries,
): Promise<{ now: number; budgets: BudgetState[] }> {
  const rows = await db.read<{
    now: number;
    backend: string | null;
    usd_per_day: number;
    cost_usd: number | null;
    cost_unknown: number | null;
  }>({ ...queries.budgets, values: [db.clock()] });
  const now = rows[0]!.now;
  const budgets: BudgetState[] = [];
  for (const row of rows) {
    if (row.backend === null) continue;
    const today =
      row.cost_usd === null ? undefined : { cost_usd: row.cost_usd, cost_unknown: row.cost_unknown ?? 0 };
    budgets.push(budgetState({ backend: row.backend, usd_per_day: row.usd_per_day }, today, now));
  }
  return { now, budgets };
}

/** Spend rows of the last `days` UTC days by the store's clock (1: today), newest day first. */
export async function spendRows(db: Db, queries: SpendQueries, days: number): Promise<SpendRow[]> {
  checkSpendDays(days);
  const now = db.clock() ?? (await db.read<{ now: number }>({ ...queries.now, values: [null] }))[0]!.now;
  const rows = await db.read<StoredSpendRow>({ ...queries.rows, values: [firstSpendDay(utcDay(now), days)] });
  return rows.map(spendFromRow);
}

/**
 * Spend and budgets in SQLite (migration 5): the `spend` table, summed by each accepted ack in its
 * transaction (sqlite-store.ts ackNow), and `budgets`, read by the lease in its own transaction
 * (leaseNow). What the rows mean and when a budget is exhausted is queue-policy.ts.
 */
import type Database from 'better-sqlite3';
import type { Budget, BudgetState, SpendRow } from '../../protocol/model.ts';
import {
  budgetExhausted,
  budgetState,
  checkBudget,
  checkSpendDays,
  firstSpendDay,
  type SpendAdd,
  utcDay,
} from '../queue-policy.ts';
import { SPEND_SUMS, type StoredSpendRow, spendBackend, spendFromRow } from '../spend-row.ts';

interface BudgetRow extends Budget {
  cost_usd: number | null;
  cost_unknown: number | null;
}

export class SqliteSpend {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      add: db.prepare(
        `INSERT INTO spend (day, backend, ${SPEND_SUMS.join(', ')})
         VALUES (@day, @backend, ${SPEND_SUMS.map((sum) => `@${sum}`).join(', ')})
         ON CONFLICT (day, backend) DO UPDATE SET
           ${SPEND_SUMS.map((sum) => `${sum} = spend.${sum} + excluded.${sum}`).join(', ')}`,
      ),
      rows: db.prepare(
        `SELECT day, backend, ${SPEND_SUMS.join(', ')} FROM spend WHERE day >= ? ORDER BY day DESC, backend`,
      ),
      // A lease's look at its backend's budget: one primary-key read of each table.
      budgetOf: db.prepare(
        `SELECT budgets.usd_per_day, spend.cost_usd FROM budgets
         LEFT JOIN spend ON spend.day = @day AND spend.backend = budgets.backend
         WHERE budgets.backend = @backend`,
      ),
      budgets: db.prepare(
        `SELECT budgets.backend, budgets.usd_per_day, spend.cost_usd, spend.cost_unknown FROM budgets
         LEFT JOIN spend ON spend.day = ? AND spend.backend = budgets.backend
         ORDER BY budgets.backend`,
      ),
      set: db.prepare(
        `INSERT INTO budgets (backend, usd_per_day) VALUES (@backend, @usd_per_day)
         ON CONFLICT (backend) DO UPDATE SET usd_per_day = excluded.usd_per_day`,
      ),
      clear: db.prepare('DELETE FROM budgets WHERE backend = ?'),
    };
  }

  /** Add an accepted ack's spend to the row of its day and the acking agent's backend (none: nothing). */
  add(now: number, backend: string | null, spend: SpendAdd | undefined): void {
    if (spend) this.sql.add.run({ day: utcDay(now), backend: spendBackend(backend), ...spend });
  }

  /** Whether `backend` has a budget and today's known cost reached it (inside the lease's transaction). */
  exhausted(backend: string, now: number): boolean {
    const row = this.sql.budgetOf.get({ day: utcDay(now), backend }) as
      | { usd_per_day: number; cost_usd: number | null }
      | undefined;
    return row !== undefined && budgetExhausted(row.cost_usd ?? 0, row.usd_per_day);
  }

  rows(days: number, now: number): SpendRow[] {
    checkSpendDays(days);
    const first = firstSpendDay(utcDay(now), days);
    return (this.sql.rows.all(first) as StoredSpendRow[]).map(spendFromRow);
  }

  budgets(now: number): BudgetState[] {
    return (this.sql.budgets.all(utcDay(now)) as BudgetRow[]).map((row) =>
      budgetState(
        row,
        row.cost_usd === null ? undefined : { cost_usd: row.cost_usd, cost_unknown: row.cost_unknown ?? 0 },
        now,
      ),
    );
  }

  set(budget: Budget): Budget {
    checkBudget(budget);
    this.sql.set.run({ backend: budget.backend, usd_per_day: budget.usd_per_day });
    return { backend: budget.backend, usd_per_day: budget.usd_per_day };
  }

  clear(backend: string): boolean {
    return this.sql.clear.run(backend).changes > 0;
  }
}

/**
 * `mittelo run --budget-usd`: the run's own spend limit. It sums the known cost (reported or
 * estimated, as the agents acked it: task.cost_usd) of the run's tasks as they finish; once the
 * sum reaches the budget the run stops leasing (job.ts). Tasks of unknown cost are not in the sum
 * (there is nothing honest to add), only counted, so the summary can say how many. A resumed run
 * counts only what finishes in its own session: the budget given to it is for that part.
 */
import type { Task } from '../protocol/model.ts';
import { knownCost } from './results.ts';

export interface BudgetOutcome {
  /** The budget, USD. */
  usd: number;
  /** Known cost of the tasks that finished in this session, USD. */
  spent_usd: number;
  /** Tasks that finished in this session with a cost that is unknown (not in spent_usd). */
  cost_unknown: number;
  /** true: spent_usd reached usd, and the run stopped leasing for it. */
  reached: boolean;
}

export class RunBudget {
  private spent = 0;
  private unknown = 0;
  private reachedAt: (() => void) | null = null;
  /** Resolves once the known cost reaches the budget (never, if it does not). */
  readonly reached: Promise<'budget'>;
  private isReached = false;
  readonly usd: number;

  constructor(usd: number) {
    this.usd = usd;
    this.reached = new Promise((resolve) => {
      this.reachedAt = () => resolve('budget');
    });
  }

  /** A task of the run finished (each once). */
  finished(task: Pick<Task, 'cost_usd' | 'cost_basis'>): void {
    // `?? null`: a hub from before spend sends neither field.
    const cost = knownCost({ cost_usd: task.cost_usd ?? null, cost_basis: task.cost_basis ?? null });
    if (task.cost_basis === 'unknown') this.unknown += 1;
    if (cost === null) return;
    // Rounded to a millionth of a dollar, so float dust never decides whether it was reached.
    this.spent = Math.round((this.spent + cost) * 1e6) / 1e6;
    if (!this.isReached && this.spent >= this.usd) {
      this.isReached = true;
      this.reachedAt?.();
    }
  }

  outcome(): BudgetOutcome {
    return { usd: this.usd, spent_usd: this.spent, cost_unknown: this.unknown, reached: this.isReached };
  }
}

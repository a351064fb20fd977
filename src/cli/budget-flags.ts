/**
 * Spend budgets and spend as people write and read them: `--budget claude_code=20usd/day` (hub and
 * `mittelo budget set`), and the lines `mittelo budget`, `mittelo status` and `mittelo stats`
 * print. A budget is always US dollars per UTC day, so the unit may be left out (`claude_code=20`)
 * but no other may be given: `20eur/day` or `20usd/hour` would be read wrong, so they are refused.
 */
import type { Budget, BudgetState, SpendRow } from '../protocol/model.ts';
import { CliError } from './common.ts';
import { formatCount } from './format.ts';
import { shortClock } from './queue-control-lines.ts';
import { checkTaskField } from './read-tasks.ts';

/** The form every message names. */
const FORM = 'NAME=20usd/day (or NAME=$20/day; the unit is always US dollars per UTC day)';
/** The same bound the hub's schema keeps (src/protocol/schemas.ts, usd_per_day). */
const MAX_USD_PER_DAY = 1_000_000;

/** `claude_code`: a backend name, as a budget's key. */
export function parseBudgetBackend(text: string, flag: string): string {
  const problem = text === '' ? 'is missing' : checkTaskField('backend', text);
  if (problem) throw new CliError(`${flag}: the backend ${problem}; write it as ${FORM}`);
  return text;
}

/** `20usd/day`, `$20/day`, `20/day`, `20usd`, `$20` or `20`: US dollars per UTC day. */
export function parseUsdPerDay(text: string, flag: string): number {
  // A minus sign is read, so that -5usd/day is told it is below 0 rather than not an amount.
  const match = /^(-)?\$?(\d+(?:\.\d+)?|\.\d+)\s*(?:usd)?\s*(?:\/\s*(?:day|d))?$/i.exec(text.trim());
  if (!match) {
    throw new CliError(`${flag}: "${text}" is not an amount of US dollars per day; write it as ${FORM}`);
  }
  const usd = Number(match[2]) * (match[1] ? -1 : 1);
  if (!(usd > 0)) {
    throw new CliError(
      `${flag}: a budget is more than 0 US dollars per day, got "${text}" (to stop leasing, use mittelo pause)`,
    );
  }
  if (usd > MAX_USD_PER_DAY) {
    throw new CliError(`${flag}: a budget may be at most ${formatCount(MAX_USD_PER_DAY)} US dollars per day`);
  }
  return usd;
}

/** `claude_code=20usd/day`: a budget. */
export function parseBudget(text: string, flag: string): Budget {
  const at = text.indexOf('=');
  if (at < 0) {
    throw new CliError(`${flag} takes ${FORM}, got "${text}"; for example ${flag} claude_code=20usd/day`);
  }
  return {
    backend: parseBudgetBackend(text.slice(0, at), flag),
    usd_per_day: parseUsdPerDay(text.slice(at + 1), flag),
  };
}

/** The budgets of repeated `--budget NAME=20usd/day` flags; a backend given twice is refused. */
export function budgetsFromFlags(texts: readonly string[] = []): Budget[] {
  const budgets = new Map<string, Budget>();
  for (const text of texts) {
    const budget = parseBudget(text, '--budget');
    if (budgets.has(budget.backend)) {
      throw new CliError(`--budget ${budget.backend} is given twice: give it once`);
    }
    budgets.set(budget.backend, budget);
  }
  return [...budgets.values()];
}

/** `$20.31`, `$0.0042` (small amounts keep two significant digits), `$1,204.50`. */
export function formatUsd(usd: number): string {
  if (usd !== 0 && Math.abs(usd) < 0.01) return `$${usd.toPrecision(2)}`;
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** `$20.31 of $20.00 today` (and how many acks of unknown cost are not in it). */
function spentOf(budget: BudgetState): string {
  const unknown =
    budget.cost_unknown_today > 0
      ? `, ${formatCount(budget.cost_unknown_today)} of unknown cost not counted`
      : '';
  return `${formatUsd(budget.spent_today_usd)} of ${formatUsd(budget.usd_per_day)} today${unknown}`;
}

/**
 * One line per budget, as `mittelo budget` and `mittelo status` print them:
 * `claude_code budget spent: $20.31 of $20.00 today; leasing again at 01:00` when it is exhausted
 * (local time), `claude_code budget: $3.10 of $20.00 today` when not.
 */
export function budgetLines(budgets: readonly BudgetState[], nowSeconds: number): string[] {
  return budgets.map((budget) =>
    budget.exhausted
      ? `${budget.backend} budget spent: ${spentOf(budget)}; leasing again at ${shortClock(budget.resets_at, nowSeconds)}`
      : `${budget.backend} budget: ${spentOf(budget)}`,
  );
}

/** Spend rows summed per backend (over days), by backend, the null backend last. */
export function spendByBackend(rows: readonly SpendRow[]): SpendRow[] {
  const sums = new Map<string | null, SpendRow>();
  for (const row of rows) {
    const sum = sums.get(row.backend);
    if (!sum) {
      sums.set(row.backend, { ...row });
      continue;
    }
    sum.tasks += row.tasks;
    sum.cost_usd += row.cost_usd;
    sum.estimated_usd += row.estimated_usd;
    sum.cost_unknown += row.cost_unknown;
    sum.input_tokens += row.input_tokens;
    sum.output_tokens += row.output_tokens;
    sum.cache_read_tokens += row.cache_read_tokens;
    sum.cache_write_tokens += row.cache_write_tokens;
  }
  return [...sums.values()].sort((a, b) =>
    a.backend === b.backend
      ? 0
      : a.backend === null
        ? 1
        : b.backend === null
          ? -1
          : a.backend.localeCompare(b.backend),
  );
}

/**
 * `claude_code: 12 tasks, 1,204,000 tokens, $3.10 (estimated $0.40), 2 of unknown cost`: what one
 * backend (or `no backend`) spent. Tokens are the four counts together.
 */
export function describeSpend(row: SpendRow): string {
  const tokens = row.input_tokens + row.output_tokens + row.cache_read_tokens + row.cache_write_tokens;
  const parts = [
    `${formatCount(row.tasks)} task${row.tasks === 1 ? '' : 's'}`,
    `${formatCount(tokens)} tokens`,
    formatUsd(row.cost_usd) + (row.estimated_usd > 0 ? ` (estimated ${formatUsd(row.estimated_usd)})` : ''),
  ];
  if (row.cost_unknown > 0) parts.push(`${formatCount(row.cost_unknown)} of unknown cost`);
  return `${row.backend ?? 'no backend'}: ${parts.join(', ')}`;
}

/**
 * The table `mittelo run` prints when it ends: per backend the counts, duration percentiles and,
 * when any task reported usage, its tokens and cost; a total row when there is more than one
 * backend. A cost is never shown as more certain than it is: `~` marks a sum with an estimated
 * part (list prices, src/spend/price-table.ts), and tasks of unknown cost are counted beside it
 * (`(+2 ?)`), not added as 0.
 */
import type { BackendSummary, RunSummary, SpendSummary } from '../run/results.ts';
import { formatUsd } from './budget-flags.ts';
import { formatCompact, formatCount, formatTable } from './format.ts';

/** `$0.42`, `~$0.42` (partly estimated), `$0.42 (+2 ?)`, `? (2)` (only unknown), `-` (nothing known). */
export function costCell(spend: SpendSummary): string {
  const unknown = spend.cost_unknown;
  if (spend.cost_usd === null) return unknown > 0 ? `? (${formatCount(unknown)})` : '-';
  const known = `${spend.estimated_usd > 0 ? '~' : ''}${formatUsd(spend.cost_usd)}`;
  return unknown > 0 ? `${known} (+${formatCount(unknown)} ?)` : known;
}

/** Whether any finished task said anything about tokens or cost (echo and shell tasks do not). */
export function hasSpend(spend: SpendSummary): boolean {
  return spend.input_tokens + spend.output_tokens > 0 || spend.cost_usd !== null || spend.cost_unknown > 0;
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** The summary table, and under it what `~` and `?` mean when a cell uses them. */
export function summaryTable(summary: Pick<RunSummary, 'backends' | 'spend'>): string {
  const spend = hasSpend(summary.spend);
  const headers = ['BACKEND', 'DONE', 'FAILED', 'CANCELED', 'P50', 'P95'];
  if (spend) headers.push('IN', 'OUT', 'COST');
  const row = (name: string, counts: Pick<BackendSummary, 'done' | 'failed' | 'canceled'>) => [
    name,
    formatCount(counts.done),
    formatCount(counts.failed),
    formatCount(counts.canceled),
  ];
  const spendCells = (of: SpendSummary) =>
    spend ? [formatCompact(of.input_tokens), formatCompact(of.output_tokens), costCell(of)] : [];
  const rows = summary.backends.map((b) => [
    ...row(b.backend, b),
    seconds(b.p50_ms),
    seconds(b.p95_ms),
    ...spendCells(b),
  ]);
  if (summary.backends.length > 1) {
    const sum = (key: 'done' | 'failed' | 'canceled') =>
      summary.backends.reduce((total, b) => total + b[key], 0);
    // Percentiles of different backends do not add up: the total row leaves them out.
    rows.push([
      ...row('TOTAL', { done: sum('done'), failed: sum('failed'), canceled: sum('canceled') }),
      '',
      '',
      ...spendCells(summary.spend),
    ]);
  }
  const lines = [formatTable(headers, rows)];
  const legend: string[] = [];
  if (summary.spend.estimated_usd > 0) legend.push('~ partly estimated from list prices');
  if (summary.spend.cost_unknown > 0) legend.push('? tasks of unknown cost, not in the sum');
  if (spend && legend.length > 0) lines.push(`(cost: ${legend.join('; ')})`);
  return lines.join('\n');
}

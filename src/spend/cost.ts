/**
 * What one run cost, from the `usage` its driver reported, as the agent sends it with the ack:
 *
 * - `reported`: the CLI said what it cost (`cost_usd` in usage: Claude Code's total_cost_usd,
 *   opencode's summed step costs). Believed as it is; a CLI's own figure beats any estimate.
 * - `estimated`: tokens and a model the price table knows (price-table.ts), priced at list prices.
 *   A usage with a per-model breakdown (`models`, Gemini routing one prompt to several models) is
 *   priced model by model, and is estimated only when every model in it is known.
 * - `unknown`: tokens, but no model, or a model the table does not know. Never 0: a cost of 0
 *   would read as "free" in spend sums and let a budget be overrun.
 * - `glm` (Claude Code pointed at GLM's endpoint): claude's total_cost_usd there is its guess at
 *   Anthropic prices for a model it does not know, not what GLM charges, so it is not taken as
 *   reported; GLM's tokens are priced by the table (which has no GLM rows: unknown).
 * - no cost at all (null): the run reported no usage (echo, shell, a CLI that prints only text).
 *   Nothing measurable was spent on a model, so nothing is sent and the task's cost_basis stays
 *   null; counting such runs as `unknown` would flag every echo task as a spend mystery.
 */
import type { CostBasis } from '../protocol/model.ts';
import { type TokenCounts, tokensOf } from '../protocol/usage-tokens.ts';
import { type PriceRow, priceOf } from './price-table.ts';

export interface RunCost {
  /** USD; absent when the basis is `unknown`. */
  cost_usd?: number;
  cost_basis: CostBasis;
}

/** The largest cost an ack may carry (src/protocol/schemas.ts); a CLI saying more is not believed. */
const MAX_COST_USD = 1_000_000;

type Usage = Record<string, unknown>;

const isRecord = (value: unknown): value is Usage =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isCost = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_COST_USD;

const hasTokens = (counts: TokenCounts): boolean => Object.values(counts).some((count) => count > 0);

/** Rounded to a millionth of a dollar: the sums of many runs stay free of float dust. */
const micro = (usd: number): number => Math.round(usd * 1e6) / 1e6;

/** Backends whose CLI's own cost figure is not the vendor's charge (see above). */
const COST_NOT_THEIRS: ReadonlySet<string> = new Set(['glm']);

/**
 * The cost of a run from its driver's usage; null when it reported none (see above). `backend`
 * is the backend's name, for the backends whose reported cost is not believed.
 */
export function costOf(usage: Usage | null | undefined, backend?: string): RunCost | null {
  if (!usage) return null;
  const believed = backend === undefined || !COST_NOT_THEIRS.has(backend);
  if (believed && isCost(usage.cost_usd)) return { cost_usd: usage.cost_usd, cost_basis: 'reported' };
  const parts = partsOf(usage);
  if (!parts.some((part) => hasTokens(tokensOf(part.usage))))
    return isCost(usage.cost_usd) ? { cost_basis: 'unknown' } : null;
  let total = 0;
  for (const part of parts) {
    const row = part.model ? priceOf(part.model) : null;
    if (!row) return { cost_basis: 'unknown' };
    total += priced(row, part.usage);
  }
  return isCost(total) ? { cost_usd: micro(total), cost_basis: 'estimated' } : { cost_basis: 'unknown' };
}

/** The usage to price, per model: the `models` breakdown when there is one, else the whole. */
function partsOf(usage: Usage): Array<{ model: string | null; usage: Usage }> {
  if (isRecord(usage.models)) {
    const entries = Object.entries(usage.models).filter((entry): entry is [string, Usage] =>
      isRecord(entry[1]),
    );
    if (entries.length > 0) return entries.map(([model, part]) => ({ model, usage: part }));
  }
  return [{ model: typeof usage.model === 'string' && usage.model ? usage.model : null, usage }];
}

/**
 * One model's tokens at its list prices. Vendors count differently: Anthropic's input_tokens
 * leave out cache reads and writes; OpenAI's and Google's input counts include the cached part
 * (billed at the cache price instead). Google bills thinking (`thoughts_tokens`) as output and
 * leaves it out of its output count. A count with no price of its own is billed as plain input.
 */
function priced(row: PriceRow, usage: Usage): number {
  const tokens = tokensOf(usage);
  const cached = tokens.cache_read_tokens;
  const input = row.vendor === 'anthropic' ? tokens.input_tokens : Math.max(0, tokens.input_tokens - cached);
  const thoughts = row.vendor === 'google' ? tokensNamed(usage, 'thoughts_tokens') : 0;
  const usd =
    input * row.input +
    cached * (row.cache_read ?? row.input) +
    (tokens.output_tokens + thoughts) * row.output +
    tokens.cache_write_tokens * (row.cache_write ?? row.input);
  return usd / 1e6;
}

function tokensNamed(usage: Usage, key: string): number {
  const value = usage[key];
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

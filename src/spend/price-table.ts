/**
 * List prices of the models the backends run, for estimating what a run cost when its CLI reports
 * tokens but no cost (Codex, Gemini, a plain OpenAI-compatible server).
 *
 * These rows are list prices as recorded on their `as_of` date from the vendor's pricing page in
 * `source` (the newest Anthropic rows from a stored copy of that page, read on their as_of date).
 * They were written down, not fetched: vendors change prices and add models, so re-check
 * the rows against `source` before relying on them, and every cost derived from them is marked
 * `estimated` (never `reported`). Only the standard tier is here: no batch, flex or priority
 * discounts, no long-context surcharges (Gemini 2.5 Pro above 200k prompt tokens costs more), and
 * Anthropic cache writes at the 5-minute rate. A model not in this table is unknown: its cost is
 * `unknown`, never 0.
 */

export type Vendor = 'anthropic' | 'openai' | 'google';

export interface PriceRow {
  vendor: Vendor;
  /** Model names as the vendor spells them, without snapshot dates (see modelKey). */
  models: readonly string[];
  /** USD per million tokens. */
  input: number;
  output: number;
  /** Cached input read back; null: the vendor has no cached-input price for this model. */
  cache_read: number | null;
  /** Input written to the cache; null: not charged per token (OpenAI, Gemini's implicit caching). */
  cache_write: number | null;
  /** The vendor's pricing page these prices were read from. */
  source: string;
  /** When they were recorded (YYYY-MM-DD). */
  as_of: string;
}

const ANTHROPIC = 'https://www.anthropic.com/pricing#api';
const OPENAI = 'https://openai.com/api/pricing/';
const GOOGLE = 'https://ai.google.dev/gemini-api/docs/pricing';
const ANTHROPIC_AS_OF = '2025-11-24';
/** Models newer than the rows above, read on this date from a stored copy of Anthropic's page. */
const ANTHROPIC_STORED_AS_OF = '2026-12-03';
const OPENAI_AS_OF = '2025-11-13';
const GOOGLE_AS_OF = '2025-11-18';

const anthropic = (models: string[], input: number, output: number, cacheRead: number, cacheWrite: number) =>
  ({
    vendor: 'anthropic',
    models,
    input,
    output,
    cache_read: cacheRead,
    cache_write: cacheWrite,
    source: ANTHROPIC,
    as_of: ANTHROPIC_AS_OF,
  }) as const satisfies PriceRow;

const openai = (models: string[], input: number, output: number, cacheRead: number | null) =>
  ({
    vendor: 'openai',
    models,
    input,
    output,
    cache_read: cacheRead,
    cache_write: null,
    source: OPENAI,
    as_of: OPENAI_AS_OF,
  }) as const satisfies PriceRow;

const google = (models: string[], input: number, output: number, cacheRead: number) =>
  ({
    vendor: 'google',
    models,
    input,
    output,
    cache_read: cacheRead,
    cache_write: null,
    source: GOOGLE,
    as_of: GOOGLE_AS_OF,
  }) as const satisfies PriceRow;

export const PRICE_TABLE: readonly PriceRow[] = [
  // Anthropic: input, output, cache read, cache write (5 min).
  {
    ...anthropic(['claude-opus-4.6', 'claude-opus-4.7', 'claude-opus-4.8'], 5, 25, 0.5, 6.25),
    as_of: ANTHROPIC_STORED_AS_OF,
  },
  { ...anthropic(['claude-sonnet-4.6'], 3, 15, 0.3, 3.75), as_of: ANTHROPIC_STORED_AS_OF },
  anthropic(['claude-opus-4.5'], 5, 25, 0.5, 6.25),
  anthropic(['claude-opus-4.1', 'claude-opus-4', 'claude-opus-4.0'], 15, 75, 1.5, 18.75),
  anthropic(['claude-sonnet-4.5', 'claude-sonnet-4', 'claude-sonnet-4.0'], 3, 15, 0.3, 3.75),
  anthropic(['claude-haiku-4.5'], 1, 5, 0.1, 1.25),
  anthropic(['claude-3.5-haiku'], 0.8, 4, 0.08, 1),
  // OpenAI: input, output, cached input.
  openai(['gpt-5', 'gpt-5-codex', 'gpt-5-chat', 'gpt-5.1', 'gpt-5.1-codex', 'gpt-5.1-chat'], 1.25, 10, 0.125),
  openai(['gpt-5-mini', 'gpt-5.1-codex-mini'], 0.25, 2, 0.025),
  openai(['codex-mini'], 1.5, 6, 0.375),
  openai(['gpt-5-nano'], 0.05, 0.4, 0.005),
  openai(['gpt-4.1'], 2, 8, 0.5),
  openai(['gpt-4.1-mini'], 0.4, 1.6, 0.1),
  openai(['gpt-4.1-nano'], 0.1, 0.4, 0.025),
  openai(['gpt-4o'], 2.5, 10, 1.25),
  openai(['gpt-4o-mini'], 0.15, 0.6, 0.075),
  openai(['o3'], 2, 8, 0.5),
  openai(['o4-mini'], 1.1, 4.4, 0.275),
  openai(['o3-mini'], 1.1, 4.4, 0.55),
  // Google (paid tier, prompts up to 200k tokens): input, output, cached input.
  google(['gemini-2.5-pro'], 1.25, 10, 0.31),
  google(['gemini-2.5-flash'], 0.3, 2.5, 0.075),
  google(['gemini-2.5-flash-lite'], 0.1, 0.4, 0.025),
];

/**
 * A model id reduced to the name the table lists: lower case, without a provider prefix
 * (`anthropic/`, `models/`, Bedrock's `us.anthropic.`), a context tag (`[1m]`), a Bedrock version
 * (`-v1:0`), a snapshot date (`-20250929`, `-2025-08-07`, `@20250929`) or `-latest`, and with
 * version digits joined by a dot (Anthropic's `claude-sonnet-4-5` is `claude-sonnet-4.5`). What is
 * left must equal a listed name: `claude-opus-4-6` does not fall back to Opus 4's price. (A dated
 * snapshot priced apart from its family, such as the first gpt-4o-2024-05-13, gets the family's
 * price: the table lists current prices, not every snapshot's.)
 */
export function modelKey(model: string): string {
  return model
    .trim()
    .toLowerCase()
    .replace(/^.*\//, '')
    .replace(/^(?:[a-z]{2,4}\.)?anthropic\./, '')
    .replace(/\[[^\]]*\]$/, '')
    .replace(/-v\d+(?::\d+)?$/, '')
    .replace(/(?:[-@]\d{8}|-\d{4}-\d{2}-\d{2}|-latest)$/, '')
    .replace(/(?<=(?:^|-)\d)-(?=\d(?:-|$))/g, '.');
}

/** The price row of a model id, or null when the table does not know it. */
export function priceOf(model: string): PriceRow | null {
  const key = modelKey(model);
  if (!key) return null;
  return PRICE_TABLE.find((row) => row.models.includes(key)) ?? null;
}

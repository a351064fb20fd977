/**
 * The token counts in an ack's `usage`. Each CLI names them its own way (Claude Code
 * `cache_read_input_tokens`, Codex `cached_input_tokens`, Gemini `cached_tokens`…) and the drivers
 * keep those names, so what a task shows is what its CLI said; this is the one place that reads
 * them as the four counts spend is summed in (the stores' spend rows, run summaries, the price
 * table's estimates).
 */

export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

/** The usage keys read as each count, first found wins. */
const ALIASES: Record<keyof TokenCounts, readonly string[]> = {
  input_tokens: ['input_tokens', 'prompt_tokens'],
  output_tokens: ['output_tokens', 'completion_tokens'],
  cache_read_tokens: ['cache_read_tokens', 'cache_read_input_tokens', 'cached_input_tokens', 'cached_tokens'],
  cache_write_tokens: ['cache_write_tokens', 'cache_creation_input_tokens'],
};

/** The four counts in a usage object; a count it does not carry (or carries as a non-number) is 0. */
export function tokensOf(usage: Record<string, unknown> | null | undefined): TokenCounts {
  const counts: TokenCounts = {
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
  };
  if (!usage) return counts;
  for (const key of Object.keys(ALIASES) as (keyof TokenCounts)[]) {
    for (const alias of ALIASES[key]) {
      const value = usage[alias];
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
        counts[key] = Math.round(value);
        break;
      }
    }
  }
  return counts;
}

// The token counts in a task's `usage`, under whatever names its CLI gave them (Claude Code
// `cache_read_input_tokens`, Codex `cached_input_tokens`, Gemini `cached_tokens`…). This mirrors
// src/protocol/usage-tokens.ts, the one reader on the hub's side: the page has no build step and
// cannot import TypeScript, so a key added there must be added here too.

/** The usage keys read as each count, first found wins. */
const ALIASES = {
  input_tokens: ['input_tokens', 'prompt_tokens'],
  output_tokens: ['output_tokens', 'completion_tokens'],
  cache_read_tokens: ['cache_read_tokens', 'cache_read_input_tokens', 'cached_input_tokens', 'cached_tokens'],
  cache_write_tokens: ['cache_write_tokens', 'cache_creation_input_tokens'],
};

/** The four counts in a usage object; a count it does not carry (or carries as a non-number) is 0. */
export function tokensOf(usage) {
  const counts = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };
  if (!usage) return counts;
  for (const [key, aliases] of Object.entries(ALIASES)) {
    for (const alias of aliases) {
      const value = usage[alias];
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
        counts[key] = Math.round(value);
        break;
      }
    }
  }
  return counts;
}

/** 950, 12.3k, 4.1M: token counts at a glance (the exact number goes in a title). */
export function compactCount(n) {
  const value = Number(n ?? 0);
  if (value < 1000) return String(value);
  // 999,600 reads 1M, not 1000k.
  if (value < 999_500) return `${trim(value / 1000)}k`;
  return `${trim(value / 1_000_000)}M`;
}

function trim(x) {
  return x >= 100 ? String(Math.round(x)) : x.toFixed(1).replace(/\.0$/, '');
}

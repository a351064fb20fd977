/** Reading the JSON Lines event streams CLIs print (claude stream-json, codex --json, ...). */

/** Every line of `text` that is a JSON object; other lines (banners, logs) are skipped. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const value = JSON.parse(trimmed) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value))
        events.push(value as Record<string, unknown>);
    } catch {
      // not JSON after all
    }
  }
  return events;
}

/** The first JSON object in `text` that may span lines (gemini pretty-prints), or null. */
export function firstJsonObject(text: string): Record<string, unknown> | null {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start === -1 || end <= start) return null;
  try {
    const value = JSON.parse(text.slice(start, end + 1)) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Copy the listed keys that are present (not undefined/null) from `source`, renaming as given. */
export function pick(
  source: Record<string, unknown> | undefined,
  keys: Record<string, string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!source) return out;
  for (const [from, to] of Object.entries(keys)) {
    if (source[from] !== undefined && source[from] !== null) out[to] = source[from];
  }
  return out;
}

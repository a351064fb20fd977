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

/**
 * Pulls every JSON object that starts with `marker` out of `text`, wherever it sits, and gives the
 * text back without them. Claude Code (2.1.74) can write a `rate_limit_event` in the middle of
 * another stream-json line, splitting it; cut out, the event parses and the line it split is whole
 * again. An object that never closes (output cut short) is left in place.
 */
export function extractObjects(
  text: string,
  marker: string,
): { objects: Array<Record<string, unknown>>; rest: string } {
  const objects: Array<Record<string, unknown>> = [];
  let rest = text;
  let from = 0;
  for (let start = rest.indexOf(marker, from); start !== -1; start = rest.indexOf(marker, from)) {
    const end = objectEnd(rest, start);
    if (end === -1) break;
    try {
      const value = JSON.parse(rest.slice(start, end)) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        objects.push(value as Record<string, unknown>);
        // Written into another line, the event brings its own newline: the split line's halves
        // join up again only without it.
        const midLine = start > 0 && rest[start - 1] !== '\n';
        const cutTo = midLine && rest[end] === '\n' ? end + 1 : end;
        rest = rest.slice(0, start) + rest.slice(cutTo);
        from = start;
        continue;
      }
    } catch {
      // not an object after all: look further on
    }
    from = start + marker.length;
  }
  return { objects, rest };
}

/** The index just past the `}` closing the object that opens at `start`, or -1. */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

// Numbers, times and durations as people read them.

export function count(n) {
  return Number(n ?? 0).toLocaleString('en');
}

/** `seconds` (Unix, float) relative to `nowMs`: "just now", "12 s ago", "3 min ago"… */
export function ago(seconds, nowMs) {
  if (!seconds) return '—';
  const s = Math.max(0, nowMs / 1000 - seconds);
  if (s < 2) return 'just now';
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

export function clock(seconds) {
  if (!seconds) return '—';
  return new Date(seconds * 1000).toLocaleString();
}

/** The time of day only (12:03:04), for times that are recent. */
export function clockTime(seconds) {
  if (!seconds) return '—';
  return new Date(seconds * 1000).toLocaleTimeString();
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** One usage value (tokens, cost, ids) for display. */
export function usageValue(key, value) {
  if (typeof value === 'number') {
    if (/cost/.test(key)) return `$${value.toFixed(value < 0.01 ? 6 : 4)}`;
    if (/_ms$/.test(key)) return duration(value);
    return count(value);
  }
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value);
}

export function firstLine(text, max = 160) {
  const line = String(text ?? '').split('\n', 1)[0];
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Bytes as people read them: 512 B, 13.4 KiB (mirrors formatBytes in src/cli/format.ts). */
export function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = Math.max(0, Number(n ?? 0));
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * How client commands show tasks to a person: aligned tables, one-line previews, ages and a
 * stats line. Machine readers use --json instead, so nothing here is a stable format.
 */
import type { AgentInfo, Stats, Task } from '../protocol/model.ts';
import { isScheduled, TASK_STATUSES } from '../protocol/model.ts';
import { goneSince } from './agent-presence.ts';

/** Text on one line (runs of whitespace become one space), cut to `width` with an ellipsis. */
export function preview(text: string | null | undefined, width: number): string {
  if (text === null || text === undefined) return '';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(0, width - 1))}…`;
}

/** A duration in seconds as the one largest unit that fits: 42s, 5m, 3h, 2d. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** A Unix time (seconds) as ISO-8601 UTC plus how long ago, or from now, it is. */
export function formatTime(unixSeconds: number, nowSeconds: number): string {
  const iso = new Date(unixSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const delta = nowSeconds - unixSeconds;
  return delta >= 0 ? `${iso} (${formatDuration(delta)} ago)` : `${iso} (in ${formatDuration(-delta)})`;
}

/** Counts as people read them: 12,345 (the same in every locale, so output stays comparable). */
const COUNT_FORMAT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatCount(value: number): string {
  return COUNT_FORMAT.format(value);
}

/**
 * A count in a few characters, for cells that need only its size: 950, 1.2k, 12.3k, 123k, 4.1M,
 * 2.0B (one decimal below 100 of a unit, none from there; 999,960 is 1.0M, not 1000.0k).
 */
export function formatCompact(value: number): string {
  const units: Array<[string, number]> = [
    ['B', 1e9],
    ['M', 1e6],
    ['k', 1e3],
  ];
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  for (const [index, [unit, size]] of units.entries()) {
    if (abs < size) continue;
    const scaled = abs / size;
    let text = scaled.toFixed(1);
    if (Number(text) >= 100) text = scaled.toFixed(0);
    // Rounding up into the next unit (999,960 -> "1000k") reads as the next unit instead.
    if (Number(text) >= 1000 && index > 0)
      return `${sign}${(abs / units[index - 1]![1]).toFixed(1)}${units[index - 1]![0]}`;
    return `${sign}${text}${unit}`;
  }
  const whole = Math.round(abs);
  return whole >= 1000 ? `${sign}1.0k` : `${sign}${whole}`;
}

/** Bytes as people read them: 512 B, 13.4 MiB (powers of 1024, one decimal from KiB up). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Width of output that is not a terminal (a pipe, a file, CI) and says nothing else. */
export const DEFAULT_WIDTH = 100;

/**
 * How many columns the output has: the terminal's width, else COLUMNS from the environment (as
 * ls and other tools read it), else DEFAULT_WIDTH.
 */
export function outputWidth(stream: NodeJS.WriteStream = process.stdout): number {
  if (stream.isTTY && stream.columns > 0) return stream.columns;
  const fromEnv = Number(process.env.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_WIDTH;
}

export interface TableOptions {
  /** Columns (by index) that may be cut to fit `width`; the others are always shown whole. */
  flexible?: readonly number[];
  /** The width to fit in (default: outputWidth()). Only flexible columns are ever cut. */
  width?: number;
}

/** Narrowest a flexible column is cut to: its heading, and at least this much text. */
const MIN_FLEXIBLE_WIDTH = 10;
const GAP = 2;

/**
 * Each column's width: its widest cell, except that while the table is wider than `width` the
 * widest flexible column loses a character (down to its heading, or MIN_FLEXIBLE_WIDTH), so
 * nothing is cut while there is room, and what must be cut is taken from what is longest.
 */
export function columnWidths(
  headers: readonly string[],
  rows: readonly string[][],
  options: TableOptions = {},
): number[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const flexible = (options.flexible ?? []).filter((column) => column >= 0 && column < headers.length);
  if (flexible.length === 0) return widths;
  const floor = (column: number) =>
    Math.min(widths[column]!, Math.max(headers[column]!.length, MIN_FLEXIBLE_WIDTH));
  const floors = new Map(flexible.map((column) => [column, floor(column)]));
  const limit = options.width ?? outputWidth();
  let excess = widths.reduce((sum, width) => sum + width, 0) + GAP * (headers.length - 1) - limit;
  while (excess > 0) {
    let widest = -1;
    for (const column of flexible) {
      if (widths[column]! <= floors.get(column)!) continue;
      if (widest === -1 || widths[column]! > widths[widest]!) widest = column;
    }
    if (widest === -1) break; // every flexible column is as narrow as it gets: the line runs over
    widths[widest]! -= 1;
    excess -= 1;
  }
  return widths;
}

/**
 * Columns padded to their width (columnWidths); a cell wider than its column is cut with an
 * ellipsis. The last column is not padded (no trailing spaces).
 */
export function formatTable(headers: string[], rows: string[][], options: TableOptions = {}): string {
  const widths = columnWidths(headers, rows, options);
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => {
        const width = widths[column]!;
        const fitted = cell.length > width ? `${cell.slice(0, Math.max(0, width - 1))}…` : cell;
        return column === cells.length - 1 ? fitted : fitted.padEnd(width);
      })
      .join(' '.repeat(GAP))
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function totalOf(stats: Stats): number {
  return TASK_STATUSES.reduce((sum, status) => sum + (stats[status] ?? 0), 0);
}

/** `queued 2 · leased 1 · done 40 · failed 0 · canceled 0 · total 43` */
export function formatStatsLine(stats: Stats): string {
  const parts = TASK_STATUSES.map((status) => `${status} ${formatCount(stats[status] ?? 0)}`);
  return [...parts, `total ${formatCount(totalOf(stats))}`].join(' · ');
}

/**
 * The status a person is shown: `scheduled` for a queued task that is not due yet (a not_before or
 * delay, a retry backoff), else the task's status. Only a display: on the wire it is `queued`.
 */
export function shownStatus(task: Pick<Task, 'status' | 'available_at'>, nowSeconds: number): string {
  return isScheduled(task, nowSeconds) ? 'scheduled' : task.status;
}

/** The outcome of a finished task in one short string: its result, or its error and kind. */
export function outcomeOf(task: Task): string {
  if (task.status === 'done') return task.result ?? '';
  const error = task.error ?? '';
  return task.error_kind ? `${task.error_kind}: ${error}` : error;
}

/** Longest text a table cell starts from; the table cuts it further to what fits. */
const CELL_TEXT = 500;

/** The columns of a task table (`mittelo status`, the dashboard's tasks). */
export const TASK_TABLE_HEADERS = [
  'ID',
  'STATUS',
  'BACKEND',
  'WORKER',
  'TRIES',
  'AGE',
  'PROMPT',
  'RESULT/ERROR',
];
/** Where PROMPT is among them: the dashboard puts its CHANGE column just before it. */
export const TASK_TABLE_PROMPT_COLUMN = 6;

/** One task's cells of TASK_TABLE_HEADERS. */
export function taskTableCells(task: Task, nowSeconds: number): string[] {
  return [
    String(task.task_id),
    shownStatus(task, nowSeconds),
    task.backend ?? '-',
    task.worker_id ? preview(task.worker_id, CELL_TEXT) : '-',
    `${task.attempts}/${task.max_attempts}`,
    formatDuration(nowSeconds - task.created_at),
    preview(task.prompt, CELL_TEXT),
    preview(outcomeOf(task), CELL_TEXT),
  ];
}

/** The `mittelo status` table, newest first as the hub lists them; `width`: see TableOptions. */
export function formatTaskTable(tasks: Task[], nowSeconds: number, width?: number): string {
  const rows = tasks.map((task) => taskTableCells(task, nowSeconds));
  // Cut first what is longest of the result, the prompt and the worker id; the rest stays whole.
  return formatTable(TASK_TABLE_HEADERS, rows, {
    flexible: [3, TASK_TABLE_PROMPT_COLUMN, TASK_TABLE_PROMPT_COLUMN + 1],
    width,
  });
}

/**
 * The agents part of `mittelo status`: who is connected, what each runs, and for an unhealthy
 * one the reason and the fix on the lines below it.
 */
export function formatAgentTable(agents: AgentInfo[], nowSeconds: number, width?: number): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const agent of agents) {
    rows.push([
      preview(agent.worker_id, CELL_TEXT),
      agent.backend ?? '-',
      stateOf(agent, nowSeconds),
      // A gone agent's last health report says nothing about now.
      goneSince(agent) !== null ? '-' : agent.healthy ? 'ok' : 'UNHEALTHY',
      agent.current_tasks.length ? agent.current_tasks.join(',') : '-',
      formatCount(agent.tasks_done),
      formatCount(agent.tasks_failed),
      `${formatDuration(nowSeconds - agent.last_contact)} ago`,
    ]);
    if (!agent.healthy) {
      notes.push(
        `${agent.worker_id}: ${agent.reason ?? 'unhealthy'}${agent.fix ? `\n  fix: ${agent.fix}` : ''}`,
      );
    }
  }
  const table = formatTable(
    ['AGENT', 'BACKEND', 'STATE', 'HEALTH', 'RUNNING', 'DONE', 'FAILED', 'SEEN'],
    rows,
    { flexible: [0, 4], width },
  );
  return [table, ...notes].join('\n');
}

/** `connected`, or `disconnected 3m ago` (since its connection closed). */
function stateOf(agent: AgentInfo, nowSeconds: number): string {
  const since = goneSince(agent);
  return since === null ? 'connected' : `disconnected ${formatDuration(nowSeconds - since)} ago`;
}

/** Text shown indented under a heading, kept whole (a person asked for this task in full). */
function block(title: string, text: string): string {
  const body = text === '' ? '  (empty)' : text.replace(/\n$/, '').replace(/^/gm, '  ');
  return `${title}:\n${body}`;
}

/** `mittelo get`: every field of one task, then its prompt, result and error in full. */
export function formatTaskDetail(task: Task, nowSeconds: number): string {
  const fields: Array<[string, string | null]> = [
    ['status', shownStatus(task, nowSeconds)],
    ['backend', task.backend],
    ['tags', task.tags.length ? task.tags.join(', ') : null],
    ['priority', String(task.priority)],
    ['worker', task.worker_id],
    [
      'attempts',
      `${task.attempts} of ${task.max_attempts}` +
        (task.lease_expirations ? ` (${task.lease_expirations} lease(s) ran out)` : ''),
    ],
    ['created', formatTime(task.created_at, nowSeconds)],
    ['updated', formatTime(task.updated_at, nowSeconds)],
    ['leased until', task.leased_until === null ? null : formatTime(task.leased_until, nowSeconds)],
    ['due', isScheduled(task, nowSeconds) ? formatTime(task.available_at, nowSeconds) : null],
    ['timeout', task.timeout_s === null ? null : `${task.timeout_s}s`],
    ['duration', task.duration_ms === null ? null : `${formatCount(task.duration_ms)} ms`],
    ['error kind', task.error_kind],
    ['fix', task.error_fix],
    ['usage', task.usage ? JSON.stringify(task.usage) : null],
    ['metadata', task.metadata ? JSON.stringify(task.metadata) : null],
  ];
  const shown = fields.filter((entry): entry is [string, string] => entry[1] !== null);
  const width = Math.max(...shown.map(([key]) => key.length));
  const lines = [`task ${task.task_id}`, ...shown.map(([key, value]) => `  ${key.padEnd(width)}  ${value}`)];
  const blocks = [block('prompt', task.prompt)];
  if (task.result !== null) blocks.push(block('result', task.result));
  if (task.error !== null) blocks.push(block('error', task.error));
  return [lines.join('\n'), ...blocks].join('\n\n');
}

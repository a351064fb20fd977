/**
 * How client commands show tasks to a person: aligned tables, one-line previews, ages and a
 * stats line. Machine readers use --json instead, so nothing here is a stable format.
 */
import type { AgentInfo, Stats, Task } from '../protocol/model.ts';
import { TASK_STATUSES } from '../protocol/model.ts';

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

/** Columns padded to their widest cell; the last column is not padded (no trailing spaces). */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function totalOf(stats: Stats): number {
  return TASK_STATUSES.reduce((sum, status) => sum + (stats[status] ?? 0), 0);
}

/** `queued 2 · leased 1 · done 40 · failed 0 · canceled 0 · total 43` */
export function formatStatsLine(stats: Stats): string {
  const parts = TASK_STATUSES.map((status) => `${status} ${stats[status] ?? 0}`);
  return [...parts, `total ${totalOf(stats)}`].join(' · ');
}

/** The outcome of a finished task in one short string: its result, or its error and kind. */
export function outcomeOf(task: Task): string {
  if (task.status === 'done') return task.result ?? '';
  const error = task.error ?? '';
  return task.error_kind ? `${task.error_kind}: ${error}` : error;
}

const PROMPT_WIDTH = 40;
const OUTCOME_WIDTH = 40;
const WORKER_WIDTH = 20;

/** The `mittelo status` table, newest first as the hub lists them. */
export function formatTaskTable(tasks: Task[], nowSeconds: number): string {
  const rows = tasks.map((task) => [
    String(task.task_id),
    task.status,
    task.backend ?? '-',
    task.worker_id ? preview(task.worker_id, WORKER_WIDTH) : '-',
    `${task.attempts}/${task.max_attempts}`,
    formatDuration(nowSeconds - task.created_at),
    preview(task.prompt, PROMPT_WIDTH),
    preview(outcomeOf(task), OUTCOME_WIDTH),
  ]);
  return formatTable(['ID', 'STATUS', 'BACKEND', 'WORKER', 'TRIES', 'AGE', 'PROMPT', 'RESULT/ERROR'], rows);
}

/**
 * The agents part of `mittelo status`: who is connected, what each runs, and for an unhealthy
 * one the reason and the fix on the lines below it.
 */
export function formatAgentTable(agents: AgentInfo[], nowSeconds: number): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const agent of agents) {
    rows.push([
      preview(agent.worker_id, 40),
      agent.backend ?? '-',
      agent.connected ? 'connected' : 'gone',
      agent.healthy ? 'ok' : 'UNHEALTHY',
      agent.current_tasks.length ? agent.current_tasks.join(',') : '-',
      String(agent.tasks_done),
      String(agent.tasks_failed),
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
  );
  return [table, ...notes].join('\n');
}

/** Text shown indented under a heading, kept whole (a person asked for this task in full). */
function block(title: string, text: string): string {
  const body = text === '' ? '  (empty)' : text.replace(/\n$/, '').replace(/^/gm, '  ');
  return `${title}:\n${body}`;
}

/** `mittelo get`: every field of one task, then its prompt, result and error in full. */
export function formatTaskDetail(task: Task, nowSeconds: number): string {
  const fields: Array<[string, string | null]> = [
    ['status', task.status],
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
    [
      'available at',
      task.available_at > nowSeconds && task.status === 'queued'
        ? formatTime(task.available_at, nowSeconds)
        : null,
    ],
    ['timeout', task.timeout_s === null ? null : `${task.timeout_s}s`],
    ['duration', task.duration_ms === null ? null : `${task.duration_ms} ms`],
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

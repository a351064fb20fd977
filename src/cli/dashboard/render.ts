/**
 * The dashboard as lines of plain text for a screen of a given size: pure, so the terminal loop,
 * the plain log output, `--once` and the tests all draw the same thing. Nothing here writes
 * control codes; text that came from the hub is stripped of them, so a prompt cannot move the
 * cursor or change the terminal.
 */
import type { AgentInfo } from '../../protocol/model.ts';
import { goneSince } from '../agent-presence.ts';
import { budgetLines, describeSpend, spendByBackend } from '../budget-flags.ts';
import { formatAgentTable, formatCount, formatDuration, formatStatsLine, totalOf } from '../format.ts';
import { idleRouteLine, idleRoutes } from '../idle-routes.ts';
import { capLines } from '../limit-flags.ts';
import { pauseLines, scheduledLine } from '../queue-control-lines.ts';
import type { DashboardFilter, Snapshot } from './snapshot.ts';
import { taskRows } from './task-rows.ts';

export type ConnectionState = 'connecting' | 'connected' | 'unreachable' | 'error';

export interface DashboardView {
  /** `host:port`. */
  hub: string;
  /** Unix seconds. */
  now: number;
  connection: ConnectionState;
  /** What went wrong in the last attempt when `connection` is `error`. */
  problem: string | null;
  /** The last snapshot that arrived (stale unless connected), null before the first. */
  snapshot: Snapshot | null;
  /** The filter as the person set it now (the snapshot may still show the previous one). */
  filter: DashboardFilter;
  /** The key help line of an interactive screen; `search` is the text being typed after `/`. */
  keys: { search: string | null } | null;
}

export interface ScreenSize {
  width: number;
  height: number;
}

const STATE_LABEL: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  connected: 'connected',
  unreachable: 'NOT REACHABLE',
  error: 'HUB ERROR',
};

export function clockTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toTimeString().slice(0, 8);
}

function since(view: DashboardView): string {
  if (!view.snapshot) return 'no snapshot yet';
  return `last snapshot ${formatDuration(view.now - view.snapshot.taken_at)} ago`;
}

/**
 * The one line saying the hub cannot be used right now and that the dashboard keeps trying;
 * null while connected. Also what the plain output prints instead of repeating a stale snapshot.
 */
export function problemLine(view: DashboardView): string | null {
  switch (view.connection) {
    case 'connected':
      return null;
    case 'connecting':
      return `connecting to the hub at ${view.hub}…`;
    case 'unreachable':
      return `hub at ${view.hub} is not reachable — retrying (start one with \`mittelo hub\`) · ${since(view)}`;
    case 'error':
      return `hub at ${view.hub}: ${view.problem ?? 'unknown error'} — retrying · ${since(view)}`;
  }
}

export function filterLine(filter: DashboardFilter): string {
  const search = filter.search === null ? 'none' : JSON.stringify(filter.search);
  return `filter: status ${filter.status ?? 'all'} · backend ${filter.backend ?? 'all'} · search ${search}`;
}

function footerLine(keys: { search: string | null }): string {
  if (keys.search !== null) return `search prompts: ${keys.search}▏  (Enter apply · Esc cancel)`;
  return 'keys: q quit · s status · b backend · / search · r refresh';
}

/** Problems first: unhealthy, then healthy, then the disconnected (whatever their last health), each by worker id. */
function agentOrder(a: AgentInfo, b: AgentInfo): number {
  const rank = (agent: AgentInfo) => (goneSince(agent) !== null ? 2 : agent.healthy ? 1 : 0);
  return rank(a) - rank(b) || a.worker_id.localeCompare(b.worker_id);
}

/**
 * The agents section in at most `budget` lines (a table with fewer agents and a "more" line).
 * Routes with queued work and no healthy agent come right under the title: they are why work waits.
 */
function agentLines(snapshot: Snapshot, now: number, budget: number, width: number): string[] {
  const { agents } = snapshot;
  if (agents === null) return ['agents: not reported (a v0.1 hub keeps no agent list)'];
  const idle = snapshot.queued_by_backend
    ? idleRoutes(snapshot.queued_by_backend, agents, now).map(idleRouteLine)
    : [];
  if (agents.length === 0) return ['agents: none — start one with `mittelo agent`', ...idle].slice(0, budget);
  const sorted = [...agents].sort(agentOrder);
  const connected = agents.filter((agent) => goneSince(agent) === null).length;
  const unhealthy = agents.filter((agent) => !agent.healthy && goneSince(agent) === null).length;
  const title = `agents: ${agents.length} (${connected} connected, ${unhealthy} unhealthy)`;
  for (let shown = sorted.length; shown >= 1; shown -= 1) {
    const lines = [title, ...idle, ...formatAgentTable(sorted.slice(0, shown), now, width).split('\n')];
    if (shown < sorted.length) lines.push(`… ${sorted.length - shown} more agent(s)`);
    if (lines.length <= budget) return lines;
  }
  return [title, ...idle].slice(0, Math.max(1, budget));
}

/**
 * The tasks section in at most `budget` lines: the newest rows that fit, each running task with
 * its newest output line under it (from a hub with live output).
 */
function taskLines(
  snapshot: Snapshot,
  filter: DashboardFilter,
  now: number,
  budget: number,
  width: number,
): string[] {
  const { tasks, stats } = snapshot;
  const asked = snapshot.filter;
  const updating = sameFilter(asked, filter) ? '' : ' (updating for the new filter…)';
  if (tasks.length === 0) {
    const narrowed = asked.status !== null || asked.backend !== null || asked.search !== null;
    const none = narrowed
      ? 'tasks: none match the filter'
      : 'tasks: none yet — add one with `mittelo enqueue`';
    return [`${none}${updating}`];
  }
  const table = taskRows(tasks, snapshot.newest_output, now, budget - 1, width);
  const rows = table.shown;
  // The hub counts per status only, so "of how many" is known unless backend or search narrows.
  const matching = asked.backend || asked.search ? null : asked.status ? stats[asked.status] : totalOf(stats);
  const count =
    matching !== null && matching > rows
      ? `${formatCount(rows)} of ${formatCount(matching)}`
      : formatCount(rows);
  // Where the whole diff of a CHANGE is: the dashboard shows its size only.
  const diffHint = table.changes ? ' · a change in full: mittelo diff ID' : '';
  const title = `tasks, newest first: ${count}${updating}${diffHint}`;
  return [title, ...table.lines];
}

/**
 * Under the counts: what is paused, the caps in use, today's spend and budgets per backend, and
 * how many queued tasks are not due yet.
 */
function queueControlLines(snapshot: Snapshot, now: number): string[] {
  const scheduled = snapshot.queued_by_backend ? scheduledLine(snapshot.queued_by_backend) : null;
  return [
    ...pauseLines(snapshot.pauses ?? [], now),
    ...capLines(snapshot.limits ?? []),
    ...spendLines(snapshot, now),
    ...(scheduled ? [scheduled] : []),
  ];
}

/**
 * What each backend spent today (UTC, by the store clock) and each budget, in the words of
 * `mittelo stats` and `mittelo status`; nothing from a hub too old to count spend.
 */
function spendLines(snapshot: Snapshot, now: number): string[] {
  const spend = snapshot.spend;
  const today = spend ? spendByBackend(spend.rows.filter((row) => row.day === spend.today)) : [];
  return [
    ...today.map((row) => `spend today: ${describeSpend(row)}`),
    ...budgetLines(snapshot.budgets ?? [], now),
  ];
}

function sameFilter(a: DashboardFilter, b: DashboardFilter): boolean {
  return a.status === b.status && a.backend === b.backend && a.search === b.search;
}

/** Control characters (C0, DEL, C1) would be obeyed by the terminal: show them as `?`. */
function printable(line: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
  return line.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function fit(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

/** The whole screen: at most `size.height` lines, none longer than `size.width` characters. */
export function renderDashboard(view: DashboardView, size: ScreenSize): string[] {
  const header = `mittelö dashboard · hub ${view.hub} · ${clockTime(view.now)} · ${STATE_LABEL[view.connection]}`;
  const top = [header];
  const problem = problemLine(view);
  if (problem) top.push(problem);
  const footer = view.keys ? [footerLine(view.keys)] : [];
  const body: string[] = [];
  const snapshot = view.snapshot;
  if (snapshot) {
    if (view.connection !== 'connected') {
      const age = formatDuration(view.now - snapshot.taken_at);
      top.push(`STALE: the snapshot below is from ${clockTime(snapshot.taken_at)} (${age} ago)`);
    }
    top.push(
      formatStatsLine(snapshot.stats),
      ...queueControlLines(snapshot, view.now),
      filterLine(view.filter),
    );
    const room = size.height - top.length - footer.length;
    // Agents get half the room (less the two blank separator lines), or what tasks leave over.
    const tasksWant = snapshot.tasks.length + 2;
    const agentRoom = Math.max(1, Math.floor((room - 2) / 2), room - 2 - tasksWant);
    const agents = agentLines(snapshot, view.now, agentRoom, size.width);
    const tasks = taskLines(snapshot, view.filter, view.now, room - 2 - agents.length, size.width);
    body.push('', ...agents, '', ...tasks);
  } else {
    top.push(filterLine(view.filter));
  }
  let lines = [...top, ...body];
  if (lines.length + footer.length > size.height) {
    lines = lines.slice(0, Math.max(0, size.height - footer.length));
  }
  lines.push(...footer);
  return lines.slice(0, Math.max(0, size.height)).map((line) => fit(printable(line), size.width));
}

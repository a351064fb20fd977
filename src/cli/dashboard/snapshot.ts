/**
 * One look at the hub for the dashboard: the counts, the agents and the newest tasks matching
 * the filter, fetched together so a screen never mixes answers from different moments by much.
 */
import type { HubClient } from '../../client/hub-client.ts';
import type {
  AgentInfo,
  BudgetState,
  CapState,
  Pause,
  QueuedCount,
  SpendRow,
  Stats,
  Task,
  TaskStatus,
} from '../../protocol/model.ts';
import { TASK_STATUSES } from '../../protocol/model.ts';
import { type NewestLines, NewestOutput } from './newest-output.ts';

/** What the task list is narrowed to; null means no narrowing. */
export interface DashboardFilter {
  status: TaskStatus | null;
  backend: string | null;
  /** Case-insensitive text the prompt must contain. */
  search: string | null;
}

export const NO_FILTER: DashboardFilter = { status: null, backend: null, search: null };

export interface Snapshot {
  /** `host:port` of the hub it came from. */
  hub: string;
  /** Unix seconds when the answers arrived. */
  taken_at: number;
  filter: DashboardFilter;
  /** Counts per status over the whole queue (the filter does not narrow them). */
  stats: Stats;
  /** null from a v0.1 hub, which keeps no agent registry. */
  agents: AgentInfo[] | null;
  /** Queued tasks per backend (null: unrouted); null from a hub that does not count them. */
  queued_by_backend: QueuedCount[] | null;
  /** The pauses in force; null from a hub that cannot pause. */
  pauses: Pause[] | null;
  /** The caps on leasing with their use; null (or absent) from a hub without caps. */
  limits?: CapState[] | null;
  /** Today's spend per backend (`spend` with days 1); null (or absent) from a hub that does not count it. */
  spend?: { today: string; rows: SpendRow[] } | null;
  /** The daily budgets with today's spend against them; null (or absent) from a hub without budgets. */
  budgets?: BudgetState[] | null;
  /** Newest first. */
  tasks: Task[];
  /**
   * The newest output line of each leased task listed, by task id; null (or absent) from a hub
   * without live output. A running task that printed nothing yet has no entry.
   */
  newest_output?: NewestLines | null;
}

/** `newest` keeps the running tasks' newest lines between snapshots (a session passes its own). */
export async function takeSnapshot(
  client: HubClient,
  filter: DashboardFilter,
  limit: number,
  newest: NewestOutput = new NewestOutput(),
): Promise<Snapshot> {
  const [listed, report, pauses, limits, spend, budgets] = await Promise.all([
    client.list({
      limit,
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.backend ? { backend: filter.backend } : {}),
      ...(filter.search ? { search: filter.search } : {}),
    }),
    client.agentsReportOrNull(),
    client.pausesOrNull(),
    client.limitsOrNull(),
    client.spendOrNull({ days: 1 }),
    client.budgetsOrNull(),
  ]);
  // After the list, since only the tasks it shows running are asked about.
  const newestOutput = await newest.read(client, listed.tasks);
  return {
    hub: client.where,
    taken_at: Date.now() / 1000,
    filter: { ...filter },
    stats: listed.stats,
    agents: report?.agents ?? null,
    queued_by_backend: report?.queued_by_backend ?? null,
    pauses,
    limits,
    spend,
    budgets,
    tasks: listed.tasks,
    newest_output: newestOutput,
  };
}

/** The backends a snapshot mentions (agents' and tasks'), for cycling the backend filter. */
export function backendsIn(snapshot: Snapshot): string[] {
  const names = new Set<string>();
  for (const agent of snapshot.agents ?? []) if (agent.backend) names.add(agent.backend);
  for (const task of snapshot.tasks) if (task.backend) names.add(task.backend);
  return [...names];
}

/** all -> queued -> leased -> done -> failed -> canceled -> all */
export function nextStatus(current: TaskStatus | null): TaskStatus | null {
  if (current === null) return TASK_STATUSES[0];
  const index = TASK_STATUSES.indexOf(current);
  return TASK_STATUSES[index + 1] ?? null;
}

/** all -> each known backend in name order -> all; a backend no longer known goes back to all. */
export function nextBackend(current: string | null, known: Iterable<string>): string | null {
  const names = [...new Set(known)].sort();
  if (current === null) return names[0] ?? null;
  const index = names.indexOf(current);
  return index === -1 ? null : (names[index + 1] ?? null);
}

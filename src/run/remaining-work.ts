/**
 * When a run can never finish: the unfinished tasks per route (backend and tags), and whether any
 * agent that could take them can still work. A task routed to `backend: X` is taken only by
 * agents of X, an unrouted one by any agent; a task's tags must all be among the agent's.
 */
import type { NewTask, Task } from '../protocol/model.ts';

export interface Route {
  /** null: unrouted (any agent may take it). */
  backend: string | null;
  tags: string[];
}

export interface RouteCount extends Route {
  tasks: number;
}

/** An agent as the run sees it: what it can take, and whether it can work now. */
export interface WorkerView {
  backend: string | null;
  tags: readonly string[];
  usable: boolean;
  reason: string | null;
  fix: string | null;
}

/** Why the agents that could take a route cannot: one entry per backend and reason. */
export interface RouteProblem {
  backend: string | null;
  reason: string;
  fix: string | null;
  agents: number;
}

export interface BlockedRoute extends RouteCount {
  /** Empty when no agent at all could take it. */
  problems: RouteProblem[];
}

function routeOf(task: { backend?: string | null | undefined; tags?: readonly string[] | undefined }): Route {
  return { backend: task.backend ?? null, tags: [...new Set(task.tags ?? [])].sort() };
}

const keyOf = (route: Route) => JSON.stringify([route.backend, route.tags]);

/** Unfinished tasks counted per route: added when enqueued, taken off when they finish. */
export class RemainingWork {
  private readonly counts = new Map<string, RouteCount>();
  private left = 0;

  /** A task to follow: a new one, or (resuming) one the hub already has. */
  add(task: Pick<NewTask | Task, 'backend' | 'tags'>): void {
    const route = routeOf(task);
    const key = keyOf(route);
    const count = this.counts.get(key) ?? { ...route, tasks: 0 };
    count.tasks += 1;
    this.counts.set(key, count);
    this.left += 1;
  }

  finished(task: Task): void {
    const count = this.counts.get(keyOf(routeOf(task)));
    if (!count || count.tasks === 0) return;
    count.tasks -= 1;
    this.left -= 1;
  }

  get total(): number {
    return this.left;
  }

  /** The routes with unfinished tasks, unrouted first, then by backend. */
  routes(): RouteCount[] {
    return [...this.counts.values()]
      .filter((count) => count.tasks > 0)
      .sort((a, b) => (a.backend ?? '').localeCompare(b.backend ?? '') || keyOf(a).localeCompare(keyOf(b)));
  }
}

export function canTake(worker: WorkerView, route: Route): boolean {
  return (
    (route.backend === null || route.backend === worker.backend) &&
    route.tags.every((tag) => worker.tags.includes(tag))
  );
}

/**
 * The routes left, each with why no agent takes it, when no usable agent can take any of them:
 * the run cannot finish. null while some agent can still take some of the work.
 */
export function blockedWork(
  routes: readonly RouteCount[],
  workers: readonly WorkerView[],
): BlockedRoute[] | null {
  if (routes.length === 0) return null;
  const blocked: BlockedRoute[] = [];
  for (const route of routes) {
    const able = workers.filter((worker) => canTake(worker, route));
    if (able.some((worker) => worker.usable)) return null;
    const problems = new Map<string, RouteProblem>();
    for (const worker of able) {
      const reason = worker.reason ?? 'not usable';
      const key = JSON.stringify([worker.backend, reason]);
      const problem = problems.get(key) ?? { backend: worker.backend, reason, fix: worker.fix, agents: 0 };
      problem.agents += 1;
      problems.set(key, problem);
    }
    blocked.push({ ...route, problems: [...problems.values()] });
  }
  return blocked;
}

/** `codex` / `any backend`, with the tags when there are any. */
export function routeName(route: Route): string {
  const name = route.backend ?? 'any backend';
  return route.tags.length > 0 ? `${name} (tags ${route.tags.join(', ')})` : name;
}

/** Lines saying, per route, how many tasks wait and why no agent takes them, with the fixes. */
export function describeBlocked(blocked: readonly BlockedRoute[]): string[] {
  const lines: string[] = [];
  for (const route of blocked) {
    lines.push(`  ${routeName(route)}: ${route.tasks} task(s) waiting`);
    if (route.problems.length === 0) {
      const start = route.backend ? `mittelo agent --backend ${route.backend}` : 'mittelo agent';
      lines.push(`    no agent that can take them is connected (start one with \`${start}\`)`);
    }
    for (const problem of route.problems) {
      const who =
        `${problem.agents} ${problem.backend ?? ''} agent${problem.agents === 1 ? '' : 's'}`.replace(
          /\s+/g,
          ' ',
        );
      lines.push(`    ${who}: ${problem.reason}`);
      if (problem.fix) lines.push(`      fix: ${problem.fix}`);
    }
  }
  return lines;
}

/**
 * Routes with queued work and no healthy agent to take it: the lines `mittelo status` and the
 * terminal dashboard print, and the note of `mittelo enqueue --backend X`. (web/js/agents.js says
 * the same in the page.) A task routed to `backend: X` is taken only by agents of X; an unrouted
 * one by any agent. Tags are not counted here: the hub counts queued tasks per backend only.
 */
import type { AgentInfo, QueuedCount } from '../protocol/model.ts';
import { formatCount } from './format.ts';

/** An agent that never said hello (a v0.1 agent, a script) counts as there while it keeps polling. */
const HELLO_LESS_PRESENT_S = 60;

export interface IdleRoute {
  /** null: unrouted tasks. */
  backend: string | null;
  queued: number;
  /** Agents there that could take these tasks, every one of them unhealthy. */
  unhealthy: number;
}

/** Connected now (or, without a hello, heard from within the last minute). */
function isPresent(agent: AgentInfo, nowSeconds: number): boolean {
  return agent.connected || (agent.client === null && nowSeconds - agent.last_contact < HELLO_LESS_PRESENT_S);
}

/** The agents there that could take a task routed to `backend` (null: unrouted). */
function takers(agents: readonly AgentInfo[], backend: string | null, nowSeconds: number): AgentInfo[] {
  return agents.filter(
    (agent) => isPresent(agent, nowSeconds) && (backend === null || agent.backend === backend),
  );
}

/** The routes with queued tasks that no healthy agent there can take. */
export function idleRoutes(
  queued: readonly QueuedCount[],
  agents: readonly AgentInfo[],
  nowSeconds: number,
): IdleRoute[] {
  const idle: IdleRoute[] = [];
  for (const route of queued) {
    if (route.queued <= 0) continue;
    const able = takers(agents, route.backend, nowSeconds);
    if (able.some((agent) => agent.healthy)) continue;
    idle.push({ backend: route.backend, queued: route.queued, unhealthy: able.length });
  }
  return idle;
}

function startCommand(backend: string | null): string {
  return backend === null ? '`mittelo agent`' : `\`mittelo agent --backend ${backend}\``;
}

/** `codex: 3 queued, no agent connected — start one with `mittelo agent --backend codex``. */
export function idleRouteLine(route: IdleRoute): string {
  const name = route.backend ?? 'any backend';
  const start = startCommand(route.backend);
  if (route.unhealthy === 0)
    return `${name}: ${formatCount(route.queued)} queued, no agent connected — start one with ${start}`;
  return `${name}: ${formatCount(route.queued)} queued, no healthy agent (${formatCount(route.unhealthy)} unhealthy) — fix it, or start one with ${start}`;
}

/**
 * After enqueueing tasks routed to `backend`: one line when no healthy agent of it is there to take
 * them (null when one is).
 */
export function noAgentNote(
  backend: string,
  agents: readonly AgentInfo[],
  nowSeconds: number,
): string | null {
  const able = takers(agents, backend, nowSeconds).filter((agent) => agent.backend === backend);
  if (able.some((agent) => agent.healthy)) return null;
  const start = startCommand(backend);
  if (able.length === 0) {
    return `no agent of backend ${backend} is connected: the task(s) stay queued until one is (start one with ${start})`;
  }
  const [first] = able;
  const why = `${first!.reason ?? 'unhealthy'}${first!.fix ? `; fix: ${first!.fix}` : ''}`;
  return `no healthy agent of backend ${backend} is connected (${able.length} unhealthy: ${why.replace(/\s*\n\s*/g, ' ')}): the task(s) stay queued until one is healthy`;
}

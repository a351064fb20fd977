/**
 * Whether an agent is there, as `mittelo status` and the terminal dashboard show it (web/js/agents.js
 * says the same in the page): the hub's `disconnected_at` says since when one is gone (its
 * connection closed, or a v0.1 agent went quiet past its lease); hubs older than that field say
 * only `connected`.
 */
import type { AgentInfo } from '../protocol/model.ts';

/** Since when the agent is gone (Unix seconds), null while it is there. */
export function goneSince(agent: AgentInfo): number | null {
  const since = (agent as Partial<AgentInfo>).disconnected_at;
  if (since !== undefined) return since;
  return agent.connected ? null : agent.last_contact;
}

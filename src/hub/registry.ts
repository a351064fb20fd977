/**
 * The worker registry: which agents the hub knows, what they run, whether they are healthy, what
 * they hold, when they were last heard from, and since when one is gone. Kept in memory: it
 * describes live connections, and a restarted hub learns it again as agents reconnect.
 *
 * Gone means: the last connection that said hello as the worker closed (a killed agent's socket
 * closes at once; one that vanished with its machine is found by the hub's TCP keepalive), or, for
 * a worker that never said hello (v0.1), no request for longer than its last lease allowed. An
 * open connection is trusted over silence: an unhealthy agent waits quietly for minutes.
 */

import type { AgentInfo } from '../protocol/model.ts';

export interface AgentIdentity {
  worker_id: string;
  backend?: string | null | undefined;
  tags?: string[] | undefined;
  client?: string | null | undefined;
}

/** Disconnected agents are forgotten after this long without contact. */
const FORGET_AFTER_S = 15 * 60;
/** Slack on top of the time a worker may stay silent: a slow network, a busy agent. */
const QUIET_GRACE_S = 15;

/**
 * A worker as the hub first knows it, from its first request at `now`: no backend or client yet,
 * not connected, healthy, nothing done.
 */
export function newAgentInfo(workerId: string, now: number): AgentInfo {
  return {
    worker_id: workerId,
    backend: null,
    tags: [],
    client: null,
    connected: false,
    healthy: true,
    reason: null,
    fix: null,
    current_tasks: [],
    tasks_done: 0,
    tasks_failed: 0,
    first_seen: now,
    last_contact: now,
    disconnected_at: null,
  };
}

type Entry = AgentInfo & {
  connections: number;
  held: Set<number>;
  /** Whether any connection ever said hello as this worker (else it is a v0.1 worker). */
  helloed: boolean;
  /** How long after its last contact the worker may be silent and still count as there. */
  quietS: number;
};

export class WorkerRegistry {
  private readonly agents = new Map<string, Entry>();
  /** task id -> worker holding it, so a task re-leased after an expiry leaves its old holder. */
  private readonly holders = new Map<number, string>();
  private readonly onChange: (agent: AgentInfo, change: 'connected' | 'updated' | 'disconnected') => void;
  /** The silence allowed after a request that says nothing of the next (the hub's lease length). */
  private readonly quietS: number;

  /** Unix seconds now (tests move it). */
  private readonly now: () => number;

  constructor(
    onChange: WorkerRegistry['onChange'],
    options: { quietSeconds?: number; now?: () => number } = {},
  ) {
    this.onChange = onChange;
    this.quietS = options.quietSeconds ?? 60;
    this.now = options.now ?? (() => Date.now() / 1000);
  }

  /**
   * A connection said hello as this worker. `newConnection` is false when the same connection
   * said hello as this worker before: its identity is updated, but it is still one connection,
   * and one close must mark the agent disconnected.
   */
  connect(identity: AgentIdentity, newConnection = true): void {
    const agent = this.touch(identity.worker_id);
    if (identity.backend !== undefined) agent.backend = identity.backend;
    if (identity.tags !== undefined) agent.tags = identity.tags;
    if (identity.client !== undefined) agent.client = identity.client;
    if (newConnection) agent.connections += 1;
    agent.connected = true;
    agent.helloed = true;
    agent.disconnected_at = null;
    this.onChange(this.view(agent), 'connected');
  }

  disconnect(workerId: string): void {
    const agent = this.agents.get(workerId);
    if (!agent) return;
    agent.connections = Math.max(0, agent.connections - 1);
    agent.connected = agent.connections > 0;
    if (agent.connected) return;
    agent.disconnected_at = this.now();
    this.onChange(this.view(agent), 'disconnected');
  }

  /**
   * Any request naming a worker id counts as contact, also from v0.1 agents that never say hello.
   * `quietSeconds`: how long the worker may now be silent (a lease: its long-poll and its lease
   * length); default the hub's lease length.
   */
  seen(workerId: string, quietSeconds?: number): void {
    const agent = this.touch(workerId);
    agent.quietS = Math.max(quietSeconds ?? this.quietS, this.quietS) + QUIET_GRACE_S;
  }

  setHealth(workerId: string, healthy: boolean, reason: string | null, fix: string | null): AgentInfo {
    const agent = this.touch(workerId);
    agent.healthy = healthy;
    agent.reason = healthy ? null : reason;
    agent.fix = healthy ? null : fix;
    const view = this.view(agent);
    this.onChange(view, 'updated');
    return view;
  }

  leased(workerId: string, taskIds: readonly number[]): void {
    if (taskIds.length === 0) return;
    const agent = this.touch(workerId);
    for (const id of taskIds) {
      const previous = this.holders.get(id);
      if (previous !== undefined && previous !== workerId) this.agents.get(previous)?.held.delete(id);
      this.holders.set(id, workerId);
      agent.held.add(id);
    }
  }

  /** The worker holding a task now, if any. */
  holderOf(taskId: number): string | undefined {
    return this.holders.get(taskId);
  }

  /** A task left its holder's hands: acked (done/failed), released, canceled, or taken by another. */
  finished(taskId: number, outcome: 'done' | 'failed' | 'other'): void {
    const workerId = this.holders.get(taskId);
    if (workerId === undefined) return;
    this.holders.delete(taskId);
    const agent = this.agents.get(workerId);
    if (!agent) return;
    agent.held.delete(taskId);
    if (outcome === 'done') agent.tasks_done += 1;
    if (outcome === 'failed') agent.tasks_failed += 1;
  }

  list(): AgentInfo[] {
    this.forgetStale();
    return [...this.agents.values()].map((agent) => this.view(agent));
  }

  private touch(workerId: string): Entry {
    const now = this.now();
    let agent = this.agents.get(workerId);
    if (!agent) {
      agent = {
        ...newAgentInfo(workerId, now),
        connections: 0,
        held: new Set(),
        helloed: false,
        quietS: this.quietS + QUIET_GRACE_S,
      };
      this.agents.set(workerId, agent);
    }
    agent.last_contact = now;
    return agent;
  }

  private view(agent: Entry): AgentInfo {
    const { connections: _connections, held, helloed, quietS, ...info } = agent;
    // A v0.1 worker has no connection to close: it is gone once quiet for longer than allowed.
    const silent = !helloed && this.now() - agent.last_contact > quietS;
    return {
      ...info,
      current_tasks: [...held].sort((a, b) => a - b),
      disconnected_at: silent ? agent.last_contact : agent.disconnected_at,
    };
  }

  private forgetStale(): void {
    const cutoff = this.now() - FORGET_AFTER_S;
    for (const [id, agent] of this.agents) {
      if (!agent.connected && agent.held.size === 0 && agent.last_contact < cutoff) this.agents.delete(id);
    }
  }
}

/**
 * The worker registry: which agents the hub knows, what they run, whether they are healthy, what
 * they hold, when they were last heard from. Kept in memory: it describes live connections, and a
 * restarted hub learns it again as agents reconnect.
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

export class WorkerRegistry {
  private readonly agents = new Map<string, AgentInfo & { connections: number; held: Set<number> }>();
  /** task id -> worker holding it, so a task re-leased after an expiry leaves its old holder. */
  private readonly holders = new Map<number, string>();
  private readonly onChange: (agent: AgentInfo, change: 'connected' | 'updated' | 'disconnected') => void;

  constructor(onChange: WorkerRegistry['onChange']) {
    this.onChange = onChange;
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
    this.onChange(this.view(agent), 'connected');
  }

  disconnect(workerId: string): void {
    const agent = this.agents.get(workerId);
    if (!agent) return;
    agent.connections = Math.max(0, agent.connections - 1);
    agent.connected = agent.connections > 0;
    if (!agent.connected) this.onChange(this.view(agent), 'disconnected');
  }

  /** Any request naming a worker id counts as contact, also from v0.1 agents that never say hello. */
  seen(workerId: string): void {
    this.touch(workerId);
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

  private touch(workerId: string): AgentInfo & { connections: number; held: Set<number> } {
    const now = Date.now() / 1000;
    let agent = this.agents.get(workerId);
    if (!agent) {
      agent = {
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
        connections: 0,
        held: new Set(),
      };
      this.agents.set(workerId, agent);
    }
    agent.last_contact = now;
    return agent;
  }

  private view(agent: AgentInfo & { connections: number; held: Set<number> }): AgentInfo {
    const { connections: _connections, held, ...info } = agent;
    return { ...info, current_tasks: [...held].sort((a, b) => a - b) };
  }

  private forgetStale(): void {
    const cutoff = Date.now() / 1000 - FORGET_AFTER_S;
    for (const [id, agent] of this.agents) {
      if (!agent.connected && agent.held.size === 0 && agent.last_contact < cutoff) this.agents.delete(id);
    }
  }
}

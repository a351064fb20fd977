/**
 * One hub's link to the other hubs on its database (a store with a `fleet`, PostgreSQL). It keeps
 * the fleet one queue to its users:
 * - work enqueued, released or retried on another hub wakes this hub's parked leases at once;
 * - task changes made elsewhere reach this hub's subscribers (`subscribe`, SSE) and its `wait`s;
 * - a cancel on another hub revokes the lease of an agent connected here;
 * - `agents` lists every hub's agents, not this hub's share.
 * Messages are hints: the database is the truth, and the dispatcher also polls it (FLEET_POLL_MS),
 * so a lost message delays work by at most that long and loses nothing.
 */
import type { AgentInfo, Task, TaskEventName } from '../protocol/model.ts';
import { TERMINAL_STATUSES } from '../protocol/model.ts';
import type { Fleet, FleetMessage, Store } from '../store/types.ts';
import type { EventBus } from './events.ts';
import type { WorkerRegistry } from './registry.ts';

/** How often parked leases look at the database when no message came (a message may be lost). */
export const FLEET_POLL_MS = 1000;
/** How often this hub saves its agents even when none changed (their last contact, held tasks). */
const AGENTS_SAVE_EVERY_MS = 2000;
/** A hub whose agents were not saved for this long is gone (killed): its agents are left out. */
const HUB_GONE_AFTER_S = 10;
/** Changes to this hub's agents within this long are saved together. */
const AGENTS_SAVE_DEBOUNCE_MS = 50;

/** Events that end a task: waits on it are answered. */
const SETTLING: ReadonlySet<TaskEventName> = new Set(['task.done', 'task.failed', 'task.canceled']);

export interface FleetLinkParts {
  fleet: Fleet;
  store: Store;
  events: EventBus;
  registry: WorkerRegistry;
  /** Parked leases should look again. */
  wake: () => void;
  /** A task reached a terminal status (answer `wait`s on it). */
  settled: (taskId: number) => void;
  /** Count tasks another hub reported, in this hub's throughput history (fleet-wide charts). */
  tally: (event: TaskEventName, count: number) => void;
  /** Take a lease from a worker connected here, if it is. */
  revoke: (workerId: string, taskId: number) => void;
  log: (line: string) => void;
}

export class FleetLink {
  private readonly parts: FleetLinkParts;
  private saveTimer: NodeJS.Timeout | null = null;
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;
  /** The other hubs' agents as last reported to this hub's subscribers (worker id -> JSON). */
  private readonly announcedAgents = new Map<string, string>();
  /**
   * What to tell the other hubs, gathered over one event-loop turn and sent together: at 10,000
   * enqueues a second, one message per call would cost the database more than the enqueues.
   */
  private outgoingWork = false;
  private readonly outgoingTasks = new Map<TaskEventName, number[]>();
  private flushScheduled = false;

  constructor(parts: FleetLinkParts) {
    this.parts = parts;
    parts.fleet.onMessage((message) => this.received(message));
    // Messages may have been missed while the channel was down: look at the queue again.
    parts.fleet.onReconnect(() => parts.wake());
    this.heartbeat = setInterval(() => this.saveAgentsNow(), AGENTS_SAVE_EVERY_MS);
    this.heartbeat.unref();
    this.agentsChanged();
  }

  /** Tasks became leasable here (enqueue, release, requeue, retry): other hubs' agents may take them. */
  workAdded(): void {
    this.outgoingWork = true;
    this.scheduleFlush();
  }

  /** Tasks changed here: other hubs tell their subscribers and waits. */
  tasksChanged(event: TaskEventName, tasks: readonly Task[]): void {
    if (tasks.length === 0) return;
    let ids = this.outgoingTasks.get(event);
    if (!ids) {
      ids = [];
      this.outgoingTasks.set(event, ids);
    }
    for (const task of tasks) ids.push(task.task_id);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.outgoingWork) this.parts.fleet.publish({ kind: 'work' });
      this.outgoingWork = false;
      for (const [event, task_ids] of this.outgoingTasks)
        this.parts.fleet.publish({ kind: 'tasks', event, task_ids });
      this.outgoingTasks.clear();
    });
  }

  /** A task was canceled here: the worker holding it may be connected to another hub. */
  canceled(task: Task): void {
    if (task.worker_id === null) return;
    this.parts.fleet.publish({
      kind: 'revoke',
      worker_id: task.worker_id,
      task_id: task.task_id,
      reason: 'canceled',
    });
  }

  /** This hub's agents changed: save them soon and tell the others. */
  agentsChanged(): void {
    if (this.closed || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      void this.saveAgentsNow().then(() => this.parts.fleet.publish({ kind: 'agents' }));
    }, AGENTS_SAVE_DEBOUNCE_MS);
    this.saveTimer.unref();
  }

  /**
   * Every hub's agents: this hub's from memory, the others' as they last saved them (hubs gone
   * quiet left out). An agent that moved between hubs is listed once, as its newest report says.
   */
  async agents(): Promise<AgentInfo[]> {
    const byWorker = new Map<string, AgentInfo>();
    for (const agent of this.parts.registry.list()) byWorker.set(agent.worker_id, agent);
    for (const agent of await this.otherHubsAgents()) {
      const known = byWorker.get(agent.worker_id);
      if (!known || newer(agent, known)) byWorker.set(agent.worker_id, agent);
    }
    return [...byWorker.values()];
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    if (this.saveTimer) clearTimeout(this.saveTimer);
  }

  private async otherHubsAgents(): Promise<AgentInfo[]> {
    const saved = await this.parts.fleet.loadAgents();
    return saved
      .filter((hub) => hub.hub_id !== this.parts.fleet.hubId && hub.age_s < HUB_GONE_AFTER_S)
      .flatMap((hub) => hub.agents);
  }

  private async saveAgentsNow(): Promise<void> {
    if (this.closed) return;
    try {
      await this.parts.fleet.saveAgents(this.parts.registry.list());
    } catch (error) {
      this.parts.log(`fleet: saving this hub's agents failed: ${(error as Error).message}`);
    }
  }

  private received(message: FleetMessage): void {
    switch (message.kind) {
      case 'work':
        this.parts.wake();
        return;
      case 'revoke':
        this.parts.revoke(message.worker_id, message.task_id);
        this.parts.registry.finished(message.task_id, 'other');
        return;
      case 'tasks':
        this.parts.tally(message.event, message.task_ids.length);
        void this.tasksFromElsewhere(message.event, message.task_ids);
        return;
      case 'agents':
        void this.announceAgents();
        return;
    }
  }

  private async tasksFromElsewhere(event: TaskEventName, taskIds: number[]): Promise<void> {
    if (event === 'task.requeued' || event === 'task.released') this.parts.wake();
    // A task of a worker connected here may have been acked through another hub (after a failover).
    if (event !== 'task.leased' && event !== 'task.enqueued') {
      for (const id of taskIds) this.parts.registry.finished(id, 'other');
    }
    if (SETTLING.has(event)) for (const id of taskIds) this.parts.settled(id);
    if (!this.parts.events.wants('task')) return;
    try {
      const tasks = await this.parts.store.get(taskIds);
      // Announce what the tasks are now; one that moved on since is announced by its own message.
      this.parts.events.taskEvents(
        event,
        tasks.filter((task) => !SETTLING.has(event) || TERMINAL_STATUSES.includes(task.status)),
      );
    } catch (error) {
      this.parts.log(`fleet: reading tasks changed on another hub failed: ${(error as Error).message}`);
    }
  }

  private async announceAgents(): Promise<void> {
    if (!this.parts.events.wants('agent')) return;
    try {
      for (const agent of await this.otherHubsAgents()) {
        const text = JSON.stringify(agent);
        if (this.announcedAgents.get(agent.worker_id) === text) continue;
        const change = this.announcedAgents.has(agent.worker_id)
          ? agent.connected
            ? 'agent.updated'
            : 'agent.disconnected'
          : 'agent.connected';
        this.announcedAgents.set(agent.worker_id, text);
        this.parts.events.agentEvent(change, agent);
      }
    } catch (error) {
      this.parts.log(`fleet: reading other hubs' agents failed: ${(error as Error).message}`);
    }
  }
}

/** Which of two reports of one agent is the newer: a connected one, else the later contact. */
function newer(a: AgentInfo, b: AgentInfo): boolean {
  if (a.connected !== b.connected) return a.connected;
  return a.last_contact > b.last_contact;
}

/**
 * Hub events, for `subscribe` (TCP) and the SSE stream (REST): what dashboards watch. Events are
 * built only when someone listens, so an unwatched hub pays nothing for them.
 */
import type {
  AgentEventName,
  AgentInfo,
  HubEvent,
  OutputLine,
  Task,
  TaskEventName,
} from '../protocol/model.ts';

/**
 * `output` (`task.output` events) is never among the defaults: only subscribers that ask for it
 * (subscribe `output: true`, GET /events?output=1) get the swarm's output.
 */
export type EventCategory = 'task' | 'agent' | 'output';

export type EventListener = (event: HubEvent) => void;

/**
 * A route paused or resumed (`mittelo pause` / `resume`). Announced in process only, not on the
 * wire: `mittelo hub --webhook` turns a pause into a `backend.paused` notification
 * (src/notify/hub-watch.ts). The pause code calls `pauseChanged` once the change is stored.
 */
export interface PauseChange {
  /** null: every backend. */
  backend: string | null;
  paused: boolean;
}

interface Subscription {
  categories: ReadonlySet<EventCategory>;
  listener: EventListener;
}

export class EventBus {
  private readonly subscriptions = new Set<Subscription>();
  private readonly pauseListeners = new Set<(change: PauseChange) => void>();

  onPauseChange(listener: (change: PauseChange) => void): () => void {
    this.pauseListeners.add(listener);
    return () => this.pauseListeners.delete(listener);
  }

  pauseChanged(change: PauseChange): void {
    for (const listener of this.pauseListeners) listener(change);
  }

  subscribe(categories: Iterable<EventCategory>, listener: EventListener): () => void {
    const subscription = { categories: new Set(categories), listener };
    this.subscriptions.add(subscription);
    return () => this.subscriptions.delete(subscription);
  }

  /** Whether anybody listens to this category; check before building events. */
  wants(category: EventCategory): boolean {
    for (const subscription of this.subscriptions) if (subscription.categories.has(category)) return true;
    return false;
  }

  taskEvents(name: TaskEventName, tasks: readonly Task[]): void {
    if (tasks.length === 0 || !this.wants('task')) return;
    const time = Date.now() / 1000;
    for (const task of tasks) this.emit('task', { event: name, time, task: { ...task, lease_token: null } });
  }

  agentEvent(name: AgentEventName, agent: AgentInfo): void {
    if (!this.wants('agent')) return;
    this.emit('agent', { event: name, time: Date.now() / 1000, agent });
  }

  /** Lines of one task's live output, as the hub kept them (seq numbered). */
  outputEvent(taskId: number, lines: readonly OutputLine[]): void {
    if (lines.length === 0 || !this.wants('output')) return;
    this.emit('output', {
      event: 'task.output',
      time: Date.now() / 1000,
      task_id: taskId,
      lines: [...lines],
    });
  }

  hubStopping(): void {
    const event: HubEvent = { event: 'hub.stopping', time: Date.now() / 1000 };
    for (const subscription of this.subscriptions) subscription.listener(event);
  }

  private emit(category: EventCategory, event: HubEvent): void {
    for (const subscription of this.subscriptions) {
      if (subscription.categories.has(category)) subscription.listener(event);
    }
  }
}

/**
 * Hub events, for `subscribe` (TCP) and the SSE stream (REST): what dashboards watch. Events are
 * built only when someone listens, so an unwatched hub pays nothing for them.
 */
import type { AgentEventName, AgentInfo, HubEvent, Task, TaskEventName } from '../protocol/model.ts';

export type EventCategory = 'task' | 'agent';

export type EventListener = (event: HubEvent) => void;

interface Subscription {
  categories: ReadonlySet<EventCategory>;
  listener: EventListener;
}

export class EventBus {
  private readonly subscriptions = new Set<Subscription>();

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

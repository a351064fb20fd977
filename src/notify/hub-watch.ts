/**
 * Which hub events are worth telling a person: a task that failed for good, the first agent of a
 * backend to turn unhealthy (one notification per outage of that backend, not one per agent or
 * per update), and a pause. Everything else (enqueues, leases, successes) is not.
 */
import type { AgentInfo, HubEvent } from '../protocol/model.ts';
import {
  backendPaused,
  backendUnhealthy,
  type Notification,
  type NotificationOrigin,
  taskFailed,
} from './events.ts';

/** Turns a stream of hub events into notifications; keeps which backends are unhealthy now. */
export class HubEventNotices {
  private readonly origin: NotificationOrigin;
  /** backend (null: unrouted-only agents) -> the unhealthy agents of it that are connected. */
  private readonly unhealthy = new Map<string | null, Set<string>>();

  constructor(origin: NotificationOrigin) {
    this.origin = origin;
  }

  /** The notification an event calls for, or null. */
  fromEvent(event: HubEvent): Notification | null {
    if (event.event === 'task.failed' && 'task' in event) return taskFailed(event.task, this.origin);
    if ('agent' in event) return this.fromAgent(event.agent, event.event === 'agent.disconnected');
    return null;
  }

  /** A route was paused (`mittelo pause`); resuming says nothing. */
  fromPause(change: PauseChange): Notification | null {
    return change.paused ? backendPaused(change.backend, this.origin) : null;
  }

  private fromAgent(agent: AgentInfo, gone: boolean): Notification | null {
    const backend = agent.backend;
    const bad = this.unhealthy.get(backend) ?? new Set<string>();
    if (gone || !agent.connected || agent.healthy) {
      bad.delete(agent.worker_id);
      if (bad.size === 0) this.unhealthy.delete(backend);
      return null;
    }
    const first = bad.size === 0;
    bad.add(agent.worker_id);
    this.unhealthy.set(backend, bad);
    return first ? backendUnhealthy(agent, this.origin) : null;
  }
}

/** A route paused or resumed; the hub's EventBus announces these in process (src/hub/events.ts). */
export interface PauseChange {
  /** null: every backend. */
  backend: string | null;
  paused: boolean;
}

/**
 * What watching needs of a running hub, structurally (a Hub and its EventBus fit), so this layer
 * stays free of hub code.
 */
export interface WatchableHub {
  subscribe(categories: Array<'task' | 'agent'>, listener: (event: HubEvent) => void): () => void;
  events: { onPauseChange(listener: (change: PauseChange) => void): () => void };
}

/** Feed `deliver` with the notifications of a hub in this process; returns the unsubscribe. */
export function watchHub(
  hub: WatchableHub,
  origin: NotificationOrigin,
  deliver: (notification: Notification) => void,
): () => void {
  const notices = new HubEventNotices(origin);
  const offEvents = hub.subscribe(['task', 'agent'], (event) => {
    const notification = notices.fromEvent(event);
    if (notification) deliver(notification);
  });
  const offPauses = hub.events.onPauseChange((change) => {
    const notification = notices.fromPause(change);
    if (notification) deliver(notification);
  });
  return () => {
    offEvents();
    offPauses();
  };
}

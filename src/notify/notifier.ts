/**
 * Delivery of notifications to one target (a webhook, a command), off the path of the queue:
 * `push` only appends to a bounded in-memory queue and returns; one loop sends the events in
 * order, retrying what may succeed later with backoff. A target that keeps failing is said once
 * when it starts failing and once when it works again, not once per event.
 */
import type { Notification } from './events.ts';

/** One attempt at delivering one notification. */
export interface Sender {
  /** How log lines name the target: `webhook http://…`, `--notify-cmd "…"`. */
  readonly name: string;
  /** Settles when delivered; throws a SendError when not. */
  send(notification: Notification, signal: AbortSignal): Promise<void>;
}

export class SendError extends Error {
  /** Worth trying again (a 5xx, no answer, a refused connection), as opposed to a 4xx. */
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

export interface NotifierOptions {
  sender: Sender;
  /** One line per outage and per overflow (without a trailing newline). */
  log: (line: string) => void;
  /** Events waiting at most; past it new ones are dropped and counted (default 1000). */
  maxQueued?: number;
  /** Attempts per event (default 4: the first and three retries). */
  attempts?: number;
  /** Wait before the first retry, doubling each time (default 500 ms). */
  backoffMs?: number;
}

export const NOTIFY_DEFAULTS = { maxQueued: 1000, attempts: 4, backoffMs: 500 } as const;

export class Notifier {
  private readonly options: NotifierOptions;
  private readonly queue: Notification[] = [];
  private sending: Promise<void> | null = null;
  /** Aborted by close(): cuts a wait between retries and the attempt in flight short. */
  private readonly stopping = new AbortController();
  /** Set while the target fails; the number of events it lost since. */
  private outage: { lost: number } | null = null;
  /** Events dropped because the queue was full, since the last time that was said. */
  private overflow = 0;
  private droppedTotal = 0;
  private deliveredTotal = 0;
  private drainedWaiters: Array<() => void> = [];

  constructor(options: NotifierOptions) {
    this.options = options;
  }

  /** Events dropped for a full queue, in all. */
  get dropped(): number {
    return this.droppedTotal;
  }

  get delivered(): number {
    return this.deliveredTotal;
  }

  /** Queue one event; never waits. */
  push(notification: Notification): void {
    if (this.stopping.signal.aborted) return;
    if (this.queue.length >= (this.options.maxQueued ?? NOTIFY_DEFAULTS.maxQueued)) {
      this.droppedTotal += 1;
      if (this.overflow === 0) {
        this.options.log(
          `${this.options.sender.name}: ${this.queue.length} events are waiting to be sent: dropping new ones until they are (the count follows)`,
        );
      }
      this.overflow += 1;
      return;
    }
    this.queue.push(notification);
    this.sending ??= this.drain().finally(() => {
      this.sending = null;
    });
  }

  /**
   * Send what is queued, for at most `timeoutMs`, then stop: later pushes are ignored and what
   * is left is dropped with one line. For the end of a run, and a hub that stops.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.queue.length > 0 || this.sending) {
      let timer: NodeJS.Timeout | undefined;
      const drained = new Promise<void>((resolve) => this.drainedWaiters.push(resolve));
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([drained, late]);
      clearTimeout(timer);
    }
    const left = this.queue.length; // the one in flight is still at its head
    this.stopping.abort();
    await this.sending;
    if (left > 0) {
      this.options.log(
        `${this.options.sender.name}: gave up on ${left} event(s) not delivered within ${timeoutMs / 1000} s`,
      );
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stopping.signal.aborted) {
      const notification = this.queue[0]!;
      await this.deliver(notification);
      this.queue.shift();
    }
    if (this.overflow > 0) {
      this.options.log(
        `${this.options.sender.name}: ${this.overflow} event(s) were dropped while the queue was full`,
      );
      this.overflow = 0;
    }
    for (const resolve of this.drainedWaiters.splice(0)) resolve();
  }

  private async deliver(notification: Notification): Promise<void> {
    const attempts = this.options.attempts ?? NOTIFY_DEFAULTS.attempts;
    let waitMs = this.options.backoffMs ?? NOTIFY_DEFAULTS.backoffMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.options.sender.send(notification, this.stopping.signal);
        this.deliveredTotal += 1;
        if (this.outage) {
          this.options.log(
            `${this.options.sender.name} works again; ${this.outage.lost} event(s) were not delivered while it failed`,
          );
          this.outage = null;
        }
        return;
      } catch (error) {
        const retryable = error instanceof SendError ? error.retryable : true;
        if (retryable && attempt < attempts && !this.stopping.signal.aborted) {
          await this.pause(waitMs);
          waitMs *= 2;
          continue;
        }
        if (this.stopping.signal.aborted) return;
        if (this.outage) this.outage.lost += 1;
        else {
          this.outage = { lost: 1 };
          const tries = attempt > 1 ? ` (${attempt} attempts)` : '';
          this.options.log(
            `${this.options.sender.name} failed: ${(error as Error).message}${tries}; events are not delivered until it works again (said once)`,
          );
        }
        return;
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stopping.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopping.signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Several targets (a webhook and a command) fed the same events. */
export class Notifications {
  private readonly notifiers: Notifier[];
  constructor(notifiers: Notifier[]) {
    this.notifiers = notifiers;
  }

  push(notification: Notification): void {
    for (const notifier of this.notifiers) notifier.push(notification);
  }

  close(timeoutMs: number): Promise<void> {
    return Promise.all(this.notifiers.map((notifier) => notifier.close(timeoutMs))).then(() => {});
  }
}

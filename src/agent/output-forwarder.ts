/**
 * Forwards the live output of the agent's running tasks to the hub (`output`, docs/PROTOCOL.md
 * "live output"): the backend's OutputEvents become lines, gathered per task and sent in a batch
 * at most every `intervalMs`, each call at most `maxLines` lines and `maxBytes` of text. A task
 * may send `linesPerSecond` sustained (with a burst); lines beyond are dropped and counted, and
 * the count goes with the next call (`dropped`), so a chatty CLI never floods the hub. When a run
 * ends, what is left is sent at once, before the ack (same connection, so the hub sees it first).
 *
 * Live output is best effort: nothing here waits on the hub or delays the run or its ack, a
 * failed call is forgotten, and a hub without the `live_output` feature is sent nothing.
 */
import type { OutputEvent } from '../backends/types.ts';
import type { OutputLine } from '../protocol/model.ts';

export interface OutputCall {
  task_id: number;
  lease_token?: string | null;
  worker_id?: string;
  lines: Array<{ kind: OutputLine['kind']; text: string; at: number }>;
  dropped?: number;
}

export interface ForwarderLimits {
  /** The shortest time between two calls for one task. */
  intervalMs: number;
  /** Lines per call (the hub takes at most 200). */
  maxLines: number;
  /** Bytes of text per call. */
  maxBytes: number;
  /** A longer line is cut (the hub cuts at 1,000 characters too). */
  lineChars: number;
  /** Lines per second per task, sustained; beyond, lines are dropped and counted. */
  linesPerSecond: number;
  /** Lines a task may send at once above the sustained rate. */
  burstLines: number;
  /** Lines waiting for a call, per task (the hub slow or unreachable); beyond, dropped and counted. */
  maxQueued: number;
}

export const FORWARDER_DEFAULTS: ForwarderLimits = {
  intervalMs: 200,
  maxLines: 200,
  maxBytes: 32 * 1024,
  lineChars: 1000,
  linesPerSecond: 50,
  burstLines: 200,
  maxQueued: 1000,
};

/** What the forwarder needs of the world; tests give a fake clock and timers. */
export interface ForwarderDeps {
  /** Send one call (HubClient.output); its answer and failure are ignored. */
  send: (call: OutputCall) => Promise<unknown>;
  /** Whether the hub takes live output now (its `hello` lists `live_output`). */
  enabled: () => boolean;
  limits?: Partial<ForwarderLimits>;
  nowMs?: () => number;
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

interface TaskStream {
  task_id: number;
  lease_token: string | null;
  worker_id: string;
  queued: OutputCall['lines'];
  dropped: number;
  tokens: number;
  refilledAt: number;
  lastSentAt: number;
  timer: unknown;
  inFlight: boolean;
}

export class OutputForwarder {
  private readonly deps: ForwarderDeps;
  private readonly limits: ForwarderLimits;
  private readonly nowMs: () => number;
  private readonly setTimer: (run: () => void, ms: number) => unknown;
  private readonly clearTimer: (timer: unknown) => void;
  private readonly streams = new Map<number, TaskStream>();

  constructor(deps: ForwarderDeps) {
    this.deps = deps;
    this.limits = { ...FORWARDER_DEFAULTS, ...deps.limits };
    this.nowMs = deps.nowMs ?? (() => Date.now());
    this.setTimer =
      deps.setTimer ??
      ((run, ms) => {
        const timer = setTimeout(run, ms);
        timer.unref();
        return timer;
      });
    this.clearTimer = deps.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout));
  }

  /** The `onOutput` of one run (RunTaskDeps.onOutput). */
  stream(
    task: { task_id: number; lease_token: string | null },
    workerId: string,
  ): (event: OutputEvent) => void {
    return (event) => {
      if (!this.deps.enabled()) return;
      let stream = this.streams.get(task.task_id);
      if (!stream) {
        stream = {
          task_id: task.task_id,
          lease_token: task.lease_token,
          worker_id: workerId,
          queued: [],
          dropped: 0,
          tokens: this.limits.burstLines,
          refilledAt: this.nowMs(),
          lastSentAt: Number.NEGATIVE_INFINITY,
          timer: null,
          inFlight: false,
        };
        this.streams.set(task.task_id, stream);
      }
      this.add(stream, event);
    };
  }

  /** The run ended: send what is left now (before the ack) and forget the task. */
  end(taskId: number): void {
    const stream = this.streams.get(taskId);
    if (!stream) return;
    this.streams.delete(taskId);
    if (stream.timer !== null) this.clearTimer(stream.timer);
    stream.timer = null;
    if (!this.deps.enabled()) return;
    if (stream.queued.length === 0 && stream.dropped > 0) {
      // The call carries the count; its one line says so to whoever reads the task's output.
      stream.queued.push({
        kind: 'status',
        text: `${stream.dropped} output line(s) not forwarded: over the agent's rate limit`,
        at: this.nowMs() / 1000,
      });
    }
    while (stream.queued.length > 0) this.sendBatch(stream);
  }

  /** Stop every timer (the agent is stopping); nothing more is sent. */
  close(): void {
    for (const stream of this.streams.values()) if (stream.timer !== null) this.clearTimer(stream.timer);
    this.streams.clear();
  }

  private add(stream: TaskStream, event: OutputEvent): void {
    const now = this.nowMs();
    const { linesPerSecond, burstLines, lineChars, maxQueued } = this.limits;
    stream.tokens = Math.min(burstLines, stream.tokens + ((now - stream.refilledAt) / 1000) * linesPerSecond);
    stream.refilledAt = now;
    const at = now / 1000;
    for (const raw of splitLines(event.text)) {
      if (stream.tokens < 1 || stream.queued.length >= maxQueued) {
        stream.dropped += 1;
        continue;
      }
      stream.tokens -= 1;
      const text = raw.length > lineChars ? raw.slice(0, lineChars) : raw;
      stream.queued.push({ kind: event.kind, text, at });
    }
    this.schedule(stream);
  }

  /** A call at most every intervalMs, and one at a time per task. */
  private schedule(stream: TaskStream): void {
    if (stream.timer !== null || stream.inFlight || stream.queued.length === 0) return;
    const wait = Math.max(0, stream.lastSentAt + this.limits.intervalMs - this.nowMs());
    stream.timer = this.setTimer(() => {
      stream.timer = null;
      if (this.streams.get(stream.task_id) !== stream) return;
      if (!this.deps.enabled()) {
        stream.queued = [];
        return;
      }
      this.sendBatch(stream);
    }, wait);
  }

  /** Send the oldest queued lines, up to maxLines and maxBytes (at least one line). */
  private sendBatch(stream: TaskStream): void {
    const { maxLines, maxBytes } = this.limits;
    let bytes = 0;
    let count = 0;
    while (count < stream.queued.length && count < maxLines) {
      const lineBytes = Buffer.byteLength(stream.queued[count]!.text);
      if (count > 0 && bytes + lineBytes > maxBytes) break;
      bytes += lineBytes;
      count += 1;
    }
    const lines = stream.queued.splice(0, count);
    const call: OutputCall = {
      task_id: stream.task_id,
      lease_token: stream.lease_token,
      worker_id: stream.worker_id,
      lines,
    };
    if (stream.dropped > 0) call.dropped = stream.dropped;
    stream.dropped = 0;
    stream.lastSentAt = this.nowMs();
    stream.inFlight = true;
    let sent: Promise<unknown>;
    try {
      sent = this.deps.send(call);
    } catch {
      sent = Promise.resolve();
    }
    void sent
      .catch(() => {})
      .finally(() => {
        stream.inFlight = false;
        if (this.streams.get(stream.task_id) === stream) this.schedule(stream);
      });
  }
}

/** An event's text as lines: one per line of it, without a trailing empty one. */
function splitLines(text: string): string[] {
  if (!text.includes('\n')) return [text];
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

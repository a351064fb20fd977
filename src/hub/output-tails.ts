/**
 * The hub's memory of tasks' live output (`output`, `output_tail`, docs/PROTOCOL.md "live
 * output"): per task a bounded tail of its newest lines, numbered from 1, and the tails of the
 * last ended tasks. Nothing here is stored in the database: a restarted hub starts empty, and
 * the bounds (OUTPUT_TAIL_BOUNDS) keep a chatty swarm from growing the hub's memory.
 */
import { OUTPUT_TAIL_BOUNDS, type OutputLine, type OutputTail } from '../protocol/model.ts';

export interface TailBounds {
  lines: number;
  bytes: number;
  lineChars: number;
  endedTasks: number;
}

export const DEFAULT_TAIL_BOUNDS: TailBounds = {
  lines: OUTPUT_TAIL_BOUNDS.lines,
  bytes: OUTPUT_TAIL_BOUNDS.chars,
  lineChars: OUTPUT_TAIL_BOUNDS.lineChars,
  endedTasks: OUTPUT_TAIL_BOUNDS.endedTasks,
};

/** A line as an agent sends it. */
export interface IncomingLine {
  kind: OutputLine['kind'];
  text: string;
  at?: number | undefined;
}

/** One task's newest lines, oldest first: a queue with a moving start, compacted now and then. */
class TaskTail {
  private lines: Array<OutputLine & { bytes: number }> = [];
  private start = 0;
  bytes = 0;
  lastSeq = 0;
  /** Lines pushed out at the front by the bounds. */
  evicted = 0;
  /** Lines the agent (or the hub's rate limit) dropped before they reached this tail. */
  dropped = 0;

  get size(): number {
    return this.lines.length - this.start;
  }

  push(line: OutputLine, bounds: TailBounds): void {
    const bytes = Buffer.byteLength(line.text);
    this.lines.push({ ...line, bytes });
    this.bytes += bytes;
    while (this.size > bounds.lines || (this.bytes > bounds.bytes && this.size > 1)) {
      const first = this.lines[this.start]!;
      this.start += 1;
      this.bytes -= first.bytes;
      this.evicted += 1;
    }
    // Compact once the dead front is as long as the live part: amortised O(1) per line.
    if (this.start > 64 && this.start >= this.size) {
      this.lines = this.lines.slice(this.start);
      this.start = 0;
    }
  }

  /** Up to `limit` kept lines with seq > afterSeq, oldest first. */
  after(afterSeq: number, limit: number): OutputLine[] {
    const firstSeq = this.lastSeq - this.size + 1;
    const from = this.start + Math.max(0, afterSeq + 1 - firstSeq);
    return this.lines.slice(from, from + limit).map(({ seq, at, kind, text }) => ({ seq, at, kind, text }));
  }
}

export class OutputTails {
  private readonly bounds: TailBounds;
  private readonly now: () => number;
  /** Tasks not ended (running, or back in the queue). */
  private readonly live = new Map<number, TaskTail>();
  /** Ended tasks' tails, oldest ended first (a Map keeps insertion order). */
  private readonly ended = new Map<number, TaskTail>();

  constructor(options: { bounds?: Partial<TailBounds>; now?: () => number } = {}) {
    this.bounds = { ...DEFAULT_TAIL_BOUNDS, ...options.bounds };
    this.now = options.now ?? (() => Date.now() / 1000);
  }

  /**
   * Add lines to a task's tail (each cut to the line bound) and count what was dropped before
   * them; returns the lines as kept, with their seqs. A task that ended and runs again (a retry)
   * continues its tail: seqs are never reused.
   */
  append(taskId: number, incoming: readonly IncomingLine[], dropped = 0): OutputLine[] {
    let tail = this.live.get(taskId);
    if (!tail) {
      tail = this.ended.get(taskId) ?? new TaskTail();
      this.ended.delete(taskId);
      this.live.set(taskId, tail);
    }
    tail.dropped += dropped;
    const now = this.now();
    const kept: OutputLine[] = [];
    for (const line of incoming) {
      const text =
        line.text.length > this.bounds.lineChars ? line.text.slice(0, this.bounds.lineChars) : line.text;
      tail.lastSeq += 1;
      const added: OutputLine = { seq: tail.lastSeq, at: line.at ?? now, kind: line.kind, text };
      tail.push(added, this.bounds);
      kept.push(added);
    }
    return kept;
  }

  lastSeq(taskId: number): number {
    return (this.live.get(taskId) ?? this.ended.get(taskId))?.lastSeq ?? 0;
  }

  /** The kept lines after `afterSeq`; null when the hub has no output of this task. */
  read(taskId: number, afterSeq: number, limit: number): Omit<OutputTail, 'task_id'> | null {
    const tail = this.live.get(taskId) ?? this.ended.get(taskId);
    if (!tail) return null;
    return {
      lines: tail.after(afterSeq, limit),
      last_seq: tail.lastSeq,
      lost: tail.evicted + tail.dropped,
    };
  }

  /** The task ended: its tail joins the ended ones, and the oldest ended beyond the bound is forgotten. */
  taskEnded(taskId: number): void {
    const tail = this.live.get(taskId);
    if (!tail) return;
    this.live.delete(taskId);
    this.ended.set(taskId, tail);
    while (this.ended.size > this.bounds.endedTasks) {
      const oldest = this.ended.keys().next().value as number;
      this.ended.delete(oldest);
    }
  }

  /** Tasks with a tail now: [not ended, ended]. */
  get counts(): { live: number; ended: number } {
    return { live: this.live.size, ended: this.ended.size };
  }
}

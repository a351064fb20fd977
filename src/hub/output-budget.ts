/**
 * How much live output one connection may send the hub (`output`), so that a misbehaving client
 * cannot slow the hub for everybody: a token bucket of lines per second. A call costs its lines
 * plus a fixed overhead (parsing and answering a call costs the hub more than a line does). A
 * connection whose bucket is in debt is told how long to stay quiet (the TCP server stops reading
 * from it for that long), which bounds the hub's work per connection whatever the client does;
 * lines that reach the hub while it is in debt anyway are counted as dropped instead of kept. The agent's own
 * forwarder (src/agent/output-forwarder.ts) stays far below it.
 */

export interface OutputBudgetLimits {
  /** Lines per second, sustained. */
  linesPerSecond: number;
  /** Lines the bucket holds when full (a burst). */
  burstLines: number;
  /** What one call costs besides its lines, in lines. */
  callCostLines: number;
  /** The longest pause asked for at once. */
  maxPauseMs: number;
}

/**
 * An agent running 16 tasks at its forwarder's rate (50 lines/s each, a call per 200 ms) costs
 * ~800 lines and ~80 calls a second: 1,600 of this budget.
 */
export const OUTPUT_BUDGET_DEFAULTS: OutputBudgetLimits = {
  linesPerSecond: 2000,
  burstLines: 4000,
  callCostLines: 10,
  maxPauseMs: 1000,
};

export interface BudgetVerdict {
  /** How many of the call's lines may be kept (the first ones). */
  keep: number;
  /** Stop reading from this connection for this long (0: go on). */
  pauseMs: number;
}

export class OutputBudget {
  private readonly limits: OutputBudgetLimits;
  private readonly nowMs: () => number;
  private tokens: number;
  private updatedAt: number;

  constructor(
    limits: OutputBudgetLimits = OUTPUT_BUDGET_DEFAULTS,
    nowMs: () => number = () => performance.now(),
  ) {
    this.limits = limits;
    this.nowMs = nowMs;
    this.tokens = limits.burstLines;
    this.updatedAt = nowMs();
  }

  /**
   * Charge one call of `lines` lines. A call that comes while the connection is within its budget
   * is kept whole (and may put it in debt); one that comes while it is in debt (lines sent
   * before the pause took hold, or by a transport that cannot pause) has its lines dropped.
   */
  charge(lines: number): BudgetVerdict {
    const now = this.nowMs();
    const { linesPerSecond, burstLines, callCostLines, maxPauseMs } = this.limits;
    this.tokens = Math.min(burstLines, this.tokens + ((now - this.updatedAt) / 1000) * linesPerSecond);
    this.updatedAt = now;
    const keep = this.tokens >= 0 ? lines : 0;
    // Every line costs, kept or not: the hub parsed it all the same.
    this.tokens -= callCostLines + lines;
    // The debt is bounded, so a connection that stops flooding is served again within maxPauseMs.
    this.tokens = Math.max(this.tokens, -(linesPerSecond * maxPauseMs) / 1000);
    const pauseMs = this.tokens < 0 ? Math.ceil((-this.tokens / linesPerSecond) * 1000) : 0;
    return { keep, pauseMs };
  }
}

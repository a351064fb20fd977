/**
 * What every backend is: something that turns one task's prompt into an answer. The agent knows
 * backends only through this interface; a backend knows nothing of hubs or leases.
 */

/** Why a run failed, as the agent and the hub see it (issue 4's classifier refines `unknown`). */
export type FailureKind =
  | 'auth'
  | 'network'
  | 'not_installed'
  | 'config'
  | 'rate_limit'
  /** A subscription's usage window is spent (five-hour, weekly): no run works until its reset. */
  | 'usage_limit'
  /** The vendor is overloaded or had a transient 5xx (HTTP 529, 503): retry soon. */
  | 'overloaded'
  | 'timeout'
  /**
   * The run stopped at the task's max_cost_usd (Claude Code's --max-budget-usd). Final: a retry
   * would spend the same again, so the agent acks it as not retryable.
   */
  | 'budget'
  /**
   * The run worked, but its answer is not JSON that meets the task's output_schema (the agent
   * checks it, src/answers/). Retryable: a model often gets it right on the next try.
   */
  | 'bad_output'
  | 'unknown';

/**
 * What a backend may do, mapped by each driver onto its CLI's own switches (the same three levels
 * as the wire model's PERMISSION_LEVELS): `read` looks and changes nothing, `edit` changes files
 * in its workspace, `full` does anything without asking. docs/BACKENDS.md, "Permissions".
 */
export type Permissions = 'read' | 'edit' | 'full';

/**
 * One thing a run did, as it happened, for the task's live output (`mittelo logs`): assistant
 * text, a tool call (its name and arguments, cut short), a file edit, the usage so far, or a
 * plain-text backend's stdout / stderr line. `text` is one line for people, never the raw JSON.
 */
export interface OutputEvent {
  kind: 'text' | 'tool' | 'edit' | 'usage' | 'stdout' | 'stderr' | 'status';
  text: string;
}

/** The part of a task a backend needs. */
export interface BackendTask {
  task_id: number;
  prompt: string;
  worker_id: string;
  metadata?: Record<string, unknown> | null;
  /**
   * The most this run may cost (USD); null or absent: no limit. Only Claude Code can enforce it
   * (`--max-budget-usd`); the other backends ignore it (docs/BACKENDS.md, "Usage and cost").
   */
  max_cost_usd?: number | null;
  /**
   * A JSON Schema the answer must meet; null or absent: plain text. Claude Code and Codex are
   * given it (`--json-schema`, `--output-schema`); the agent validates every backend's answer.
   */
  output_schema?: Record<string, unknown> | null;
  /**
   * The task asks its runs to continue one CLI session (`resume: true`): a driver keeps the
   * session on disk for the next run (codex then drops --ephemeral).
   */
  resume?: boolean;
  /**
   * The session to continue: the one the task's last run reported (its session_id), set only
   * when the task has `resume: true`. Drivers that can resume pass it on (claude --resume, codex
   * exec resume, opencode --session); the others ignore it (docs/BACKENDS.md, "Resumed sessions").
   */
  resume_session?: string;
  /**
   * The folder the backend runs in: the task's own git worktree (docs/AGENTS.md, "Workspaces").
   * Absent: the shared place (MITTELO_SUBPROCESS_WORKDIR, else the agent's own folder).
   */
  workdir?: string;
  /**
   * What the backend may do; the agent decides (the task's permissions, else the agent's, else
   * `read` in a shared workspace and `edit` in the task's own worktree). Absent: `read`.
   */
  permissions?: Permissions;
}

export interface RunContext {
  /** Aborted when the task is canceled on the hub or the agent shuts down: stop at once. */
  signal: AbortSignal;
  /** Kill the run (its whole process tree) after this long. */
  timeoutMs: number;
  /** Keep at most this much output; the rest is counted and dropped. */
  maxOutputBytes: number;
  /** Hears what the spawned program did (system runs keep it as evidence); not called by echo. */
  onProcess?: (trace: ProcessTrace) => void;
  /** Hears what the run does while it runs (live output); may be called many times a second. */
  onOutput?: (event: OutputEvent) => void;
}

/** A spawned program's raw ending, for reports: exit code, signal, output, time. */
export interface ProcessTrace {
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timed_out: boolean;
  duration_ms: number;
}

export type BackendOutcome =
  | {
      ok: true;
      output: string;
      /** Token counts, cost, session id: whatever the backend reports. */
      usage?: Record<string, unknown>;
    }
  | ({
      ok: false;
      kind: FailureKind;
      /** What went wrong, with the backend's own words (stderr) where it gave any. */
      error: string;
      /** One line telling the user how to fix it, when we know. */
      fix?: string;
      /** What the failed run still used (tokens, cost), when the backend reported it. */
      usage?: Record<string, unknown>;
    } & LimitDetails);

/** What a limit failure (`usage_limit`, `rate_limit`, `overloaded`) says about when to try again. */
export interface LimitDetails {
  /** `usage_limit`: when the window resets (Unix seconds), null when the CLI did not say. */
  resets_at?: number | null;
  /** `usage_limit`: which window is spent (`five_hour`, `weekly`), when known. */
  window?: string | null;
  /** `rate_limit` / `overloaded`: the server's Retry-After, in seconds. */
  retry_after_s?: number;
}

export interface PreflightProblem {
  /** `fail` means the backend cannot run; `warn` means it may. */
  severity: 'fail' | 'warn';
  /** What kind of failure running it would be (auth, not_installed, config, ...). */
  kind?: FailureKind;
  message: string;
  fix?: string;
}

export interface PreflightReport {
  backend: string;
  ready: boolean;
  problems: PreflightProblem[];
  /** What was found: path, version, which auth, ... (shown by backend-check and doctor). */
  details?: Record<string, string>;
}

export interface Backend {
  readonly name: string;
  /** True for backends that answer without spawning anything (no heartbeat needed). */
  readonly instant?: boolean;
  /** First-time setup as copy-paste steps (install, then log in); backend-check prints them. */
  readonly setup?: readonly string[];
  run(task: BackendTask, context: RunContext): Promise<BackendOutcome>;
  /** Can this backend run here? Cheap and side-effect free. */
  preflight(): Promise<PreflightReport>;
}

export function readyReport(
  backend: string,
  problems: PreflightProblem[] = [],
  details?: Record<string, string>,
): PreflightReport {
  const report: PreflightReport = { backend, ready: !problems.some((p) => p.severity === 'fail'), problems };
  if (details) report.details = details;
  return report;
}

/** Failures that no retry fixes: the backend needs a person (log in, configure, install). */
export const SETUP_KINDS: readonly FailureKind[] = ['auth', 'config', 'not_installed'];

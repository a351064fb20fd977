/**
 * A driver: how Mittelö runs one real CLI (Claude Code, Codex, Gemini, ...). Mostly pure data
 * and functions, so every driver is unit-tested on recorded outputs: the invocation built from the
 * prompt and settings, the parsing of its output, the classifier rules, the stream signals that
 * mean "this will not work" long before the CLI gives up, and its prerequisite checks. Only
 * driver-backend.ts runs anything (through the shared process runner).
 */
import type { ClassifyRule } from '../classify.ts';
import type { FailureKind, OutputEvent, Permissions, PreflightProblem } from '../types.ts';
import type { UsageLimitHit } from '../usage-limits.ts';

export interface DriverContext {
  /** The agent's environment (process.env, or a test's). */
  env: NodeJS.ProcessEnv;
  /** The model: --model, else the driver's MITTELO_*_MODEL variable; undefined = the CLI's default. */
  model: string | undefined;
  /** Working directory for the CLI (MITTELO_SUBPROCESS_WORKDIR), when set. */
  cwd: string | undefined;
}

/** What one task asks of the run beyond its prompt. */
export interface InvocationOptions {
  /** The task's max_cost_usd: a CLI that can cap a run's spend is told it (claude --max-budget-usd). */
  maxCostUsd?: number | null | undefined;
  /** The task's output_schema: a CLI that takes one is given it (claude --json-schema). */
  outputSchema?: Record<string, unknown> | null | undefined;
  /**
   * A folder of this run's own, for files the CLI reads (codex --output-schema FILE): an
   * invocation names its files in `files`, the runner writes them and removes the folder after.
   */
  runDir?: string | undefined;
  /** The task continues its CLI session from run to run: keep the session for the next run. */
  resume?: boolean | undefined;
  /** The session to continue (the task's session_id): a CLI that can resume by id is told it. */
  resumeSession?: string | undefined;
  /** What the run may do (the task's level, read when absent): permissions.ts says by which switch. */
  permissions?: Permissions | undefined;
}

export interface DriverInvocation {
  /** Arguments after the command (the command itself is the binary found on PATH). */
  args: string[];
  /** Written to stdin; the prompt, wherever the CLI reads it there. */
  input: string;
  /** Extra environment for this CLI. */
  env?: Record<string, string>;
  /** Overrides the working directory (Kiro with all tools trusted). */
  cwd?: string;
  /** Files to write before the run (absolute path in `runDir` -> content), removed after it. */
  files?: Record<string, string>;
}

export interface ParsedAnswer {
  /** The answer text. */
  text: string;
  /** Token counts, cost, session id, model: what the CLI reported. */
  usage?: Record<string, unknown>;
  /** The CLI said it failed even though it exited 0 (claude's `is_error`). */
  error?: string;
}

/** A sign in the output stream that the run is in a retry loop (network down, key rejected). */
export interface StreamSignal {
  kind: FailureKind;
  pattern: RegExp;
  /** What to say when the run is stopped for it. */
  message: string;
  fix: string;
}

/** Where auth material for a CLI may be, checked by preflight without running anything. */
export interface AuthSource {
  /** Any of these environment variables set counts. */
  env?: string[];
  /** Any of these files (relative to HOME, or absolute) existing counts. */
  files?: string[];
  /** A status command: run it; exit 0 means logged in. */
  statusArgs?: string[];
  /** What the status command prints when logged in / out (overrides the exit code). */
  loggedOut?: RegExp;
}

export interface DriverSpec {
  name: string;
  /** What the backend is called in messages ("Claude Code"). */
  title: string;
  /** Executable names to look for on PATH, first found wins. */
  binaries: string[];
  /** When no binary is found: run this instead (gemini falls back to `npx @google/gemini-cli`). */
  fallback?: { command: string; args: string[] };
  /** The variable holding the model, e.g. MITTELO_CLAUDE_MODEL. */
  modelEnv?: string;
  invocation(prompt: string, context: DriverContext, options?: InvocationOptions): DriverInvocation;
  /** The answer from a run that exited 0. */
  parse(stdout: string, stderr: string): ParsedAnswer;
  rules: readonly ClassifyRule[];
  /**
   * Whether a failed run's output says the subscription's usage window is spent, and when it
   * resets (usage-limits.ts); such a run fails with kind `usage_limit`, whatever the rules say.
   */
  usageLimit?: (stdout: string, stderr: string, nowS: number) => UsageLimitHit | null;
  /**
   * What one stdout line of the running CLI says, as live output (live-events.ts); absent: the
   * CLI prints its answer only at the end (gemini's json), and a run shows no live output.
   */
  live?: (line: string) => OutputEvent[];
  /** Stream signals to give up early on (see driver-backend.ts). */
  signals?: readonly StreamSignal[];
  /** `--version` arguments, and flags that must appear in `--help` (per help command). */
  versionArgs: string[];
  requiredFlags: Array<{ helpArgs: string[]; flags: string[] }>;
  auth?: AuthSource;
  /** Extra prerequisite checks (MLX: Apple silicon, Python module). */
  extraChecks?: (context: DriverContext) => Promise<PreflightProblem[]>;
  /**
   * First-time setup, as copy-paste steps (backend-check prints them): the first installs the CLI,
   * the rest log in or configure it.
   */
  setup: string[];
}

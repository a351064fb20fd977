/**
 * A driver as a Backend: find the CLI, build its invocation, run it through the shared process
 * runner, and turn what happened into an answer or a classified failure.
 *
 * Early failure: several CLIs retry silently for minutes when the network or the key is bad
 * (Codex never stops). The driver reads their output as it comes; once a retry signal appears
 * (`Reconnecting...`, an `api_retry` event, `Attempt 1 failed`), the CLI gets `earlyFailureMs`
 * more to recover, and is then stopped and the run failed with the signal's kind (`network`),
 * instead of waiting out the task's timeout.
 */

import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classify, stripAnsi } from '../classify.ts';
import { findExecutable } from '../find-executable.ts';
import { cutNote } from '../outcome.ts';
import { type LineSplitter, lineSplitter } from '../output-lines.ts';
import { type ProcessResult, runProcess, traceOf } from '../process-runner.ts';
import { subprocessPlace } from '../subprocess-env.ts';
import type { Backend, BackendOutcome, BackendTask, RunContext } from '../types.ts';
import { limitReason } from '../usage-limits.ts';
import { runPreflight } from './preflight.ts';
import type { DriverContext, DriverInvocation, DriverSpec, StreamSignal } from './types.ts';

export interface DriverSettings {
  env?: NodeJS.ProcessEnv;
  /** --model; else the driver's MITTELO_*_MODEL variable. */
  model?: string | undefined;
  /** How long a CLI may keep retrying after its first retry signal (default 20 s). */
  earlyFailureMs?: number | undefined;
}

export const DEFAULT_EARLY_FAILURE_MS = 20_000;
/** The part of a failed run's output that goes into the task's error. */
const ERROR_TAIL_CHARS = 4000;
/** Stream text kept for signal matching: enough for a line split across chunks. */
const WATCH_WINDOW = 4096;

export interface ResolvedCommand {
  command: string;
  prefixArgs: string[];
  /** Where it was found (for reports). */
  path: string;
  /** Found through the spec's fallback (npx), not installed itself. */
  viaFallback?: boolean;
}

export function driverContext(spec: DriverSpec, settings: DriverSettings): DriverContext {
  const env = settings.env ?? process.env;
  const model = settings.model || (spec.modelEnv ? env[spec.modelEnv] : undefined) || undefined;
  return { env, model, cwd: env.MITTELO_SUBPROCESS_WORKDIR || undefined };
}

/** The CLI's command: the first binary on PATH, else the fallback (gemini via npx). */
export function resolveCommand(spec: DriverSpec, env: NodeJS.ProcessEnv): ResolvedCommand | null {
  for (const binary of spec.binaries) {
    const path = findExecutable(binary, env);
    if (path) return { command: path, prefixArgs: [], path };
  }
  if (spec.fallback) {
    const path = findExecutable(spec.fallback.command, env);
    if (path)
      return {
        command: path,
        prefixArgs: spec.fallback.args,
        path: `${path} ${spec.fallback.args.join(' ')}`,
        viaFallback: true,
      };
  }
  return null;
}

export function notInstalled(spec: DriverSpec): BackendOutcome {
  return {
    ok: false,
    kind: 'not_installed',
    error: `${spec.title} is not installed: no ${spec.binaries.join(' or ')} on PATH`,
    fix: spec.setup[0] ?? `install ${spec.binaries[0]}`,
  };
}

/**
 * Watches a run's output for retry signals. The first one starts the grace period; when it ends
 * the run is given up. Progress cancels that: a line on stdout that is not itself a retry sign
 * (an answer arriving, a tool event) means the CLI recovered, and the watch starts afresh. Only
 * stdout counts as progress because CLIs log their failed attempts, stack traces included, on
 * stderr.
 */
class SignalWatch {
  signal: StreamSignal | null = null;
  /** The unfinished last line of each stream, kept until its newline arrives. */
  private readonly partial = { stdout: '', stderr: '' };
  private timer: NodeJS.Timeout | null = null;
  private readonly signals: readonly StreamSignal[];
  private readonly graceMs: number;
  private readonly onGiveUp: () => void;

  constructor(signals: readonly StreamSignal[], graceMs: number, onGiveUp: () => void) {
    this.signals = signals;
    this.graceMs = graceMs;
    this.onGiveUp = onGiveUp;
  }

  stdout = (chunk: Buffer): void => this.feed('stdout', chunk);
  stderr = (chunk: Buffer): void => this.feed('stderr', chunk);

  /** Stop watching (the run ended). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private feed(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.signals.length === 0) return;
    const lines = (this.partial[stream] + stripAnsi(chunk.toString('utf8'))).split('\n');
    this.partial[stream] = (lines.pop() ?? '').slice(-WATCH_WINDOW);
    for (const line of lines) {
      const found = this.signals.find((signal) => signal.pattern.test(line));
      if (found && !this.signal) {
        this.signal = found;
        this.timer = setTimeout(this.onGiveUp, this.graceMs);
      } else if (!found && stream === 'stdout' && this.signal && line.trim() !== '') {
        this.signal = null; // progress: the CLI got through
        this.stop();
      }
    }
  }
}

/** The last output line that shows the signal (a retry event), shortened: the evidence. */
function lastLineMatching(text: string, pattern: RegExp): string {
  const lines = stripAnsi(text).split('\n');
  const line =
    lines.findLast((candidate) => pattern.test(candidate)) ?? lines.findLast((l) => l.trim()) ?? '';
  return line.length > 500 ? `${line.slice(0, 500)}…` : line.trim();
}

function tail(text: string): string {
  const clean = stripAnsi(text).trim();
  return clean.length > ERROR_TAIL_CHARS ? `…${clean.slice(-ERROR_TAIL_CHARS)}` : clean;
}

/**
 * Failures after which a resumed run starts over: a CLI that cannot find the session (the last run
 * was on another machine, under another HOME, or the CLI pruned it) refuses before any turn, so
 * it reports no session of its own. Limits, network and timeouts are not about the session.
 */
const RESUME_REFUSED_KINDS: readonly string[] = ['unknown', 'config'];

export async function runDriver(
  spec: DriverSpec,
  settings: DriverSettings,
  task: BackendTask,
  context: RunContext,
): Promise<BackendOutcome> {
  const outcome = await runDriverOnce(spec, settings, task, context);
  if (
    task.resume_session === undefined ||
    outcome.ok ||
    !RESUME_REFUSED_KINDS.includes(outcome.kind) ||
    typeof outcome.usage?.session_id === 'string' ||
    context.signal.aborted
  ) {
    return outcome;
  }
  // The session could not be continued: run the task from the start rather than fail every
  // attempt on the same session. Its new session replaces the old one with the ack.
  const { resume_session: _gone, ...fresh } = task;
  return runDriverOnce(spec, settings, fresh, context);
}

async function runDriverOnce(
  spec: DriverSpec,
  settings: DriverSettings,
  task: BackendTask,
  context: RunContext,
): Promise<BackendOutcome> {
  // The task's own folder (its worktree) wins over MITTELO_SUBPROCESS_WORKDIR: codex gets it as
  // -C, opencode as --dir, and Kiro runs there instead of its trusted-tools folder.
  const shared = driverContext(spec, settings);
  const driverContextNow = task.workdir ? { ...shared, cwd: task.workdir } : shared;
  const resolved = resolveCommand(spec, driverContextNow.env);
  if (!resolved) return notInstalled(spec);
  const maxCostUsd = task.max_cost_usd ?? null;
  const runDir = join(tmpdir(), `mittelo-run-${task.task_id}-${randomUUID()}`);
  const invocation = spec.invocation(task.prompt, driverContextNow, {
    maxCostUsd,
    outputSchema: task.output_schema ?? null,
    runDir,
    resume: task.resume ?? false,
    resumeSession: task.resume_session,
    permissions: task.permissions ?? 'read',
  });
  // Files the CLI reads (codex's schema file) live in this run's own folder, gone after the run.
  const files = Object.entries(invocation.files ?? {});
  if (files.length === 0)
    return runInvocation(spec, settings, task, context, { invocation, resolved, driverContextNow });
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  try {
    for (const [path, content] of files) writeFileSync(path, content, { mode: 0o600 });
    return await runInvocation(spec, settings, task, context, { invocation, resolved, driverContextNow });
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

async function runInvocation(
  spec: DriverSpec,
  settings: DriverSettings,
  task: BackendTask,
  context: RunContext,
  built: { invocation: DriverInvocation; resolved: ResolvedCommand; driverContextNow: DriverContext },
): Promise<BackendOutcome> {
  const { invocation, resolved, driverContextNow } = built;
  const maxCostUsd = task.max_cost_usd ?? null;
  // A working directory of the driver's choosing (Kiro's trusted-tools folder) may not exist yet.
  if (invocation.cwd) mkdirSync(invocation.cwd, { recursive: true });
  const place = subprocessPlace(
    { ...invocation.env, MITTELO_TASK_ID: String(task.task_id), MITTELO_WORKER_ID: task.worker_id },
    driverContextNow.env,
  );
  const giveUp = new AbortController();
  const stop = () => giveUp.abort();
  context.signal.addEventListener('abort', stop, { once: true });
  const graceMs = settings.earlyFailureMs ?? DEFAULT_EARLY_FAILURE_MS;
  const watch = new SignalWatch(spec.signals ?? [], graceMs, stop);
  const live = liveLines(spec, context);
  const result = await runProcess(
    {
      command: resolved.command,
      args: [...resolved.prefixArgs, ...invocation.args],
      input: invocation.input,
      env: place.env,
      cwd: invocation.cwd ?? task.workdir ?? place.cwd,
    },
    {
      timeoutMs: context.timeoutMs,
      maxOutputBytes: context.maxOutputBytes,
      signal: giveUp.signal,
      onStdout: live
        ? (chunk: Buffer) => {
            watch.stdout(chunk);
            live.write(chunk);
          }
        : watch.stdout,
      onStderr: watch.stderr,
    },
  );
  live?.end();
  watch.stop();
  context.signal.removeEventListener('abort', stop);
  context.onProcess?.(traceOf(result));
  const stoppedFor = watch.signal && result.aborted && !context.signal.aborted ? watch.signal : null;
  return interpretRun(spec, result, {
    ...context,
    stoppedFor,
    graceMs,
    maxCostUsd,
    model: driverContextNow.model,
  });
}

/** The CLI's stdout lines turned into live output events, when the run is watched and the CLI streams. */
function liveLines(spec: DriverSpec, context: RunContext): LineSplitter | null {
  const { live } = spec;
  const listener = context.onOutput;
  if (!live || !listener) return null;
  return lineSplitter((line) => {
    for (const event of live(line)) listener(event);
  });
}

export interface RunCircumstances {
  timeoutMs: number;
  maxOutputBytes: number;
  /** The stream signal the run was stopped for (early failure), if it was. */
  stoppedFor?: StreamSignal | null;
  graceMs?: number;
  /** The clock for resets given as "in N seconds" or "at 2pm" (default: now). */
  nowS?: number;
  /** The task's max_cost_usd, for saying what budget a `budget` failure stopped at. */
  maxCostUsd?: number | null;
  /**
   * The model the CLI was asked to use (--model, MITTELO_*_MODEL): the usage gets it when the
   * CLI's own output does not name one (codex), so its tokens can be priced.
   */
  model?: string | undefined;
}

/**
 * What a finished run of a CLI means: the answer, or the failure with its kind and fix. Pure, so
 * every driver is tested on recorded outputs (test/fixtures/drivers/). A failed run whose output
 * says the usage window is spent is a `usage_limit`, with the reset time, whatever else it shows.
 */
export function interpretRun(
  spec: DriverSpec,
  result: Pick<
    ProcessResult,
    'exitCode' | 'signal' | 'stdout' | 'stderr' | 'stdoutCut' | 'timedOut' | 'spawnError'
  >,
  circumstances: RunCircumstances,
): BackendOutcome {
  const outcome = withModel(interpretEnding(spec, result, circumstances), circumstances.model);
  if (outcome.ok || result.spawnError) return outcome;
  if (outcome.kind === 'budget') return budgetStop(spec, outcome, circumstances.maxCostUsd ?? null);
  if (!spec.usageLimit) return outcome;
  const hit = spec.usageLimit(result.stdout, result.stderr, circumstances.nowS ?? Date.now() / 1000);
  if (!hit) return outcome;
  return {
    ok: false,
    kind: 'usage_limit',
    error: outcome.error,
    fix: `wait for the ${limitReason(hit.window)} to reset (the agent pauses ${spec.name} until then and its tasks wait), or raise the plan's limit`,
    resets_at: hit.resets_at,
    window: hit.window,
    ...(outcome.usage ? { usage: outcome.usage } : {}),
  };
}

/** The usage with the model the CLI was asked for, when it named none itself. */
function withModel(outcome: BackendOutcome, model: string | undefined): BackendOutcome {
  if (!model || !outcome.usage || typeof outcome.usage.model === 'string') return outcome;
  return { ...outcome, usage: { ...outcome.usage, model } };
}

/** A run the CLI stopped at the task's max_cost_usd, said with the budget and what it spent. */
function budgetStop(
  spec: DriverSpec,
  outcome: Extract<BackendOutcome, { ok: false }>,
  maxCostUsd: number | null,
): BackendOutcome {
  const spent = outcome.usage?.cost_usd;
  const budget = maxCostUsd === null ? 'its budget' : `its budget of $${maxCostUsd} (max_cost_usd)`;
  return {
    ok: false,
    kind: 'budget',
    error: `${spec.title} stopped at ${budget}${typeof spent === 'number' ? ` after spending $${spent}` : ''}; the task is not retried`,
    fix: "raise the task's max_cost_usd (or the run's --max-cost-usd), or split the task",
    ...(outcome.usage ? { usage: outcome.usage } : {}),
  };
}

/** interpretRun without the usage-window check. */
function interpretEnding(
  spec: DriverSpec,
  result: Pick<
    ProcessResult,
    'exitCode' | 'signal' | 'stdout' | 'stderr' | 'stdoutCut' | 'timedOut' | 'spawnError'
  >,
  circumstances: RunCircumstances,
): BackendOutcome {
  const output = `${result.stdout}\n${result.stderr}`;
  if (result.spawnError) {
    return result.spawnError.code === 'ENOENT'
      ? notInstalled(spec)
      : { ok: false, kind: 'config', error: `${spec.title} could not start: ${result.spawnError.message}` };
  }
  const signal = circumstances.stoppedFor;
  if (signal) {
    const seconds = Number(((circumstances.graceMs ?? DEFAULT_EARLY_FAILURE_MS) / 1000).toFixed(1));
    return {
      ok: false,
      kind: signal.kind,
      error: `${spec.title}: ${signal.message}; stopped after ${seconds} s more of retrying (MITTELO_EARLY_FAILURE_S). Last sign: ${lastLineMatching(output, signal.pattern)}`,
      fix: signal.fix,
    };
  }
  if (result.timedOut) {
    // A CLI that hung may still have said why: trust its words over the bare timeout.
    const partial = classify(spec.rules, { exitCode: null, output });
    const seconds = Number((circumstances.timeoutMs / 1000).toFixed(3));
    if (partial.kind !== 'unknown') {
      return {
        ok: false,
        kind: partial.kind,
        error: `${spec.title} ran past its timeout of ${seconds} s; its output: ${tail(output)}`,
        ...(partial.fix ? { fix: partial.fix } : {}),
      };
    }
    return {
      ok: false,
      kind: 'timeout',
      error: `${spec.title} ran past its timeout of ${seconds} s; its process tree was killed${output.trim() ? `: ${tail(output)}` : ''}`,
      fix: "raise the task's timeout_s (or the agent's --timeout-s), or split the task",
    };
  }
  if (result.exitCode === 0) {
    const parsed = spec.parse(result.stdout, result.stderr);
    if (parsed.error === undefined) {
      const text =
        result.stdoutCut > 0
          ? `${parsed.text}\n${cutNote('output', circumstances.maxOutputBytes, result.stdoutCut)}`
          : parsed.text;
      return parsed.usage ? { ok: true, output: text, usage: parsed.usage } : { ok: true, output: text };
    }
    const classified = classify(spec.rules, { exitCode: 0, output: `${parsed.error}\n${output}` });
    return {
      ok: false,
      kind: classified.kind,
      error: `${spec.title}: ${parsed.error}`,
      ...(classified.fix ? { fix: classified.fix } : {}),
      ...(parsed.usage ? { usage: parsed.usage } : {}),
    };
  }
  const classified = classify(spec.rules, { exitCode: result.exitCode, output });
  const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
  // A CLI with structured output says what went wrong there; else its raw output says it.
  // What it used before failing counts towards spend too.
  const parsed = spec.parse(result.stdout, result.stderr);
  return {
    ok: false,
    kind: classified.kind,
    error: `${spec.title} ${how}: ${parsed.error ?? (tail(output) || '(no output)')}`,
    ...(classified.fix ? { fix: classified.fix } : {}),
    ...(parsed.usage ? { usage: parsed.usage } : {}),
  };
}

export function driverBackend(spec: DriverSpec, settings: DriverSettings = {}): Backend {
  return {
    name: spec.name,
    setup: spec.setup,
    run: (task, context) => runDriver(spec, settings, task, context),
    preflight: () =>
      runPreflight(
        spec,
        driverContext(spec, settings),
        resolveCommand(spec, driverContext(spec, settings).env),
      ),
  };
}

/**
 * A backend that runs one process per task with the prompt on stdin: the shape shared by `shell`,
 * folder backends and (with their own parsing) the CLI drivers.
 */
import { outcomeFromProcess } from './outcome.ts';
import { lineSplitter } from './output-lines.ts';
import { runProcess, traceOf } from './process-runner.ts';
import { subprocessPlace } from './subprocess-env.ts';
import type { BackendOutcome, BackendTask, RunContext } from './types.ts';

export interface Invocation {
  command: string;
  args: string[];
  /** How the backend is named in errors ("shell command `cat`"). */
  label: string;
}

export async function runInvocation(
  invocation: Invocation,
  task: BackendTask,
  context: RunContext,
): Promise<BackendOutcome> {
  const place = subprocessPlace({
    MITTELO_TASK_ID: String(task.task_id),
    MITTELO_WORKER_ID: task.worker_id,
  });
  // Live output: each stdout / stderr line as it comes (shell and folder backends print plain text).
  const live = context.onOutput;
  const stdoutLines = live ? lineSplitter((text) => live({ kind: 'stdout', text })) : null;
  const stderrLines = live ? lineSplitter((text) => live({ kind: 'stderr', text })) : null;
  const result = await runProcess(
    {
      command: invocation.command,
      args: invocation.args,
      input: task.prompt,
      env: place.env,
      // The task's own folder (its worktree) wins over the shared MITTELO_SUBPROCESS_WORKDIR.
      cwd: task.workdir ?? place.cwd,
    },
    {
      timeoutMs: context.timeoutMs,
      maxOutputBytes: context.maxOutputBytes,
      signal: context.signal,
      ...(stdoutLines && stderrLines
        ? {
            onStdout: (chunk: Buffer) => stdoutLines.write(chunk),
            onStderr: (chunk: Buffer) => stderrLines.write(chunk),
          }
        : {}),
    },
  );
  stdoutLines?.end();
  stderrLines?.end();
  context.onProcess?.(traceOf(result));
  return outcomeFromProcess(result, {
    label: invocation.label,
    timeoutMs: context.timeoutMs,
    maxOutputBytes: context.maxOutputBytes,
  });
}

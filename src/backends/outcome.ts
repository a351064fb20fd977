/**
 * Turning a finished process into a backend outcome: exit 0 is an answer (with a note when the
 * output was cut), anything else a failure that carries the process's own words from stderr.
 * Shared by every backend that spawns; drivers add their classifier on top.
 */
import type { ProcessResult } from './process-runner.ts';
import type { BackendOutcome } from './types.ts';

/** How much of stderr goes into a task's error (the hub keeps errors short). */
const MAX_ERROR_CHARS = 8000;

export function cutNote(stream: 'output' | 'stderr', kept: number, cut: number): string {
  return `[mittelo: ${stream} cut at ${kept} bytes; ${cut} more bytes dropped]`;
}

export function outcomeFromProcess(
  result: ProcessResult,
  what: { label: string; timeoutMs: number; maxOutputBytes: number },
): BackendOutcome {
  if (result.spawnError) {
    const code = result.spawnError.code;
    return {
      ok: false,
      kind: code === 'ENOENT' ? 'not_installed' : 'config',
      error: `${what.label} could not start: ${result.spawnError.message}`,
      fix:
        code === 'ENOENT'
          ? `install ${what.label} or put it on PATH`
          : `check that ${what.label} is executable (chmod +x) and its folder exists`,
    };
  }
  if (result.timedOut) {
    return {
      ok: false,
      kind: 'timeout',
      error: `${what.label} ran past its timeout of ${formatSeconds(what.timeoutMs)}; its process tree was killed${tail(result.stderr)}`,
      fix: "raise the task's timeout_s (or the agent's --timeout-s), or split the task",
    };
  }
  if (result.exitCode !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
    return { ok: false, kind: 'unknown', error: `${what.label} ${how}${tail(result.stderr)}` };
  }
  let output = result.stdout;
  if (result.stdoutCut > 0) output += `\n${cutNote('output', what.maxOutputBytes, result.stdoutCut)}`;
  return { ok: true, output };
}

function tail(stderr: string): string {
  const text = stderr.trim();
  if (!text) return '';
  const shown = text.length > MAX_ERROR_CHARS ? `…${text.slice(-MAX_ERROR_CHARS)}` : text;
  return `: ${shown}`;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

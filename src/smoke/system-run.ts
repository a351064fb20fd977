/**
 * A system run: one backend, one prompt, no hub — the quickest end-to-end check that a backend
 * answers on this machine. The CLI's HOME (and XDG folders) are sandboxed under the run folder, so
 * nothing it writes touches the user's own configuration, and credentials must come from the
 * environment. Evidence in reports/e2e/<timestamp>_<backend>/: run.json, result.json (exit code,
 * latency, stdout, stderr, the classified failure kind and fix), summary.md.
 */
import { join } from 'node:path';
import { createBackend } from '../backends/registry.ts';
import type { BackendOutcome, PreflightReport, ProcessTrace } from '../backends/types.ts';
import { createRunFolder, type RunStatus, writeJson, writeText } from './artifacts.ts';
import { runInfo } from './run-info.ts';

export const DEFAULT_PROMPT = 'Reply with one short sentence that says hello.';

export interface SystemRunOptions {
  backend: string;
  prompt?: string | undefined;
  timeoutS: number;
  reportsDir: string;
  shellCmd?: string | undefined;
  model?: string | undefined;
  earlyFailureMs?: number | undefined;
  /** Put the run folder here instead of reports/e2e/ (the matrix keeps its runs together). */
  parentFolder?: string | undefined;
  /** Write run.json (the matrix writes one for all its runs). */
  withRunInfo?: boolean;
  log?: (line: string) => void;
}

export interface SystemRunResult {
  backend: string;
  status: RunStatus;
  reason: string;
  folder: string;
  latency_ms: number | null;
  kind: string | null;
  fix: string | null;
  preflight: PreflightReport;
}

export async function runSystem(options: SystemRunOptions): Promise<SystemRunResult> {
  const log = options.log ?? (() => {});
  const folder = createRunFolder(options.reportsDir, 'e2e', options.backend, options.parentFolder);
  const home = join(folder, 'home');
  const env = { ...process.env, MITTELO_SUBPROCESS_HOME: home };
  if (options.withRunInfo ?? true) {
    writeJson(
      folder,
      'run.json',
      await runInfo({ kind: 'system-run', ...options, log: undefined }, join(folder, 'hub.db')),
    );
  }
  const backend = createBackend(options.backend, {
    env,
    shellCmd: options.shellCmd,
    model: options.model,
    earlyFailureMs: options.earlyFailureMs,
  });
  const preflight = await backend.preflight();
  log(`${options.backend}: preflight ${preflight.ready ? 'ready' : 'not ready'}; running one prompt`);
  const prompt = options.prompt ?? DEFAULT_PROMPT;
  let trace: ProcessTrace | null = null;
  const started = performance.now();
  const outcome: BackendOutcome = await backend.run(
    { task_id: 0, prompt, worker_id: 'system-run' },
    {
      signal: new AbortController().signal,
      timeoutMs: options.timeoutS * 1000,
      maxOutputBytes: 4 * 1024 * 1024,
      onProcess: (seen) => {
        trace = seen;
      },
    },
  );
  const latency = Math.round(performance.now() - started);
  const ran = trace as ProcessTrace | null;
  const status: RunStatus = outcome.ok ? 'SUCCESS' : 'FAILURE';
  const reason = outcome.ok ? 'the backend answered' : `${outcome.kind}: ${outcome.error}`;
  const result = {
    backend: options.backend,
    status,
    ok: outcome.ok,
    prompt,
    rc: ran?.exit_code ?? (outcome.ok ? 0 : null),
    signal: ran?.signal ?? null,
    latency_ms: latency,
    output: outcome.ok ? outcome.output : null,
    usage: outcome.ok ? (outcome.usage ?? null) : null,
    stdout: ran?.stdout ?? null,
    stderr: ran?.stderr ?? null,
    kind: outcome.ok ? null : outcome.kind,
    error: outcome.ok ? null : outcome.error,
    fix: outcome.ok ? null : (outcome.fix ?? null),
    preflight,
    home,
  };
  writeJson(folder, 'result.json', result);
  writeText(
    folder,
    'summary.md',
    [
      `# System run: ${options.backend}`,
      '',
      `- status: **${status}**`,
      `- reason: ${reason.split('\n')[0]}`,
      `- preflight: ${preflight.ready ? 'ready' : 'not ready'}${preflight.details?.version ? ` (${preflight.details.version})` : ''}`,
      `- exit code: ${result.rc ?? '-'}, latency: ${latency} ms`,
      ...(outcome.ok ? [] : [`- kind: ${outcome.kind}`, `- fix: ${outcome.fix ?? '-'}`]),
      `- HOME of the CLI: ${home}`,
      '',
      'Files: run.json (environment, doctor), result.json (exit code, stdout, stderr, kind, fix).',
    ].join('\n'),
  );
  log(`${options.backend}: ${status}${outcome.ok ? '' : ` (${outcome.kind})`} in ${latency} ms`);
  return {
    backend: options.backend,
    status,
    reason,
    folder,
    latency_ms: latency,
    kind: outcome.ok ? null : outcome.kind,
    fix: outcome.ok ? null : (outcome.fix ?? null),
    preflight,
  };
}

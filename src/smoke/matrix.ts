/**
 * The backend matrix: every known backend's preflight, then a system run for the ready ones (and,
 * with runOnWarn, for those with warnings only), all in reports/matrix/<timestamp>/ with one
 * summary.md table: backend, preflight, result, latency, kind, fix.
 */
import { join } from 'node:path';
import { createBackend, knownBackendNames } from '../backends/registry.ts';
import { createRunFolder, markdownTable, type RunStatus, writeJson, writeText } from './artifacts.ts';
import { runInfo } from './run-info.ts';
import { runSystem } from './system-run.ts';

export interface MatrixOptions {
  include?: string[] | undefined;
  exclude?: string[] | undefined;
  runOnWarn: boolean;
  timeoutS: number;
  reportsDir: string;
  shellCmd?: string | undefined;
  earlyFailureMs?: number | undefined;
  log?: (line: string) => void;
}

export interface MatrixRow {
  backend: string;
  preflight: 'ready' | 'warn' | 'not ready';
  result: RunStatus;
  latency_ms: number | null;
  kind: string | null;
  fix: string | null;
  reason: string;
  folder: string | null;
}

/** The backends the matrix covers: all known (shell only with a command), narrowed by include/exclude. */
export function matrixBackends(options: Pick<MatrixOptions, 'include' | 'exclude' | 'shellCmd'>): string[] {
  const known = knownBackendNames({ shellCmd: options.shellCmd }).filter(
    (name) => name !== 'shell' || Boolean(options.shellCmd),
  );
  const included = options.include?.length ? known.filter((name) => options.include!.includes(name)) : known;
  return included.filter((name) => !options.exclude?.includes(name));
}

export async function runMatrix(options: MatrixOptions): Promise<{ folder: string; rows: MatrixRow[] }> {
  const log = options.log ?? (() => {});
  const folder = createRunFolder(options.reportsDir, 'matrix', 'all');
  writeJson(
    folder,
    'run.json',
    await runInfo({ kind: 'matrix', ...options, log: undefined }, join(folder, 'hub.db')),
  );
  const rows: MatrixRow[] = [];
  for (const name of matrixBackends(options)) {
    const report = await createBackend(name, { shellCmd: options.shellCmd }).preflight();
    const warned = report.problems.some((p) => p.severity === 'warn');
    const preflight = !report.ready ? 'not ready' : warned ? 'warn' : 'ready';
    if (preflight === 'not ready' || (preflight === 'warn' && !options.runOnWarn)) {
      const problem = report.problems.find((p) => p.severity === (preflight === 'warn' ? 'warn' : 'fail'));
      log(`${name}: ${preflight}, not run`);
      rows.push({
        backend: name,
        preflight,
        result: 'SKIPPED',
        latency_ms: null,
        kind: problem?.kind ?? null,
        fix: problem?.fix ?? null,
        reason: problem?.message ?? preflight,
        folder: null,
      });
      continue;
    }
    const run = await runSystem({
      backend: name,
      timeoutS: options.timeoutS,
      reportsDir: options.reportsDir,
      shellCmd: options.shellCmd,
      earlyFailureMs: options.earlyFailureMs,
      parentFolder: folder,
      withRunInfo: false,
      log,
    });
    rows.push({
      backend: name,
      preflight,
      result: run.status,
      latency_ms: run.latency_ms,
      kind: run.kind,
      fix: run.fix,
      reason: run.reason,
      folder: run.folder,
    });
  }
  writeJson(folder, 'matrix.json', { rows });
  writeText(
    folder,
    'summary.md',
    [
      '# Backend matrix',
      '',
      markdownTable(
        ['backend', 'preflight', 'result', 'latency ms', 'kind', 'fix'],
        rows.map((row) => [
          row.backend,
          row.preflight,
          row.result,
          row.latency_ms === null ? '-' : String(row.latency_ms),
          row.kind ?? '-',
          row.fix ?? '-',
        ]),
      ),
      '',
      `${rows.filter((r) => r.result === 'SUCCESS').length} of ${rows.length} backends answered; each run's evidence is in its own folder here.`,
    ].join('\n'),
  );
  return { folder, rows };
}

/**
 * One row per backend for `mittelo doctor` and `mittelo backend-check`: its preflight (installed
 * where, which version, the flags we rely on, which auth, what it may do by default), drift from docs/cli-lock.json, and the
 * first-time setup to copy and paste when it is not ready.
 */
import { describePermissions } from '../backends/permissions.ts';
import { type BackendSettings, createBackend } from '../backends/registry.ts';
import type { PreflightProblem } from '../backends/types.ts';
import { type CliLock, versionDrift } from './cli-lock.ts';

export interface BackendRow {
  backend: string;
  ready: boolean;
  details: Record<string, string>;
  problems: PreflightProblem[];
  /** Installed version differs from the tested one. */
  drift: string | null;
  setup: readonly string[];
}

export async function backendRow(
  name: string,
  settings: BackendSettings,
  lock: CliLock,
): Promise<BackendRow> {
  const backend = createBackend(name, settings);
  const report = await backend.preflight();
  // What it will be allowed to do by default (a shared workspace: read; a task's own worktree: edit).
  const details: Record<string, string> = {
    ...report.details,
    shared: `may ${describePermissions(name, 'read')}`,
    worktree: `may ${describePermissions(name, 'edit')}`,
  };
  return {
    backend: name,
    ready: report.ready,
    details,
    problems: report.problems,
    drift: versionDrift(name, details.version, lock),
    setup: backend.setup ?? [],
  };
}

/** Rows for several backends, checked at once (each check spawns a CLI or two). */
export function backendRows(
  names: readonly string[],
  settings: BackendSettings,
  lock: CliLock,
): Promise<BackendRow[]> {
  return Promise.all(names.map((name) => backendRow(name, settings, lock)));
}

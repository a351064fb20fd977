/** The doctor's whole report: the core checks, and (unless only the core is asked for) one row per CLI backend. */
import { builtInBackendNames } from '../backends/registry.ts';
import { type BackendRow, backendRows } from './backend-rows.ts';
import { readCliLock } from './cli-lock.ts';
import { type CheckResult, coreChecks, type Listen } from './core-checks.ts';

export interface DoctorReport {
  /** Every core check passed. */
  ok: boolean;
  core: CheckResult[];
  backends: BackendRow[];
}

/** Backends the full doctor checks: every CLI driver (echo is a core check; shell needs a command). */
export function doctorBackendNames(): string[] {
  return builtInBackendNames().filter((name) => name !== 'echo' && name !== 'shell');
}

export async function doctorReport(options: {
  db: string;
  coreOnly?: boolean;
  listen?: Listen;
}): Promise<DoctorReport> {
  const [core, backends] = await Promise.all([
    coreChecks({ db: options.db, listen: options.listen }),
    options.coreOnly ? Promise.resolve([]) : backendRows(doctorBackendNames(), {}, readCliLock()),
  ]);
  return { ok: core.every((check) => check.ok), core, backends };
}

/**
 * Driver verification: for each CLI driver, PASS when a ready backend answers a prompt, FAIL
 * when a ready backend does not, SKIP when it cannot be checked here (not installed, not logged
 * in) — with `strict`, SKIP counts as FAIL. Evidence in reports/verify_cli_drivers/<timestamp>/.
 */
import { join } from 'node:path';
import { doctorBackendNames } from '../doctor/report.ts';
import { createRunFolder, markdownTable, writeJson, writeText } from './artifacts.ts';
import { runMatrix } from './matrix.ts';

export type Verdict = 'PASS' | 'FAIL' | 'SKIP';

export interface VerifyOptions {
  include?: string[] | undefined;
  exclude?: string[] | undefined;
  strict: boolean;
  timeoutS: number;
  reportsDir: string;
  earlyFailureMs?: number | undefined;
  log?: (line: string) => void;
}

export interface VerifyRow {
  backend: string;
  verdict: Verdict;
  reason: string;
  fix: string | null;
}

export async function verifyDrivers(
  options: VerifyOptions,
): Promise<{ folder: string; rows: VerifyRow[]; ok: boolean }> {
  const include = options.include?.length ? options.include : doctorBackendNames();
  const matrix = await runMatrix({
    include,
    exclude: options.exclude,
    runOnWarn: true,
    timeoutS: options.timeoutS,
    reportsDir: join(options.reportsDir, 'verify_cli_drivers', '.runs'),
    earlyFailureMs: options.earlyFailureMs,
    log: options.log,
  });
  const rows: VerifyRow[] = matrix.rows.map((row) => {
    const skipped = row.result === 'SKIPPED';
    const verdict: Verdict = skipped
      ? options.strict
        ? 'FAIL'
        : 'SKIP'
      : row.result === 'SUCCESS'
        ? 'PASS'
        : 'FAIL';
    const reason =
      skipped && options.strict ? `--strict: could not be checked here: ${row.reason}` : row.reason;
    return { backend: row.backend, verdict, reason: reason.split('\n')[0]!, fix: row.fix };
  });
  const folder = createRunFolder(options.reportsDir, 'verify_cli_drivers', options.strict ? 'strict' : 'all');
  writeJson(folder, 'verify.json', { strict: options.strict, rows, matrix: matrix.folder });
  writeText(
    folder,
    'summary.md',
    [
      `# Driver verification${options.strict ? ' (strict)' : ''}`,
      '',
      markdownTable(
        ['backend', 'verdict', 'reason', 'fix'],
        rows.map((row) => [row.backend, row.verdict, row.reason, row.fix ?? '-']),
      ),
      '',
      `PASS ${rows.filter((r) => r.verdict === 'PASS').length}, FAIL ${rows.filter((r) => r.verdict === 'FAIL').length}, SKIP ${rows.filter((r) => r.verdict === 'SKIP').length}. The runs behind each verdict: ${matrix.folder}`,
    ].join('\n'),
  );
  return { folder, rows, ok: rows.every((row) => row.verdict !== 'FAIL') };
}

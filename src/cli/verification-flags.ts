/** What the verification commands (smoke, system-run, matrix, verify-drivers) share: where reports go, progress, the closing line. */
import { Option } from 'commander';
import { CliError } from './common.ts';

export function reportsDirOption(): Option {
  return new Option('--reports-dir <dir>', 'where the reports/<kind>/<timestamp>_... folders go').default(
    'reports',
  );
}

export function timeoutOption(defaultS: string): Option {
  return new Option('--timeout-s <seconds>', 'give up after this long').default(defaultS);
}

export function parseSeconds(value: string, flag: string): number {
  const n = /^(\d+\.?\d*|\.\d+)$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n > 0)) throw new CliError(`${flag} must be a number of seconds above 0, got "${value}"`);
  return n;
}

/** --include / --exclude: which backends (or drivers) a run covers. */
export function includeExcludeOptions(what: string): Option[] {
  return [
    new Option('--include <names>', `only these ${what} (comma-separated)`),
    new Option('--exclude <names>', `not these ${what} (comma-separated)`),
  ];
}

/** A comma-separated list flag (`--include codex,gemini`). */
export function parseList(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** Progress goes to stderr, so stdout stays the result (and --json stays parseable). */
export const progress = (line: string): void => {
  process.stderr.write(`· ${line}\n`);
};

/** The last line: where the evidence is. */
export function artifactsLine(folder: string): string {
  return `artifacts: ${folder}`;
}

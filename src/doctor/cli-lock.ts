/**
 * docs/cli-lock.json: the CLI versions the drivers were written and tested against. The doctor
 * compares what is installed with it and reports drift; CI installs exactly these versions.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LockedCli {
  package: string | null;
  binary: string;
  version: string | null;
}

export interface CliLock {
  clis: Record<string, LockedCli>;
}

/** The lock file shipped with the package (docs/ is two folders up from src/doctor or dist/doctor). */
export const CLI_LOCK_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'docs',
  'cli-lock.json',
);

export function readCliLock(path = CLI_LOCK_PATH): CliLock {
  return JSON.parse(readFileSync(path, 'utf8')) as CliLock;
}

/** `2.1.197` out of `2.1.197 (Claude Code)`, `codex-cli 0.169.0`, ... */
export function versionNumber(text: string | undefined): string | null {
  return text ? (/(\d+\.\d+\.\d+(?:[-+][\w.]+)?)/.exec(text)?.[1] ?? null) : null;
}

/** Why the installed version differs from the locked one, or null when it does not (or is not locked). */
export function versionDrift(backend: string, installed: string | undefined, lock: CliLock): string | null {
  const locked = lock.clis[backend]?.version;
  const found = versionNumber(installed);
  if (!locked || !found || found === locked) return null;
  return `installed ${found}, tested with ${locked} (docs/cli-lock.json)`;
}

/**
 * run.json: what a verification run needs to be understood later — which code (git sha, when run
 * inside a repository), which Node and platform, the arguments, the doctor's report, and the
 * model variables that chose the models.
 */
import { execFileSync } from 'node:child_process';
import { arch, platform, release } from 'node:os';
import { doctorReport } from '../doctor/report.ts';

export interface RunInfo {
  started_at: string;
  git_sha: string | null;
  node: string;
  platform: string;
  args: Record<string, unknown>;
  doctor: unknown;
  models: Record<string, string>;
}

function gitSha(cwd: string): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd,
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    })
      .toString()
      .trim();
  } catch {
    return null; // not a repository, or no git
  }
}

/** The MITTELO_*_MODEL variables that are set (they pick each driver's model). */
export function modelVariables(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => /^MITTELO_\w+_MODEL$/.test(entry[0]) && Boolean(entry[1]),
    ),
  );
}

export async function runInfo(args: Record<string, unknown>, db: string): Promise<RunInfo> {
  return {
    started_at: new Date().toISOString(),
    git_sha: gitSha(process.cwd()),
    node: process.version,
    platform: `${platform()} ${release()} ${arch()}`,
    args,
    doctor: await doctorReport({ db }),
    models: modelVariables(),
  };
}

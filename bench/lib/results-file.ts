/** bench/results/latest.json: every figure and raw number of the last run, with what it ran on. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import type { BenchContext } from './context.ts';
import { REPO_ROOT } from './hub-process.ts';
import { marginPercent, verdict } from './report.ts';

export interface RunInfo {
  startedAt: Date;
  seconds: number;
  scenarios: string[];
  skipped: Array<{ scenario: string; why: string }>;
  failed: Array<{ scenario: string; error: string }>;
  /** Scenarios that began while other processes loaded the machine (% of one core). */
  busy: Array<{ scenario: string; percent: number }>;
}

function git(args: string[]): string | null {
  const answer = spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  return answer.status === 0 ? answer.stdout.trim() : null;
}

export function writeResults(path: string, ctx: BenchContext, info: RunInfo): void {
  const cpus = os.cpus();
  const document = {
    started_at: info.startedAt.toISOString(),
    seconds: Math.round(info.seconds),
    machine: {
      cores: cpus.length,
      cpu: cpus[0]?.model ?? null,
      memory_gb: Math.round(os.totalmem() / 1e9),
      platform: `${os.platform()} ${os.release()}`,
      node: process.version,
    },
    git: { commit: git(['rev-parse', 'HEAD']), dirty: (git(['status', '--porcelain']) ?? '') !== '' },
    settings: ctx.settings,
    scenarios: info.scenarios,
    skipped: info.skipped,
    failed: info.failed,
    busy_machine: info.busy,
    figures: ctx.figures.map((figure) => ({
      ...figure,
      result: verdict(figure) || null,
      margin_percent: marginPercent(figure),
    })),
    raw: ctx.raw,
    profiles: ctx.profiles,
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
}

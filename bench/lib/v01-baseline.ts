/**
 * The baseline: the Python v0.1 hub (public repository taituo/mittelo). The bench runs it only
 * when MITTELO_BENCH_V01_DIR names a checkout; it never fetches or builds it. Without one, the
 * figures the issue recorded for v0.1 on this machine are shown instead, marked "not same-run".
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Baseline } from './report.ts';

export interface V01Location {
  dir: string | null;
  /** Why the same-run baseline is not available, when it is not. */
  problem: string | null;
}

export function locateV01(): V01Location {
  const given = process.env.MITTELO_BENCH_V01_DIR;
  if (!given) {
    return {
      dir: null,
      problem: 'MITTELO_BENCH_V01_DIR is not set: v0.1 figures are the issue text, not same-run',
    };
  }
  const dir = resolve(given);
  if (!existsSync(join(dir, 'mittelo', '__main__.py'))) {
    return {
      dir: null,
      problem: `MITTELO_BENCH_V01_DIR=${given} has no mittelo/__main__.py: point it at a checkout of taituo/mittelo (v0.1 figures are the issue text, not same-run)`,
    };
  }
  return { dir, problem: null };
}

/** v0.1 as measured with hubload on this machine, from the issue text. */
export const V01_RECORDED = {
  enqueue8: 2_400,
  leaseAck8x10: 1_600,
  probeRssGrowthMb: 210,
} as const;

export function recorded(value: number): Baseline {
  return { value, sameRun: false };
}

export function notApplicable(text: string): Baseline {
  return { value: null, sameRun: false, text };
}

export const NO_V1_METHODS = 'n/a (v0.1 has no enqueue_many/long-poll)';

/** Shared measuring steps: a checked hubload run, and the median of fresh-hub repetitions. */
import type { BenchContext } from './context.ts';
import { monotonicMicros } from './cpu-profile.ts';
import type { BenchHub } from './hub-process.ts';
import { type HubloadResult, type HubloadRun, runHubload } from './hubload.ts';
import { median } from './numbers.ts';

export interface Scenario {
  name: string;
  /** One line for --list and the docs. */
  title: string;
  /** Skipped (with a clear line) when hubload.mjs is missing. */
  needsHubload: boolean;
  run(ctx: BenchContext): Promise<void>;
}

/** Run a hubload phase on `hub`; a run whose own checks failed (lost or doubled tasks) throws. */
export async function hubload(
  ctx: BenchContext,
  hub: BenchHub,
  run: Omit<HubloadRun, 'host' | 'port'>,
): Promise<HubloadResult> {
  const path = ctx.settings.hubload;
  if (!path) throw new Error('hubload.mjs is missing');
  const result = await runHubload(path, { ...run, host: hub.host, port: hub.port });
  const wallSeconds = Number(result.wall_s);
  if (Number.isFinite(wallSeconds)) {
    // hubload's timed part ended just before it printed and exited; the prefill is left out.
    const end = monotonicMicros();
    hub.timed.push([end - wallSeconds * 1e6 - 20_000, end]);
  }
  ctx.keep({ hub: hub.kind, ...result });
  if (result.ok === false) {
    throw new Error(
      `hubload ${run.phase} on the ${hub.kind} hub failed its own checks: ${JSON.stringify(result).slice(0, 600)}`,
    );
  }
  return result;
}

/** Measure `times` times (each call should use a fresh hub) and return the median. */
export async function medianOf(
  times: number,
  once: (attempt: number) => Promise<number>,
): Promise<{ median: number; values: number[] }> {
  const values: number[] = [];
  for (let attempt = 0; attempt < times; attempt++) values.push(await once(attempt));
  return { median: median(values), values };
}

export function tasksPerSecond(result: HubloadResult): number {
  const value = Number(result.tasks_per_s);
  if (!Number.isFinite(value)) throw new Error(`hubload gave no tasks_per_s: ${JSON.stringify(result)}`);
  return value;
}

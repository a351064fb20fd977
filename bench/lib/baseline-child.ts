/**
 * A peer baseline's child process (pg-boss, BullMQ): one role per process, its result as one JSON
 * line `{"role": ..., ...}` (or `{"fatal": ...}`) on stdout, with a hang guard well above any
 * healthy run. Shared by bench/lib/pgboss-baseline.ts and bench/lib/bullmq-baseline.ts.
 */
import { type BenchProcess, startProcess } from './agents.ts';
import { REPO_ROOT } from './hub-process.ts';

export type ChildResult = Record<string, unknown>;

/** A hang guard per child, well above any healthy run (10,000 jobs take seconds). */
export const CHILD_TIMEOUT_S = 300;

export interface BaselineChild {
  /** For messages: "pg-boss", "BullMQ". */
  peer: string;
  /** The child script, run with this Node. */
  script: string;
  /** Arguments every role gets (the server's URL, the queue). */
  common: string[];
}

export function startBaselineChild(child: BaselineChild, role: string, args: string[]): BenchProcess {
  return startProcess(
    `${child.peer} ${role}`,
    process.execPath,
    [child.script, role, ...child.common, '--timeout-s', String(CHILD_TIMEOUT_S), ...args],
    { cwd: REPO_ROOT },
  );
}

/** The child's result line; throws with its own words when it failed. */
export function baselineResult(child: BenchProcess, peer: string, role: string): ChildResult {
  const line = child
    .stdout()
    .split('\n')
    .filter((text) => text.startsWith('{'))
    .map((text) => JSON.parse(text) as ChildResult)
    .find((object) => object.role === role);
  if (!line)
    throw new Error(`${peer} ${role} printed no result; stderr: ${child.stderr().trim().slice(-800)}`);
  if (line.fatal) throw new Error(`${peer} ${role} failed: ${String(line.fatal).split('\n')[0]}`);
  return line;
}

/** Run one role to its end and return its result line. */
export async function runBaselineChild(
  child: BaselineChild,
  role: string,
  args: string[],
): Promise<ChildResult> {
  const process_ = startBaselineChild(child, role, args);
  const timer = setTimeout(() => void process_.stop(), (CHILD_TIMEOUT_S + 60) * 1000);
  await process_.exited;
  clearTimeout(timer);
  return baselineResult(process_, child.peer, role);
}

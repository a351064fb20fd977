/** Small process checks for tests that must prove nothing was left running. */
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';

/** Whether a process with this pid exists and is not a zombie (dead, waiting to be reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Whether `signal`, sent to `pid`, is still pending (not yet taken by the process, from
 * /proc/<pid>/status). Once it is not, a second signal is a delivery of its own rather than one
 * merged into the first: wait for this between two signals instead of sleeping.
 */
export function signalPending(pid: number, signal: NodeJS.Signals): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false; // gone
  }
  const bit = 1n << BigInt(constants.signals[signal] - 1);
  return ['ShdPnd', 'SigPnd'].some((field) => {
    const mask = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & bit) !== 0n;
  });
}

/** Pids of every process whose command line starts with `prefix` (from /proc). */
export function pidsRunning(prefix: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.startsWith(prefix) && isAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

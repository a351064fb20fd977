/**
 * Summarize a V8 .cpuprofile (written by `node --cpu-prof`): the functions with the most self
 * time, which is where to look first when a target is missed.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { REPO_ROOT } from './hub-process.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  /** Microseconds on the monotonic clock (the one process.hrtime reads). */
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** Only samples inside these timed phases were counted ([start, end] µs, monotonic); all if none. */
  windows: Array<[number, number]>;
  busyMs: number;
  idleMs: number;
  top: HotFunction[];
  /** Self time per source file (native and V8 entries under their own names). */
  byFile: Array<{ file: string; percent: number }>;
}

/** Now on the clock the profile's timestamps use, in microseconds. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function summarizeProfile(
  file: string,
  windows: Array<[number, number]> = [],
  topCount = 12,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, { name: string; where: string; us: number }>();
  let idleUs = 0;
  let busyUs = 0;
  let at = profile.startTime;
  const counted = (time: number) =>
    windows.length === 0 || windows.some(([start, end]) => time >= start && time <= end);
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    const node = byId.get(profile.samples[i]!);
    // The delta before the next sample is the time spent where this one was taken.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (!node || !counted(at)) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${functionName}\u0000${where}`;
    const entry = selfUs.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    selfUs.set(key, entry);
  }
  const top = [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topCount)
    .map((entry) => ({
      name: entry.name,
      where: entry.where,
      selfMs: entry.us / 1000,
      percent: busyUs > 0 ? (100 * entry.us) / busyUs : 0,
    }));
  const files = new Map<string, number>();
  for (const entry of selfUs.values()) {
    const file = entry.where ? entry.where.slice(0, entry.where.lastIndexOf(':')) : entry.name;
    files.set(file, (files.get(file) ?? 0) + entry.us);
  }
  const byFile = [...files]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([name, us]) => ({ file: name, percent: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  return { file, windows, busyMs: busyUs / 1000, idleMs: idleUs / 1000, top, byFile };
}

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  if (path.startsWith(REPO_ROOT)) return relative(REPO_ROOT, path);
  const modules = path.lastIndexOf('node_modules/');
  return modules >= 0 ? path.slice(modules) : path;
}

export function formatProfile(summary: ProfileSummary): string {
  const scope = summary.windows.length ? `timed phases only (${summary.windows.length})` : 'whole run';
  const lines = [
    `  cpu profile ${summary.file}, ${scope}: busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms; top self time:`,
  ];
  for (const hot of summary.top) {
    lines.push(
      `    ${hot.percent.toFixed(1).padStart(5)}%  ${hot.selfMs.toFixed(0).padStart(6)} ms  ${hot.name}  ${hot.where}`,
    );
  }
  lines.push(
    `    by file: ${summary.byFile.map((entry) => `${entry.file} ${entry.percent.toFixed(1)}%`).join(', ')}`,
  );
  return lines.join('\n');
}

/**
 * Runs the shared load generator, hubload.mjs, against a hub and returns the JSON object it
 * prints for the phase. It lives outside this repository (../shared/bench/hubload.mjs from the
 * repository root); MITTELO_HUBLOAD points elsewhere.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { track } from './children.ts';
import { REPO_ROOT } from './hub-process.ts';

export type HubloadPhase = 'enqueue' | 'leaseack' | 'probe';

export interface HubloadRun {
  phase: HubloadPhase;
  host: string;
  port: number;
  n?: number;
  c?: number;
  batch?: number;
  /** hubload's own limit, and ours (plus a margin) before the run is killed. */
  timeoutS?: number;
}

/** What hubload printed for the phase: tasks_per_s, ok, errors, ... (see hubload.mjs). */
export type HubloadResult = Record<string, unknown> & { phase: string; ok?: boolean };

/** Where hubload.mjs is, and whether it is there. */
export function locateHubload(): { path: string; found: boolean } {
  const path = process.env.MITTELO_HUBLOAD
    ? resolve(process.env.MITTELO_HUBLOAD)
    : resolve(REPO_ROOT, '..', 'shared', 'bench', 'hubload.mjs');
  return { path, found: existsSync(path) };
}

export function runHubload(hubloadPath: string, run: HubloadRun): Promise<HubloadResult> {
  const timeoutS = run.timeoutS ?? 300;
  const args = [
    hubloadPath,
    '--phase',
    run.phase,
    '--host',
    run.host,
    '--port',
    String(run.port),
    '--timeout-s',
    String(timeoutS),
  ];
  if (run.n !== undefined) args.push('--n', String(run.n));
  if (run.c !== undefined) args.push('--c', String(run.c));
  if (run.batch !== undefined) args.push('--batch', String(run.batch));
  const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-10_000);
  });
  return new Promise((resolveRun, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), (timeoutS + 30) * 1000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`hubload could not start: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const result = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as HubloadResult)
        .find((object) => object.phase === run.phase);
      if (!result) {
        reject(
          new Error(`hubload ${run.phase} printed no result (exit ${code ?? signal}); stderr: ${stderr}`),
        );
      } else if (result.fatal) {
        reject(new Error(`hubload ${run.phase} failed: ${String(result.fatal).split('\n')[0]}`));
      } else {
        resolveRun(result);
      }
    });
  });
}

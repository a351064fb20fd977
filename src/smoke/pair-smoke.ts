/**
 * The pair smoke: a hub on a free port with a throwaway database, two agents (backends A and B,
 * echo by default), N tasks routed to them in turn, a bounded wait, everything shut down, and the
 * evidence in reports/swarm/<timestamp>_<a>_<b>/: run.json, result.json, summary.md.
 *
 * SKIPPED is an honest outcome, not a failure: when this machine may not listen on localhost
 * (QA ticket P0: sandboxes that forbid sockets), or a backend is not ready (not installed, not
 * logged in), the run says exactly why and ends with exit 0.
 */
import { join } from 'node:path';
import { planSwarm } from '../agent/swarm.ts';
import { isMitteloError } from '../errors.ts';
import { type JobReport, runJob } from '../run/job.ts';
import { percentile } from '../run/results.ts';
import { createRunFolder, markdownTable, type RunStatus, writeJson, writeText } from './artifacts.ts';
import { runInfo } from './run-info.ts';

export interface PairSmokeOptions {
  backendA: string;
  backendB: string;
  tasks: number;
  timeoutS: number;
  reportsDir: string;
  shellCmd?: string | undefined;
  /** Where the hub listens (127.0.0.1). */
  host?: string;
  /** Progress lines while it runs. */
  log?: (line: string) => void;
}

export interface PairSmokeResult {
  status: RunStatus;
  reason: string;
  folder: string;
  counts: { total: number; done: number; failed: number; unfinished: number };
}

/** Listen errors that mean "this machine may not run a hub here", not "the hub is broken". */
const ENVIRONMENT_LISTEN_ERRORS = ['EPERM', 'EACCES', 'EADDRNOTAVAIL'];

export async function runPairSmoke(options: PairSmokeOptions): Promise<PairSmokeResult> {
  const log = options.log ?? (() => {});
  const { backendA: a, backendB: b } = options;
  const folder = createRunFolder(options.reportsDir, 'swarm', `${a}_${b}`);
  const db = join(folder, 'hub.db');
  log(
    `pair smoke ${a} + ${b}: ${options.tasks} tasks, up to ${options.timeoutS} s; collecting run information`,
  );
  writeJson(folder, 'run.json', await runInfo({ kind: 'pair-smoke', ...options, log: undefined }, db));

  const finish = (status: RunStatus, reason: string, report: JobReport | null): PairSmokeResult => {
    const summary = report?.summary;
    const counts = {
      total: options.tasks,
      done: summary?.done ?? 0,
      failed: (summary?.failed ?? 0) + (summary?.canceled ?? 0),
      unfinished: summary ? summary.unfinished : options.tasks,
    };
    writeJson(folder, 'result.json', {
      ok: status === 'SUCCESS',
      status,
      error: status === 'SUCCESS' ? null : reason,
      counts,
      tasks: report?.records ?? [],
    });
    writeText(folder, 'summary.md', pairSummary(options, status, reason, report, counts));
    return { status, reason, folder, counts };
  };

  const specs =
    a === b
      ? [{ backend: a, count: 2 }]
      : [
          { backend: a, count: 1 },
          { backend: b, count: 1 },
        ];
  const plan = await planSwarm(specs, { shellCmd: options.shellCmd });
  const unready = plan.reports.filter((report) => !report.ready);
  if (unready.length > 0) {
    const why = unready
      .map((report) => {
        const problem = report.problems.find((p) => p.severity === 'fail');
        return `${report.backend} is not ready: ${problem?.message ?? 'preflight failed'}${problem?.fix ? ` (fix: ${problem.fix})` : ''}`;
      })
      .join('; ');
    log(`SKIPPED: ${why}`);
    return finish('SKIPPED', why, null);
  }

  const tasks = Array.from({ length: options.tasks }, (_, i) => ({
    prompt: `pair smoke task ${i + 1}: answer with one short sentence`,
    backend: i % 2 === 0 ? a : b,
  }));
  let report: JobReport;
  try {
    report = await runJob({
      tasks,
      lines: tasks.map((_, i) => i + 1),
      db,
      specs,
      plan,
      agent: { timeoutS: options.timeoutS, preflight: false },
      resultsPath: join(folder, 'results.jsonl'),
      deadlineMs: options.timeoutS * 1000,
      graceMs: 2000,
      log: (line) => log(line),
      onProgress: (p) => log(`${p.done + p.failed + p.canceled}/${p.total} finished (${p.done} done)`),
    });
  } catch (error) {
    const listenError = isMitteloError(error) ? error.details?.listen_error : undefined;
    if (typeof listenError === 'string' && ENVIRONMENT_LISTEN_ERRORS.includes(listenError)) {
      log(`SKIPPED: ${(error as Error).message}`);
      return finish('SKIPPED', (error as Error).message, null);
    }
    return finish('FAILURE', (error as Error).message, null);
  }
  const { summary } = report;
  if (report.ended === 'deadline') {
    return finish(
      'FAILURE',
      `timed out after ${options.timeoutS} s with ${summary.unfinished} task(s) unfinished`,
      report,
    );
  }
  if (summary.done !== summary.total) {
    const firstFailure = report.records.find((r) => r.status !== 'done');
    return finish(
      'FAILURE',
      `${summary.total - summary.done} of ${summary.total} task(s) did not succeed${firstFailure ? ` (first: ${firstFailure.error_kind ?? firstFailure.status}: ${firstFailure.error ?? ''})` : ''}`,
      report,
    );
  }
  return finish('SUCCESS', `all ${summary.total} tasks done`, report);
}

function pairSummary(
  options: PairSmokeOptions,
  status: RunStatus,
  reason: string,
  report: JobReport | null,
  counts: PairSmokeResult['counts'],
): string {
  const lines = [
    `# Pair smoke: ${options.backendA} + ${options.backendB}`,
    '',
    `- status: **${status}**`,
    `- reason: ${reason}`,
    `- tasks: ${counts.total} (done ${counts.done}, failed ${counts.failed}, unfinished ${counts.unfinished})`,
  ];
  if (report) {
    const latencies = report.records.map((r) => r.latency_ms).sort((x, y) => x - y);
    lines.push(
      `- latency (enqueue to done): p50 ${percentile(latencies, 50) ?? '-'} ms, p95 ${percentile(latencies, 95) ?? '-'} ms, max ${latencies.at(-1) ?? '-'} ms`,
      `- wall time: ${Math.round(report.summary.wall_ms)} ms`,
      '',
      '## Per backend',
      '',
      markdownTable(
        ['backend', 'done', 'failed', 'p50 run ms', 'p95 run ms'],
        report.summary.backends.map((row) => [
          row.backend,
          String(row.done),
          String(row.failed + row.canceled),
          String(row.p50_ms ?? '-'),
          String(row.p95_ms ?? '-'),
        ]),
      ),
    );
  }
  lines.push('', 'Files: run.json (environment, doctor), result.json (every task), results.jsonl, hub.db.');
  return lines.join('\n');
}

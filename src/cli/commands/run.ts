/**
 * `mittelo run PACK --agent echo=2`: the one-command job. An embedded hub (or --hub), the agents,
 * the pack enqueued, progress while it runs, every result written to a JSONL file, a summary
 * table, and exit 0 only when every task is done.
 */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { type AgentSpec, planSwarm } from '../../agent/swarm.ts';
import type { NewTask } from '../../protocol/model.ts';
import { type JobReport, runJob } from '../../run/job.ts';
import { describeBlocked } from '../../run/remaining-work.ts';
import { type AgentFlags, addAgentOptions, agentOptionsFrom, reportPreflight } from '../agent-flags.ts';
import { CliError, EXIT, parsePort, printJson } from '../common.ts';
import { formatTable, preview } from '../format.ts';
import { progressView } from '../progress.ts';
import { parseJsonlTasks, readInput } from '../read-tasks.ts';
import { onStopSignals } from '../stop-signals.ts';
import { agentSpecOption, describeSpecs } from './swarm.ts';

interface RunFlags extends AgentFlags {
  agent?: AgentSpec[];
  hub?: string;
  token?: string;
  db?: string;
  out?: string;
  deadlineS?: string;
  waitForAgents?: boolean;
  graceS: string;
  json?: boolean;
}

/** How many failed tasks the summary lists by name. */
const FAILURES_SHOWN = 10;

function parseHub(value: string): { host: string; port: number } {
  const match = /^(?:tcp:\/\/)?(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value.trim());
  if (!match) throw new CliError(`--hub must be host:port (for example 127.0.0.1:8765), got "${value}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: parsePort(match[2]!, '--hub port') };
}

/**
 * With an embedded hub only our agents work: a task routed to a backend none of them runs, or
 * needing a tag they lack, would wait forever. Say so before anything starts.
 */
function checkRouting(
  tasks: readonly NewTask[],
  lines: readonly number[],
  specs: readonly AgentSpec[],
  agentTags: readonly string[],
  pack: string,
): void {
  const started = new Set(specs.map((spec) => spec.backend));
  for (const [index, task] of tasks.entries()) {
    const where = `${pack}:${lines[index]}`;
    if (typeof task.backend === 'string' && !started.has(task.backend)) {
      throw new CliError(
        `${where}: the task wants backend "${task.backend}", but no agent runs it: add --agent ${task.backend}=1 (or run against a hub that has one, with --hub); nothing was started`,
      );
    }
    const missing = (task.tags ?? []).filter((tag) => !agentTags.includes(tag));
    if (missing.length > 0) {
      throw new CliError(
        `${where}: the task needs agents tagged ${missing.join(', ')}, and ours are not: add ${missing.map((tag) => `--tag ${tag}`).join(' ')} (tags route tasks; keep labels in "metadata"); nothing was started`,
      );
    }
  }
}

function runStamp(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')}-${process.pid}`;
}

export function runCommand(): Command {
  const command = new Command('run')
    .description('the one-command job: start a hub and agents, run a JSONL pack, write every result')
    .argument('<pack>', 'JSONL file, one {"prompt": ...} per line ("-" for stdin)')
    .addOption(agentSpecOption())
    .addOption(new Option('--hub <host:port>', 'use this running hub instead of starting one'))
    .addOption(new Option('--token <token>', 'token for --hub').env('MITTELO_TOKEN'))
    .addOption(
      new Option('--db <path>', 'database of the embedded hub (default .mittelo/runs/<stamp>/hub.db)'),
    )
    .addOption(
      new Option(
        '--out <path>',
        'results file, one JSON line per task (default .mittelo/runs/<stamp>/results.jsonl)',
      ),
    )
    .addOption(new Option('--deadline-s <seconds>', 'give up on tasks not finished after this long (exit 1)'))
    .addOption(
      new Option(
        '--wait-for-agents',
        'keep waiting when no agent can take the remaining tasks (their backend is not ready, or they exited) instead of ending (exit 1)',
      ),
    )
    .addOption(
      new Option('--grace-s <seconds>', 'on Ctrl-C, how long running tasks may finish').default('10'),
    )
    .addOption(new Option('--json', 'print the summary as JSON'));
  addAgentOptions(command);
  command.action(async (pack: string, flags: RunFlags) => {
    const specs = flags.agent ?? [];
    const hub = flags.hub === undefined ? undefined : { ...parseHub(flags.hub), token: flags.token };
    if (specs.length === 0 && !hub) {
      throw new CliError(
        'give the agents to run the pack, for example --agent echo=2 (or --hub HOST:PORT to use the agents of a running hub)',
      );
    }
    const { shared, settings } = agentOptionsFrom(flags);
    let deadlineMs: number | undefined;
    if (flags.deadlineS !== undefined) {
      deadlineMs = Number(flags.deadlineS) * 1000;
      if (!(deadlineMs > 0))
        throw new CliError(`--deadline-s must be a number of seconds above 0, got "${flags.deadlineS}"`);
    }
    const { tasks, lines } = parseJsonlTasks(await readInput(pack, 'pack'), pack);
    if (!hub) checkRouting(tasks, lines, specs, flags.tag ?? [], pack);
    const plan = specs.length > 0 ? await planSwarm(specs, settings) : undefined;
    if (plan && flags.preflight) reportPreflight(plan.reports, Boolean(flags.requireReady));

    const folder = join('.mittelo', 'runs', runStamp());
    const db = flags.db ?? join(folder, 'hub.db');
    const resultsPath = flags.out ?? join(folder, 'results.jsonl');
    const where = hub ? `hub ${hub.host}:${hub.port}` : `an embedded hub (${db})`;
    const agents = specs.length > 0 ? `agents ${describeSpecs(specs)}` : "the hub's agents";
    process.stderr.write(`mittelo run: ${tasks.length} tasks from ${pack} on ${where} with ${agents}\n`);

    const interrupt = new AbortController();
    let graceMs = Number(flags.graceS) * 1000;
    const release = onStopSignals((graceful) => {
      if (!graceful) graceMs = 0;
      interrupt.abort();
    });
    const view = progressView(process.stderr, tasks.length);
    let report: JobReport;
    try {
      report = await runJob({
        tasks,
        lines,
        hub,
        db,
        specs,
        plan,
        agent: shared,
        resultsPath,
        deadlineMs,
        waitForAgents: flags.waitForAgents === true,
        signal: interrupt.signal,
        graceMs,
        onProgress: (progress) => view.update(progress),
      });
    } finally {
      view.stop();
      release();
    }
    printReport(report, flags.json === true, hub ? null : db);
    const { summary } = report;
    const stay = hub ? `; they stay queued on hub ${hub.host}:${hub.port}` : `; they stay queued in ${db}`;
    if (report.ended === 'interrupted') {
      throw new CliError(`interrupted: ${summary.unfinished} task(s) not finished${stay}`, EXIT.failure);
    }
    if (report.ended === 'deadline') {
      throw new CliError(
        `--deadline-s ${flags.deadlineS} passed with ${summary.unfinished} task(s) not finished${stay}`,
        EXIT.failure,
      );
    }
    if (report.ended === 'stuck') {
      process.stderr.write(
        `mittelo run: no agent can take the ${summary.unfinished} unfinished task(s): every agent that could is not ready or has exited\n${describeBlocked(report.blocked ?? []).join('\n')}\n`,
      );
      throw new CliError(
        `stopped: ${summary.unfinished} task(s) can never finish with these agents${stay}. Fix the backend above and run the pack again, or pass --wait-for-agents to keep waiting for the agents to recover (--deadline-s N bounds the wait)`,
        EXIT.failure,
      );
    }
    if (summary.done !== summary.total) {
      throw new CliError(
        `${summary.total - summary.done} of ${summary.total} task(s) did not succeed (see ${report.resultsPath})`,
        EXIT.failure,
      );
    }
  });
  return command;
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function printReport(report: JobReport, json: boolean, db: string | null): void {
  const { summary } = report;
  if (json) {
    printJson({
      ended: report.ended,
      summary,
      results: report.resultsPath,
      hub: report.hub,
      db,
      ...(report.blocked ? { blocked: report.blocked } : {}),
    });
    return;
  }
  const rows = summary.backends.map((b) => [
    b.backend,
    String(b.done),
    String(b.failed),
    String(b.canceled),
    seconds(b.p50_ms),
    seconds(b.p95_ms),
  ]);
  const out: string[] = [formatTable(['BACKEND', 'DONE', 'FAILED', 'CANCELED', 'P50', 'P95'], rows)];
  const failures = report.records.filter((r) => r.status === 'failed' || r.status === 'canceled');
  for (const record of failures.slice(0, FAILURES_SHOWN)) {
    const kind = record.error_kind ? `${record.error_kind}: ` : '';
    const fix = record.error_fix ? ` (fix: ${record.error_fix})` : '';
    out.push(
      `task ${record.task_id} (line ${record.line}) ${record.status}: ${kind}${preview(record.error, 160)}${fix}`,
    );
  }
  if (failures.length > FAILURES_SHOWN)
    out.push(`... and ${failures.length - FAILURES_SHOWN} more in the results file`);
  const wallS = summary.wall_ms / 1000;
  const finished = summary.done + summary.failed + summary.canceled;
  out.push(
    `${summary.total} tasks: ${summary.done} done, ${summary.failed} failed, ${summary.canceled} canceled, ${summary.unfinished} unfinished in ${wallS.toFixed(1)} s (${Math.round(finished / Math.max(wallS, 0.001))} tasks/s)`,
  );
  out.push(`results: ${report.resultsPath}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

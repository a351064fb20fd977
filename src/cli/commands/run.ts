/**
 * `mittelo run PACK --agent echo=2`: the one-command job. An embedded hub (or --hub), the agents,
 * the pack enqueued, progress while it runs, every result written to a JSONL file, a summary
 * table, and exit 0 only when every task is done.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { type AgentSpec, planSwarm } from '../../agent/swarm.ts';
import { formatHubAddress } from '../../client/address.ts';
import {
  type Notification,
  type NotificationOrigin,
  runCost,
  runFinished,
  taskFailed,
} from '../../notify/events.ts';
import { HubEventNotices } from '../../notify/hub-watch.ts';
import type { Notifications } from '../../notify/notifier.ts';
import type { NewTask } from '../../protocol/model.ts';
import { type JobObserver, type JobReport, runJob } from '../../run/job.ts';
import { describeBlocked } from '../../run/remaining-work.ts';
import { packDigest, RUN_FILES, RunRecorder } from '../../run/run-manifest.ts';
import { type AgentFlags, addAgentOptions, agentOptionsFrom, reportPreflight } from '../agent-flags.ts';
import { CliError, EXIT, parsePort, printJson, repeatable } from '../common.ts';
import { formatCount, formatTable, preview } from '../format.ts';
import { capsFromFlags } from '../limit-flags.ts';
import { NOTIFY_FLUSH_MS, notifyCmdOption, notifyTargetsFrom, openNotifications } from '../notify-flags.ts';
import { progressView } from '../progress.ts';
import { parseJsonlTasks, readInput } from '../read-tasks.ts';
import { RUNS_DIR } from '../run-folders.ts';
import { planResume, type ResumePlan } from '../run-resume.ts';
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
  resume?: string;
  notify?: string;
  notifyCmd?: string;
  limit?: string[];
  rate?: string[];
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
    .argument('[pack]', 'JSONL file, one {"prompt": ...} per line ("-" for stdin); not with --resume')
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
    .addOption(new Option('--json', 'print the summary as JSON'))
    .addOption(
      new Option(
        '--limit <name=n>',
        'at most n tasks leased at once for a backend or tag:NAME (repeatable); with --hub only while the run lasts',
      ).argParser(repeatable),
    )
    .addOption(
      new Option(
        '--rate <name=n/min>',
        'at most n lease starts per minute for a backend or tag:NAME (repeatable); with --hub only while the run lasts',
      ).argParser(repeatable),
    )
    .addOption(
      new Option(
        '--resume <folder>',
        'continue an interrupted run (a folder `mittelo runs` lists): its unfinished tasks, the same results file; --agent defaults to its agents',
      ),
    )
    .addOption(
      new Option(
        '--notify <url>',
        'POST a JSON event to this URL when the run finishes, a task fails for good, or a backend turns unhealthy',
      ),
    )
    .addOption(notifyCmdOption());
  addAgentOptions(command);
  command.action(async (packArg: string | undefined, flags: RunFlags) => {
    const resume = flags.resume === undefined ? null : await planResume(flags.resume, packArg, flags);
    if (!resume && packArg === undefined) {
      throw new CliError(
        'give the pack to run (a JSONL file, "-" for stdin), or --resume FOLDER to continue an interrupted run',
      );
    }
    const pack = resume?.manifest.pack ?? packArg!;
    const specs = resume?.specs ?? flags.agent ?? [];
    const hub = flags.hub === undefined ? undefined : { ...parseHub(flags.hub), token: flags.token };
    if (specs.length === 0 && !hub) {
      throw new CliError(
        'give the agents to run the pack, for example --agent echo=2 (or --hub HOST:PORT to use the agents of a running hub)',
      );
    }
    const caps = capsFromFlags(flags.limit, flags.rate);
    const { shared, settings } = agentOptionsFrom(flags);
    let deadlineMs: number | undefined;
    if (flags.deadlineS !== undefined) {
      deadlineMs = Number(flags.deadlineS) * 1000;
      if (!(deadlineMs > 0))
        throw new CliError(`--deadline-s must be a number of seconds above 0, got "${flags.deadlineS}"`);
    }
    const notifyTargets = notifyTargetsFrom(flags.notify, flags.notifyCmd, '--notify');
    const packText = resume ? null : await readInput(pack, 'pack');
    const { tasks, lines } = resume ? resume.rest : parseJsonlTasks(packText!, pack);
    if (!hub) checkRouting(tasks, lines, specs, flags.tag ?? [], pack);
    const plan = specs.length > 0 ? await planSwarm(specs, settings) : undefined;
    if (plan && flags.preflight) reportPreflight(plan.reports, Boolean(flags.requireReady));

    const folder = resume?.folder ?? join(RUNS_DIR, runStamp());
    const db = resume?.db ?? flags.db ?? join(folder, RUN_FILES.db);
    const resultsPath = resume?.resultsPath ?? flags.out ?? join(folder, RUN_FILES.results);
    const where = hub ? `hub ${hub.host}:${hub.port}` : `an embedded hub (${db})`;
    const agents = specs.length > 0 ? `agents ${describeSpecs(specs)}` : "the hub's agents";
    process.stderr.write(
      resume
        ? `mittelo run: resuming ${folder} (${pack}, ${resume.manifest.tasks} tasks) on ${where} with ${agents}\n`
        : `mittelo run: ${tasks.length} tasks from ${pack} on ${where} with ${agents}\n`,
    );
    const recorder = recordRun(folder, resume, {
      pack,
      pack_path: pack === '-' ? null : resolve(pack),
      pack_sha256: packDigest(packText ?? ''),
      tasks: tasks.length,
      db: hub ? null : resolve(db),
      hub: flags.hub ?? null,
      results: resolve(resultsPath),
      agents: specs.map((spec) => `${spec.backend}=${spec.count}`),
    });

    const interrupt = new AbortController();
    let graceMs = Number(flags.graceS) * 1000;
    const release = onStopSignals((graceful) => {
      if (!graceful) graceMs = 0;
      interrupt.abort();
    });
    const view = progressView(process.stderr, resume?.manifest.tasks ?? tasks.length);
    const notifications = openNotifications(notifyTargets, (line) =>
      process.stderr.write(`mittelo run: ${line}\n`),
    );
    const origin = { source: 'run' as const, hub: hub ? `tcp://${formatHubAddress(hub)}` : null };
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
        caps,
        waitForAgents: flags.waitForAgents === true,
        signal: interrupt.signal,
        graceMs,
        onProgress: (progress) => view.update(progress),
        observer: notifications ? runObserver(notifications, origin) : undefined,
        recorder,
        resume: resume !== null,
      });
    } catch (error) {
      await notifications?.close(NOTIFY_FLUSH_MS);
      throw error;
    } finally {
      view.stop();
      release();
    }
    printReport(report, flags.json === true, hub ? null : db);
    if (notifications) {
      notifications.push(runFinishedOf(report, origin));
      await notifications.close(NOTIFY_FLUSH_MS);
    }
    const { summary } = report;
    const stay = hub ? `; they stay queued on hub ${hub.host}:${hub.port}` : `; they stay queued in ${db}`;
    const resumeWith = `\`mittelo run --resume ${folder}\``;
    const continueThem = hub ? '' : ` (continue them with ${resumeWith})`;
    if (report.ended === 'interrupted') {
      throw new CliError(
        `interrupted: ${summary.unfinished} task(s) not finished${stay}${continueThem}`,
        EXIT.failure,
      );
    }
    if (report.ended === 'deadline') {
      throw new CliError(
        `--deadline-s ${flags.deadlineS} passed with ${summary.unfinished} task(s) not finished${stay}${continueThem}`,
        EXIT.failure,
      );
    }
    if (report.ended === 'stuck') {
      process.stderr.write(
        `mittelo run: no agent can take the ${summary.unfinished} unfinished task(s): every agent that could is not ready or has exited\n${describeBlocked(report.blocked ?? []).join('\n')}\n`,
      );
      throw new CliError(
        `stopped: ${summary.unfinished} task(s) can never finish with these agents${stay}. Fix the backend above and ${hub ? 'run the pack again' : `continue them with ${resumeWith}`}, or pass --wait-for-agents to keep waiting for the agents to recover (--deadline-s N bounds the wait)`,
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

/** What --notify hears during the run: its own tasks that failed for good, and unhealthy backends. */
function runObserver(notifications: Notifications, origin: NotificationOrigin): JobObserver {
  const notices = new HubEventNotices(origin);
  return {
    taskFinished: (task) => {
      if (task.status === 'failed') notifications.push(taskFailed(task, origin));
    },
    agentEvent: (event) => {
      const notification = notices.fromEvent(event);
      if (notification) notifications.push(notification);
    },
  };
}

function runFinishedOf(report: JobReport, origin: NotificationOrigin): Notification {
  const { backends: _backends, ...counts } = report.summary;
  return runFinished(
    {
      ended: report.ended,
      ...counts,
      results: resolve(report.resultsPath),
      cost: runCost(report.records.map((record) => record.usage)),
    },
    origin,
  );
}

/** run.json of this run: a new one, or the next session of the run being resumed. */
function recordRun(
  folder: string,
  resume: ResumePlan | null,
  fields: Parameters<typeof RunRecorder.create>[1],
): RunRecorder {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    if (resume) return RunRecorder.resume(folder, resume.manifest, fields.agents, log);
    mkdirSync(folder, { recursive: true });
    return RunRecorder.create(folder, fields, log);
  } catch (error) {
    throw new CliError(
      `cannot write the run folder ${folder} (${(error as Error).message}): run from a folder you can write to; nothing was started`,
    );
  }
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
    formatCount(b.done),
    formatCount(b.failed),
    formatCount(b.canceled),
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
    `${formatCount(summary.total)} tasks: ${formatCount(summary.done)} done, ${formatCount(summary.failed)} failed, ${formatCount(summary.canceled)} canceled, ${formatCount(summary.unfinished)} unfinished in ${wallS.toFixed(1)} s (${formatCount(finished / Math.max(wallS, 0.001))} tasks/s)`,
  );
  out.push(`results: ${report.resultsPath}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

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
import { resolveCommit } from '../../workspace/repository-check.ts';
import {
  type AgentFlags,
  addAgentOptions,
  addWorkspaceOptions,
  agentOptionsFrom,
  describeWorkspace,
  reportPreflight,
  type WorkspaceFlags,
  workspaceOptionsFrom,
} from '../agent-flags.ts';
import { formatUsd } from '../budget-flags.ts';
import { CliError, EXIT, parsePort, printJson, repeatable } from '../common.ts';
import { formatCount, preview } from '../format.ts';
import { capsFromFlags } from '../limit-flags.ts';
import { NOTIFY_FLUSH_MS, notifyCmdOption, notifyTargetsFrom, openNotifications } from '../notify-flags.ts';
import { progressView } from '../progress.ts';
import { checkTaskField, parseJsonlTasks, readInput, readOutputSchema, usdAmount } from '../read-tasks.ts';
import { RUNS_DIR } from '../run-folders.ts';
import { planResume, type ResumePlan } from '../run-resume.ts';
import { summaryTable } from '../run-summary.ts';
import { onStopSignals } from '../stop-signals.ts';
import { agentSpecOption, describeSpecs } from './swarm.ts';

interface RunFlags extends AgentFlags, WorkspaceFlags {
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
  budgetUsd?: string;
  maxCostUsd?: string;
  outputSchema?: string;
  resumeSessions?: boolean;
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

/**
 * Each base_ref a worktree task of the pack names must exist in the repository: a typo is bad
 * input (exit 2, nothing started), not eight failed tasks.
 */
async function checkBaseRefs(
  tasks: readonly NewTask[],
  lines: readonly number[],
  pack: string,
  root: string,
): Promise<void> {
  const checked = new Set<string>();
  for (const [index, task] of tasks.entries()) {
    if (task.base_ref === undefined || checked.has(task.base_ref)) continue;
    try {
      await resolveCommit(root, task.base_ref);
    } catch (error) {
      throw new CliError(`${pack}:${lines[index]}: ${(error as Error).message}; nothing was started`);
    }
    checked.add(task.base_ref);
  }
}

/** `5`, `0.25` or `$5`: US dollars above 0 (the bounds of a task's max_cost_usd). */
function parseUsd(text: string, flag: string): number {
  const usd = usdAmount(text);
  if (checkTaskField('max_cost_usd', usd)) {
    throw new CliError(
      `${flag} takes an amount of US dollars above 0 and at most 1,000,000, such as 5 or 0.25, got "${text}"; nothing was started`,
    );
  }
  return usd;
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
        '--budget-usd <usd>',
        "the run's budget: once its finished tasks' known cost reaches it, stop leasing, let running tasks finish and end (exit 1); the rest stay queued",
      ),
    )
    .addOption(
      new Option(
        '--max-cost-usd <usd>',
        'the most each task may spend, for tasks whose pack line sets no max_cost_usd (Claude Code stops a task at it)',
      ),
    )
    .addOption(
      new Option(
        '--output-schema <file>',
        'a JSON Schema file the answers must meet, for tasks whose pack line sets no output_schema; the parsed answers go into the results',
      ),
    )
    .addOption(
      new Option(
        '--resume-sessions',
        'retried and requeued runs continue their last CLI session (resume: true), for tasks whose pack line sets no resume',
      ),
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
  addWorkspaceOptions(command);
  command.action(async (packArg: string | undefined, flags: RunFlags) => {
    const budgetUsd = flags.budgetUsd === undefined ? undefined : parseUsd(flags.budgetUsd, '--budget-usd');
    const maxCostUsd =
      flags.maxCostUsd === undefined ? undefined : parseUsd(flags.maxCostUsd, '--max-cost-usd');
    const outputSchema =
      flags.outputSchema === undefined ? undefined : await readOutputSchema(flags.outputSchema);
    const defaults = {
      max_cost_usd: maxCostUsd,
      output_schema: outputSchema,
      ...(flags.resumeSessions ? { resume: true } : {}),
      // The hub knows where each task runs (its own worktree): status and the results say so.
      ...(flags.workspace === 'worktree' ? { workspace: 'worktree' as const } : {}),
    };
    const resume =
      flags.resume === undefined ? null : await planResume(flags.resume, packArg, flags, defaults);
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
    const { tasks, lines } = resume ? resume.rest : parseJsonlTasks(packText!, pack, defaults);
    if (!hub) checkRouting(tasks, lines, specs, flags.tag ?? [], pack);
    // The repository, and every base a pack line names, checked before anything is made.
    const worktreeTasks = tasks.filter((task) => (task.workspace ?? flags.workspace) === 'worktree');
    // A resumed run continues with the repository its first session used (its queued tasks may
    // be worktree tasks), unless --repo says otherwise.
    const earlier = resume?.manifest.repo ?? null;
    const workspace = await workspaceOptionsFrom(
      earlier && flags.repo === undefined
        ? { ...flags, repo: earlier.root, base: flags.base ?? earlier.base_ref }
        : flags,
      worktreeTasks.length > 0 || earlier !== null,
    );
    if (workspace.repository) await checkBaseRefs(tasks, lines, pack, workspace.repository.root);
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
    if (workspace.repository || flags.permissions) {
      const backends = specs.map((spec) => spec.backend);
      process.stderr.write(`mittelo run: ${describeWorkspace(workspace, backends)}\n`);
    }
    const recorder = recordRun(folder, resume, {
      pack,
      pack_path: pack === '-' ? null : resolve(pack),
      pack_sha256: packDigest(packText ?? ''),
      tasks: tasks.length,
      db: hub ? null : resolve(db),
      hub: flags.hub ?? null,
      results: resolve(resultsPath),
      agents: specs.map((spec) => `${spec.backend}=${spec.count}`),
      repo: workspace.repository
        ? {
            root: workspace.repository.root,
            base_ref: workspace.repository.baseRef,
            base_commit: workspace.repository.baseCommit,
          }
        : null,
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
        agent: { ...shared, ...workspace.options },
        resultsPath,
        runFolder: folder,
        repo: workspace.repository?.root ?? null,
        deadlineMs,
        caps,
        waitForAgents: flags.waitForAgents === true,
        signal: interrupt.signal,
        graceMs,
        budgetUsd,
        onBudgetReached: (budget) =>
          process.stderr.write(
            `mittelo run: budget of ${formatUsd(budget.usd)} reached (${formatUsd(budget.spent_usd)} spent): no new leases; the running tasks finish\n`,
          ),
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
    printReport(report, flags.json === true, hub ? null : db, resume !== null);
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
    if (report.ended === 'budget') {
      const budget = report.budget!;
      const left = `${formatCount(summary.unfinished)} task(s) left queued`;
      throw new CliError(
        hub
          ? `budget of ${formatUsd(budget.usd)} reached (${formatUsd(budget.spent_usd)} spent): stopped leasing; ${left} on hub ${hub.host}:${hub.port}, where agents outside the run may still take them (the hub's budgets, mittelo hub --budget, govern those)${unknownCost(budget.cost_unknown)}`
          : `budget of ${formatUsd(budget.usd)} reached (${formatUsd(budget.spent_usd)} spent): stopped leasing; ${left} (resume with mittelo run --resume ${folder} --budget-usd …)${unknownCost(budget.cost_unknown)}`,
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

/** `; 2 task(s) of unknown cost not counted`, or nothing. */
function unknownCost(count: number): string {
  return count > 0 ? `; ${formatCount(count)} task(s) of unknown cost not counted` : '';
}

function runFinishedOf(report: JobReport, origin: NotificationOrigin): Notification {
  const { backends: _backends, spend, ...counts } = report.summary;
  const fromUsage = runCost(report.records.map((record) => record.usage));
  return runFinished(
    {
      ended: report.ended,
      ...counts,
      results: resolve(report.resultsPath),
      // The acked cost (reported or estimated) when the hub keeps it; else what usage says.
      cost: { ...fromUsage, cost_usd: spend.cost_usd ?? fromUsage.cost_usd },
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

function printReport(report: JobReport, json: boolean, db: string | null, resumed: boolean): void {
  const { summary } = report;
  if (json) {
    printJson({
      ended: report.ended,
      summary,
      results: report.resultsPath,
      hub: report.hub,
      db,
      ...(report.blocked ? { blocked: report.blocked } : {}),
      ...(report.budget ? { budget: report.budget } : {}),
    });
    return;
  }
  const out: string[] = [summaryTable(summary)];
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
  if (report.budget) {
    const { usd, spent_usd, cost_unknown, reached } = report.budget;
    out.push(
      `budget: ${formatUsd(spent_usd)} of ${formatUsd(usd)} spent${resumed ? ' in this session' : ''}${reached ? ' (reached: stopped leasing)' : ''}${unknownCost(cost_unknown)}`,
    );
  }
  out.push(`results: ${report.resultsPath}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

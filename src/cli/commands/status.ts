/** `mittelo status`: the newest tasks as a table, the agents and their health, and the counts. */
import { Command, Option } from 'commander';
import type { HubClient } from '../../client/hub-client.ts';
import { type Stats, TASK_STATUSES, type Task, type TaskStatus } from '../../protocol/model.ts';
import { budgetLines } from '../budget-flags.ts';
import {
  CliError,
  type ConnectionFlags,
  jsonOption,
  parsePositiveInt,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { formatAgentTable, formatCount, formatStatsLine, formatTaskTable, totalOf } from '../format.ts';
import { idleRouteLine, idleRoutes } from '../idle-routes.ts';
import { capLines } from '../limit-flags.ts';
import { pauseLines, scheduledLine } from '../queue-control-lines.ts';
import { checkTaskField } from '../read-tasks.ts';

interface StatusFlags extends ConnectionFlags {
  status?: string;
  limit: string;
  backend?: string;
  json?: boolean;
}

export function parseStatus(value: string, flag: string): TaskStatus {
  const status = value.trim().toLowerCase();
  if (!(TASK_STATUSES as readonly string[]).includes(status)) {
    throw new CliError(`${flag} must be one of ${TASK_STATUSES.join(', ')}; got "${value}"`);
  }
  return status as TaskStatus;
}

export function statusCommand(): Command {
  const command = new Command('status')
    .description('list tasks, newest first, and the counts per status')
    .addOption(new Option('--status <status>', `only tasks in this status (${TASK_STATUSES.join(', ')})`))
    .addOption(new Option('--limit <n>', 'show at most this many tasks; 0 = all').default('50'))
    .addOption(new Option('--backend <name>', 'only tasks routed to this backend'))
    .addOption(jsonOption())
    .action(async (flags: StatusFlags) => {
      const status = flags.status === undefined ? undefined : parseStatus(flags.status, '--status');
      const limit = parsePositiveInt(flags.limit, '--limit', { allowZero: true });
      if (flags.backend !== undefined) {
        const problem = checkTaskField('backend', flags.backend);
        if (problem) throw new CliError(`--backend ${problem}`);
      }
      const query = {
        limit,
        ...(status ? { status } : {}),
        ...(flags.backend ? { backend: flags.backend } : {}),
      };
      if (flags.json) {
        await withHub(flags, (client) => printJsonPages(client, query));
        return;
      }
      const { answer, report, pauses, limits, budgets } = await withHub(flags, async (client) => ({
        answer: await collectPages(client, query),
        report: await client.agentsReportOrNull(),
        pauses: await client.pausesOrNull(),
        limits: await client.limitsOrNull(),
        budgets: await client.budgetsOrNull(),
      }));
      const agents = report?.agents ?? null;
      const queued = report?.queued_by_backend ?? null;
      const { tasks, stats } = answer;
      const now = Date.now() / 1000;
      const lines: string[] = [];
      lines.push(tasks.length > 0 ? formatTaskTable(tasks, now) : 'no tasks');
      // The hub counts per status only, so "of how many" is known unless --backend narrows it.
      const matching = flags.backend ? null : status ? stats[status] : totalOf(stats);
      if (matching !== null && tasks.length < matching) {
        lines.push(
          `(${formatCount(tasks.length)} newest of ${formatCount(matching)} shown; --limit 0 shows all)`,
        );
      }
      if (agents && agents.length > 0) lines.push('', formatAgentTable(agents, now));
      // Work that waits for an agent nobody has started (or whose backend is not ready).
      const idle = agents && queued ? idleRoutes(queued, agents, now) : [];
      // Why queued work is not handed out: paused routes, spent budgets, and tasks not due yet.
      const scheduled = queued ? scheduledLine(queued) : null;
      const notes = [
        ...idle.map(idleRouteLine),
        ...pauseLines(pauses ?? [], now),
        ...capLines(limits ?? []),
        ...budgetLines(budgets ?? [], now),
        ...(scheduled ? [scheduled] : []),
      ];
      if (notes.length > 0) lines.push('', ...notes);
      if ((agents && agents.length > 0) || notes.length > 0) lines.push('');
      lines.push(formatStatsLine(stats));
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  return withConnectionOptions(command);
}

type ListQuery = NonNullable<Parameters<HubClient['list']>[0]>;

/** Every page of the listing, keeping only what the table shows of each task (memory stays small). */
async function collectPages(client: HubClient, query: ListQuery): Promise<{ tasks: Task[]; stats: Stats }> {
  const tasks: Task[] = [];
  let stats: Stats | null = null;
  for await (const page of client.listPages(query)) {
    stats = page.stats;
    for (const task of page.tasks) tasks.push(forTable(task));
  }
  return { tasks, stats: stats! };
}

function forTable(task: Task): Task {
  const cut = (text: string | null) => (text && text.length > 200 ? text.slice(0, 200) : text);
  return { ...task, prompt: cut(task.prompt) ?? '', result: cut(task.result), error: cut(task.error) };
}

/**
 * `--json`: the list answer with the agents report, written page by page as it arrives, so that
 * "every task" never has to fit in one string.
 */
async function printJsonPages(client: HubClient, query: ListQuery): Promise<void> {
  const out = process.stdout;
  let first = true;
  let stats: Stats | null = null;
  out.write('{\n  "tasks": [');
  for await (const page of client.listPages(query)) {
    stats = page.stats;
    for (const task of page.tasks) {
      out.write(`${first ? '' : ','}\n    ${JSON.stringify(task, null, 2).replaceAll('\n', '\n    ')}`);
      first = false;
    }
  }
  out.write(first ? '],\n' : '\n  ],\n');
  const report = await client.agentsReportOrNull();
  const rest: Record<string, unknown> = { stats };
  if (report) {
    rest.agents = report.agents;
    if (report.queued_by_backend) rest.queued_by_backend = report.queued_by_backend;
  }
  const pauses = await client.pausesOrNull();
  if (pauses) rest.pauses = pauses;
  const limits = await client.limitsOrNull();
  if (limits) rest.limits = limits;
  const budgets = await client.budgetsOrNull();
  if (budgets) rest.budgets = budgets;
  const tail = JSON.stringify(rest, null, 2);
  out.write(`${tail.slice(2)}\n`);
}

/** `mittelo dashboard`: the hub's counts, agents and newest tasks, live in the terminal. */
import { Command, Option } from 'commander';
import { TASK_STATUSES } from '../../protocol/model.ts';
import {
  CliError,
  type ConnectionFlags,
  jsonOption,
  parsePort,
  parsePositiveInt,
  printJson,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { renderDashboard } from '../dashboard/render.ts';
import { runDashboard, terminalRows } from '../dashboard/screen.ts';
import { DashboardSession } from '../dashboard/session.ts';
import { type DashboardFilter, takeSnapshot } from '../dashboard/snapshot.ts';
import { checkTaskField } from '../read-tasks.ts';
import { parseStatus } from './status.ts';

interface DashboardFlags extends ConnectionFlags {
  intervalMs: string;
  status?: string;
  backend?: string;
  search?: string;
  limit: string;
  once?: boolean;
  json?: boolean;
}

/** Faster than this would mostly load the hub; events already make changes show sooner. */
const MIN_INTERVAL_MS = 100;
/** A terminal never shows more rows than this, however tall. */
const MAX_TERMINAL_TASKS = 500;

function filterOf(flags: DashboardFlags): DashboardFilter {
  if (flags.backend !== undefined) {
    const problem = checkTaskField('backend', flags.backend);
    if (problem) throw new CliError(`--backend ${problem}`);
  }
  if (flags.search !== undefined && flags.search.length > 1000) {
    throw new CliError('--search must be at most 1000 characters');
  }
  return {
    status: flags.status === undefined ? null : parseStatus(flags.status, '--status'),
    backend: flags.backend ?? null,
    search: flags.search?.trim() || null,
  };
}

export function dashboardCommand(): Command {
  const command = new Command('dashboard')
    .description('watch the hub live: counts, agents and the newest tasks (q quits)')
    .addOption(new Option('--interval-ms <ms>', 'refresh at least this often').default('1000'))
    .addOption(new Option('--status <status>', `start filtered to one status (${TASK_STATUSES.join(', ')})`))
    .addOption(new Option('--backend <name>', 'start filtered to tasks routed to this backend'))
    .addOption(new Option('--search <text>', 'start filtered to prompts containing this text'))
    .addOption(
      new Option(
        '--limit <n>',
        'tasks shown with --once and in plain output (a terminal fills its height)',
      ).default('20'),
    )
    .addOption(new Option('--once', 'print one snapshot and exit (for scripts)'))
    .addOption(jsonOption())
    .action(async (flags: DashboardFlags) => {
      const intervalMs = parsePositiveInt(flags.intervalMs, '--interval-ms');
      if (intervalMs < MIN_INTERVAL_MS) {
        throw new CliError(`--interval-ms must be at least ${MIN_INTERVAL_MS}, got ${intervalMs}`);
      }
      const limit = parsePositiveInt(flags.limit, '--limit');
      const filter = filterOf(flags);
      parsePort(flags.port, '--port');
      if (flags.json && !flags.once) {
        throw new CliError('--json needs --once: the live dashboard is for people (scripts: --once --json)');
      }
      if (flags.once) {
        const snapshot = await withHub(flags, (client) => takeSnapshot(client, filter, limit));
        if (flags.json) {
          printJson(snapshot);
          return;
        }
        const view = {
          hub: snapshot.hub,
          now: snapshot.taken_at,
          connection: 'connected' as const,
          problem: null,
          snapshot,
          filter,
          keys: null,
        };
        const width = process.stdout.isTTY ? process.stdout.columns : Number.POSITIVE_INFINITY;
        const lines = renderDashboard(view, { width, height: Number.POSITIVE_INFINITY });
        process.stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      const tty = process.stdout.isTTY === true;
      const session = new DashboardSession({
        flags,
        intervalMs,
        filter,
        events: tty,
        limit: () => (tty ? Math.min(MAX_TERMINAL_TASKS, terminalRows(process.stdout)) : limit),
      });
      await runDashboard(session, { stdin: process.stdin, stdout: process.stdout });
    });
  return withConnectionOptions(command);
}

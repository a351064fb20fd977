/** `mittelo status`: the newest tasks as a table, the agents and their health, and the counts. */
import { Command, Option } from 'commander';
import { TASK_STATUSES, type TaskStatus } from '../../store/types.ts';
import {
  CliError,
  type ConnectionFlags,
  jsonOption,
  parsePositiveInt,
  printJson,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { formatAgentTable, formatStatsLine, formatTaskTable, totalOf } from '../format.ts';
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
      const { answer, agents } = await withHub(flags, async (client) => ({
        answer: await client.list({
          limit,
          ...(status ? { status } : {}),
          ...(flags.backend ? { backend: flags.backend } : {}),
        }),
        agents: await client.agentsOrNull(),
      }));
      if (flags.json) {
        printJson(agents ? { ...answer, agents } : answer);
        return;
      }
      const { tasks, stats } = answer;
      const now = Date.now() / 1000;
      const lines: string[] = [];
      lines.push(tasks.length > 0 ? formatTaskTable(tasks, now) : 'no tasks');
      // The hub counts per status only, so "of how many" is known unless --backend narrows it.
      const matching = flags.backend ? null : status ? stats[status] : totalOf(stats);
      if (matching !== null && tasks.length < matching) {
        lines.push(`(${tasks.length} newest of ${matching} shown; --limit 0 shows all)`);
      }
      if (agents && agents.length > 0) lines.push('', formatAgentTable(agents, now), '');
      lines.push(formatStatsLine(stats));
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  return withConnectionOptions(command);
}

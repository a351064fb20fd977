/** `mittelo stats`: how many tasks are in each status. */
import { Command } from 'commander';
import type { Stats } from '../../protocol/model.ts';
import { TASK_STATUSES } from '../../protocol/model.ts';
import { type ConnectionFlags, jsonOption, printJson, withConnectionOptions, withHub } from '../common.ts';
import { formatCount, totalOf } from '../format.ts';

interface StatsFlags extends ConnectionFlags {
  json?: boolean;
}

export function statsCommand(): Command {
  const command = new Command('stats')
    .description('count the tasks in each status')
    .addOption(jsonOption())
    .action(async (flags: StatsFlags) => {
      const answer = await withHub(flags, (client) => client.call<{ stats: Stats }>('stats'));
      if (flags.json) {
        printJson(answer);
        return;
      }
      const rows: Array<[string, number]> = [
        ...TASK_STATUSES.map((status): [string, number] => [status, answer.stats[status] ?? 0]),
        ['total', totalOf(answer.stats)],
      ];
      const width = Math.max(...rows.map(([, n]) => formatCount(n).length));
      const lines = rows.map(([name, n]) => `${name.padEnd(8)}  ${formatCount(n).padStart(width)}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  return withConnectionOptions(command);
}

/**
 * `mittelo stats`: how many tasks are in each status, and what each backend spent today (UTC, by
 * the store's clock) and, with --days N, over the last N days. A hub too old to count spend
 * (no `spend` method) gets the counts alone.
 */
import { Command, Option } from 'commander';
import type { SpendRow, Stats } from '../../protocol/model.ts';
import { TASK_STATUSES } from '../../protocol/model.ts';
import { describeSpend, spendByBackend } from '../budget-flags.ts';
import {
  CliError,
  type ConnectionFlags,
  jsonOption,
  parsePositiveInt,
  printJson,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { formatCount, totalOf } from '../format.ts';

interface StatsFlags extends ConnectionFlags {
  json?: boolean;
  days?: string;
}

/** The hub's bound on `spend`'s days (src/protocol/schemas.ts). */
const MAX_DAYS = 366;

export function statsCommand(): Command {
  const command = new Command('stats')
    .description('count the tasks in each status, and the spend per backend today (UTC)')
    .addOption(
      new Option('--days <n>', `also the spend of the last n UTC days, today included (1 to ${MAX_DAYS})`),
    )
    .addOption(jsonOption())
    .action(async (flags: StatsFlags) => {
      const days = flags.days === undefined ? 1 : parsePositiveInt(flags.days, '--days');
      if (days > MAX_DAYS) throw new CliError(`--days may be at most ${MAX_DAYS}, got ${days}`);
      const { stats, spend } = await withHub(flags, async (client) => ({
        stats: (await client.call<{ stats: Stats }>('stats')).stats,
        spend: await client.spendOrNull({ days }),
      }));
      if (flags.json) {
        printJson(spend ? { stats, spend } : { stats });
        return;
      }
      const rows: Array<[string, number]> = [
        ...TASK_STATUSES.map((status): [string, number] => [status, stats[status] ?? 0]),
        ['total', totalOf(stats)],
      ];
      const width = Math.max(...rows.map(([, n]) => formatCount(n).length));
      const lines = rows.map(([name, n]) => `${name.padEnd(8)}  ${formatCount(n).padStart(width)}`);
      if (spend) {
        lines.push(
          '',
          ...spendLines(
            `spend today (UTC ${spend.today})`,
            spend.rows.filter((row) => row.day === spend.today),
          ),
        );
        if (days > 1)
          lines.push(...spendLines(`spend over the last ${days} days (UTC, today included)`, spend.rows));
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  return withConnectionOptions(command);
}

/** A heading and one line per backend, or `heading: none`. */
function spendLines(heading: string, rows: readonly SpendRow[]): string[] {
  const byBackend = spendByBackend(rows);
  if (byBackend.length === 0) return [`${heading}: none`];
  return [`${heading}:`, ...byBackend.map((row) => `  ${describeSpend(row)}`)];
}

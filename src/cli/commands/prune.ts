/** `mittelo prune --older-than 7d [--status done,canceled]`: remove finished tasks from the hub's queue. */
import { Command, Option } from 'commander';
import { TASK_STATUSES, type TaskStatus } from '../../protocol/model.ts';
import {
  CliError,
  type ConnectionFlags,
  jsonOption,
  printJson,
  repeatable,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { parseDuration } from '../duration.ts';
import { formatCount } from '../format.ts';

interface PruneFlags extends ConnectionFlags {
  olderThan: string;
  status?: string[];
  json?: boolean;
}

const FINISHED: readonly TaskStatus[] = ['done', 'failed', 'canceled'];

/**
 * `--status done,canceled` (repeatable, comma-separated) -> the statuses, checked here so that a
 * typo or an unfinished status is one line and exit 2 before anything is sent.
 */
export function parsePruneStatuses(values: readonly string[]): TaskStatus[] {
  const statuses = values
    .flatMap((value) => value.split(','))
    .map((status) => status.trim().toLowerCase())
    .filter((status) => status !== '');
  const unknown = statuses.find((status) => !(TASK_STATUSES as readonly string[]).includes(status));
  if (unknown !== undefined) {
    throw new CliError(`--status: "${unknown}" is not a task status: give some of ${FINISHED.join(', ')}`);
  }
  const unfinished = statuses.filter((status) => !FINISHED.includes(status as TaskStatus));
  if (unfinished.length > 0) {
    throw new CliError(
      `--status ${unfinished.join(',')}: prune removes finished tasks only (${FINISHED.join(', ')}); queued and leased tasks are work still to do and are never pruned (cancel them first with \`mittelo cancel ID\`); nothing was removed`,
    );
  }
  if (statuses.length === 0) throw new CliError(`--status needs at least one of ${FINISHED.join(', ')}`);
  return [...new Set(statuses)] as TaskStatus[];
}

export function pruneCommand(): Command {
  const command = new Command('prune')
    .description('remove finished tasks (done, failed, canceled) that finished longer ago than --older-than')
    .addOption(
      new Option(
        '--older-than <duration>',
        'only tasks that finished at least this long ago: 30s, 15m, 2h, 7d, 2w',
      ).makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--status <statuses>',
        'only these finished statuses, comma-separated (repeatable); default done,failed,canceled',
      ).argParser(repeatable),
    )
    .addOption(jsonOption())
    .action(async (flags: PruneFlags) => {
      const olderThanS = parseDuration(flags.olderThan, '--older-than');
      const statuses = flags.status ? parsePruneStatuses(flags.status) : undefined;
      const answer = await withHub(flags, (client) =>
        client.prune({ older_than_s: olderThanS, ...(statuses ? { statuses } : {}) }),
      );
      if (flags.json) {
        printJson(answer);
        return;
      }
      const { removed } = answer;
      process.stdout.write(
        `removed ${formatCount(removed)} finished task${removed === 1 ? '' : 's'} (${answer.statuses.join(', ')}) older than ${flags.olderThan.trim()}\n`,
      );
    });
  return withConnectionOptions(command);
}

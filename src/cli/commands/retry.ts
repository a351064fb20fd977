/** `mittelo retry`: put failed tasks back in the queue (all of them, or the ones named). */
import { Command, Option } from 'commander';
import {
  type ConnectionFlags,
  jsonOption,
  parseTaskId,
  printJson,
  withConnectionOptions,
  withHub,
} from '../common.ts';

interface RetryFlags extends ConnectionFlags {
  task?: string[];
  json?: boolean;
}

export function retryCommand(): Command {
  const command = new Command('retry')
    .description('queue failed tasks again (attempts, worker, result and error are cleared)')
    .addOption(
      new Option('--task <id>', 'retry only this task (repeatable); default: every failed task').argParser(
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      ),
    )
    .addOption(jsonOption())
    .action(async (flags: RetryFlags) => {
      const ids = (flags.task ?? []).map((value) => parseTaskId(value, '--task'));
      const answer = await withHub(flags, (client) =>
        client.call<{ retried: number }>('retry_failed', ids.length > 0 ? { task_ids: ids } : {}),
      );
      if (flags.json) {
        printJson(answer);
        return;
      }
      const { retried } = answer;
      let line = `retried ${retried} failed task${retried === 1 ? '' : 's'}`;
      // retry_failed skips tasks that are not failed rather than refusing: say so.
      if (ids.length > retried) line += ` (${ids.length - retried} of the ones given were not failed)`;
      process.stdout.write(`${line}\n`);
    });
  return withConnectionOptions(command);
}

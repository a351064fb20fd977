/** `mittelo get ID`: one task in full, prompt, result, error and all. */
import { Command } from 'commander';
import type { Task } from '../../protocol/model.ts';
import {
  type ConnectionFlags,
  jsonOption,
  parseTaskId,
  printJson,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { formatTaskDetail } from '../format.ts';

interface GetFlags extends ConnectionFlags {
  json?: boolean;
}

export function getCommand(): Command {
  const command = new Command('get')
    .description('show one task in full')
    .argument('<id>', 'task id')
    .addOption(jsonOption())
    .action(async (rawId: string, flags: GetFlags) => {
      const taskId = parseTaskId(rawId);
      const answer = await withHub(flags, (client) =>
        client.call<{ task: Task }>('get', { task_id: taskId }),
      );
      if (flags.json) printJson(answer);
      else process.stdout.write(`${formatTaskDetail(answer.task, Date.now() / 1000)}\n`);
    });
  return withConnectionOptions(command);
}

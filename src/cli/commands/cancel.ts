/** `mittelo cancel ID`: take a queued or leased task out of the queue for good. */
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

interface CancelFlags extends ConnectionFlags {
  json?: boolean;
}

export function cancelCommand(): Command {
  const command = new Command('cancel')
    .description('cancel a queued or leased task (an agent working on it can no longer ack it)')
    .argument('<id>', 'task id')
    .addOption(jsonOption())
    .action(async (rawId: string, flags: CancelFlags) => {
      const taskId = parseTaskId(rawId);
      const answer = await withHub(flags, (client) =>
        client.call<{ ok: true; task: Task }>('cancel', { task_id: taskId }),
      );
      if (flags.json) printJson(answer);
      else process.stdout.write(`task ${answer.task.task_id} canceled\n`);
    });
  return withConnectionOptions(command);
}

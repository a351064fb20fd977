/** `mittelo retry`: put failed tasks back in the queue (all of them, or the ones named). */
import { Command, Option } from 'commander';
import type { HubClient } from '../../client/hub-client.ts';
import { isMitteloError, MitteloError } from '../../errors.ts';
import {
  type ConnectionFlags,
  jsonOption,
  parseTaskId,
  printJson,
  repeatable,
  withConnectionOptions,
  withHub,
} from '../common.ts';

interface RetryFlags extends ConnectionFlags {
  task?: string[];
  json?: boolean;
}

/**
 * retry_failed passes over ids it does not know; a task id that does not exist is a mistake the
 * person should hear of (`not_found`, exit 4, as `mittelo get` says), before anything is retried.
 */
async function refuseMissing(client: HubClient, ids: readonly number[]): Promise<void> {
  const missing: number[] = [];
  await Promise.all(
    [...new Set(ids)].map((id) =>
      client.get(id).catch((error: unknown) => {
        if (isMitteloError(error) && error.code === 'not_found') missing.push(id);
        else throw error;
      }),
    ),
  );
  if (missing.length === 0) return;
  missing.sort((a, b) => a - b);
  const named = missing.length === 1 ? `task ${missing[0]} does not` : `tasks ${missing.join(', ')} do not`;
  throw new MitteloError('not_found', `${named} exist; nothing was retried`, { missing });
}

export function retryCommand(): Command {
  const command = new Command('retry')
    .description('queue failed tasks again (attempts, worker, result and error are cleared)')
    .addOption(
      new Option('--task <id>', 'retry only this task (repeatable); default: every failed task').argParser(
        repeatable,
      ),
    )
    .addOption(jsonOption())
    .action(async (flags: RetryFlags) => {
      const ids = (flags.task ?? []).map((value) => parseTaskId(value, '--task'));
      const answer = await withHub(flags, async (client) => {
        await refuseMissing(client, ids);
        return client.call<{ retried: number }>('retry_failed', ids.length > 0 ? { task_ids: ids } : {});
      });
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

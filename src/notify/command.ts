/**
 * A command target (`--notify-cmd`): each notification runs the command once through `sh -c`,
 * with the event's JSON on stdin and its name in MITTELO_EVENT, under a timeout (the process
 * runner kills its whole process group when it runs past it). A command that fails is not run
 * again for the same event: it may have done part of its job (posted a message) already.
 */
import { runProcess } from '../backends/process-runner.ts';
import type { Notification } from './events.ts';
import { SendError, type Sender } from './notifier.ts';

export const COMMAND_TIMEOUT_MS = 30_000;
/** What is kept of the command's output: enough for the last line of its stderr. */
const OUTPUT_CAP_BYTES = 64 * 1024;

export function commandSender(command: string, timeoutMs: number = COMMAND_TIMEOUT_MS): Sender {
  return {
    name: `--notify-cmd ${JSON.stringify(command)}`,
    async send(notification: Notification, signal: AbortSignal): Promise<void> {
      const result = await runProcess(
        {
          command: '/bin/sh',
          args: ['-c', command],
          input: `${JSON.stringify(notification)}\n`,
          env: { ...process.env, MITTELO_EVENT: notification.event },
        },
        { timeoutMs, maxOutputBytes: OUTPUT_CAP_BYTES, signal },
      );
      if (result.spawnError)
        throw new SendError(`could not start /bin/sh: ${result.spawnError.message}`, false);
      if (result.aborted) throw new SendError('stopped', false);
      if (result.timedOut) throw new SendError(`ran past ${timeoutMs / 1000} s and was stopped`, false);
      if (result.exitCode === 0) return;
      const last = result.stderr.trim().split('\n').pop();
      const how =
        result.exitCode === null ? `was killed by ${result.signal}` : `exited with ${result.exitCode}`;
      throw new SendError(`${how}${last ? `: ${last}` : ''}`, false);
    },
  };
}

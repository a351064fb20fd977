/** `mittelo shutdown`: ask the hub to stop, and wait until it has stopped taking requests. */
import { once } from 'node:events';
import { Command } from 'commander';
import { type ConnectionFlags, jsonOption, printJson, withConnectionOptions, withHub } from '../common.ts';

interface ShutdownFlags extends ConnectionFlags {
  json?: boolean;
}

/** How long to wait for the hub to hang up after it said yes. */
const HANG_UP_WAIT_MS = 10_000;

export function shutdownCommand(): Command {
  const command = new Command('shutdown')
    .description('stop the hub (it answers what is in flight, then closes the database)')
    .addOption(jsonOption())
    .action(async (flags: ShutdownFlags) => {
      const stopped = await withHub(flags, async (client) => {
        const hungUp = once(client, 'disconnected', { signal: AbortSignal.timeout(HANG_UP_WAIT_MS) }).then(
          () => true,
          () => false,
        );
        const where = client.where; // before the hang-up moves the client on to the next address
        const answer = await client.shutdown();
        // The hub closes every connection as it stops: once ours is closed, a new hub may start.
        return { answer, closed: await hungUp, where };
      });
      if (flags.json) {
        printJson(stopped.answer);
        return;
      }
      const { where } = stopped;
      process.stdout.write(
        stopped.closed
          ? `hub at ${where} is shutting down\n`
          : `asked the hub at ${where} to shut down; it has not closed the connection yet\n`,
      );
    });
  return withConnectionOptions(command);
}

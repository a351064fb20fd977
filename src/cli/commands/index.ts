/** Client commands (they talk to a running hub); main.ts adds them after `hub`. */
import type { Command } from 'commander';
import { cancelCommand } from './cancel.ts';
import { enqueueCommand } from './enqueue.ts';
import { getCommand } from './get.ts';
import { retryCommand } from './retry.ts';
import { shutdownCommand } from './shutdown.ts';
import { statsCommand } from './stats.ts';
import { statusCommand } from './status.ts';
import { waitCommand } from './wait.ts';

export function clientCommands(): Command[] {
  return [
    enqueueCommand(),
    statusCommand(),
    statsCommand(),
    getCommand(),
    waitCommand(),
    cancelCommand(),
    retryCommand(),
    shutdownCommand(),
  ];
}

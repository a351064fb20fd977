/**
 * `mittelo resume [--backend X]`: lift the pause of that backend (without --backend: of the whole
 * queue); parked agents get work at once. Says what is still paused, if anything.
 */
import { Command, Option } from 'commander';
import { type ConnectionFlags, jsonOption, printJson, withConnectionOptions, withHub } from '../common.ts';
import { pauseLines, pauseScopeName } from '../queue-control-lines.ts';
import { backendFlag } from './pause.ts';

interface ResumeFlags extends ConnectionFlags {
  backend?: string;
  json?: boolean;
}

export function resumeCommand(): Command {
  const command = new Command('resume')
    .description('hand out tasks again after `mittelo pause` (of one backend, or of the whole queue)')
    .addOption(new Option('--backend <name>', "resume this backend's agents (default: the whole queue)"))
    .addOption(jsonOption())
    .action(async (flags: ResumeFlags) => {
      const backend = backendFlag(flags.backend);
      const answer = await withHub(flags, (client) => client.resume(backend ? { backend } : {}));
      if (flags.json) {
        printJson(answer);
        return;
      }
      const scope = pauseScopeName(backend ?? null);
      const lines = [answer.resumed ? `resumed ${scope}` : `${scope} was not paused; nothing changed`];
      lines.push(...pauseLines(answer.paused, Date.now() / 1000));
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  return withConnectionOptions(command);
}

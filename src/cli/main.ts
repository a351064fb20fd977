/**
 * The `mittelo` command: one file per subcommand under commands/, wired together here.
 * Every failure ends in one line on stderr and an exit code from EXIT (common.ts).
 */
import { Command, CommanderError } from 'commander';
import { mitteloVersion } from '../hub/hub-info.ts';
import { copyCommand } from './commands/copy.ts';
import { hubCommand } from './commands/hub.ts';
import { clientCommands } from './commands/index.ts';
import { EXIT, reportFailure } from './common.ts';

export function buildProgram(): Command {
  const program = new Command('mittelo')
    .description('Mittelö: a durable task hub and a swarm of coding agents working its queue')
    .version(mitteloVersion())
    .showSuggestionAfterError()
    .exitOverride();
  program.addCommand(hubCommand());
  program.addCommand(copyCommand());
  for (const command of clientCommands()) program.addCommand(command);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed its message (unknown option, --help, --version).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportFailure(error);
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}

/** `mittelo smoke`: the pair smoke (hub + two agents + N tasks), with its evidence under reports/swarm/. */
import { Command, Option } from 'commander';
import { runPairSmoke } from '../../smoke/pair-smoke.ts';
import { CliError, EXIT, jsonOption, parsePositiveInt, printJson } from '../common.ts';
import {
  artifactsLine,
  parseSeconds,
  progress,
  reportsDirOption,
  timeoutOption,
} from '../verification-flags.ts';

export function smokeCommand(): Command {
  return new Command('smoke')
    .description(
      'pair smoke: a throwaway hub, two agents, N tasks; SUCCESS, FAILURE or SKIPPED with the reason',
    )
    .addOption(new Option('--backend-a <name>', "the first agent's backend").default('echo'))
    .addOption(new Option('--backend-b <name>', "the second agent's backend").default('echo'))
    .addOption(new Option('--tasks <n>', 'tasks to run, given to the two in turn').default('6'))
    .addOption(timeoutOption('120'))
    .addOption(
      new Option('--shell-cmd <command>', 'the program, when a backend is shell').env('MITTELO_SHELL_CMD'),
    )
    .addOption(reportsDirOption())
    .addOption(jsonOption())
    .action(async (flags) => {
      const result = await runPairSmoke({
        backendA: flags.backendA,
        backendB: flags.backendB,
        tasks: parsePositiveInt(flags.tasks, '--tasks'),
        timeoutS: parseSeconds(flags.timeoutS, '--timeout-s'),
        reportsDir: flags.reportsDir,
        shellCmd: flags.shellCmd,
        log: progress,
      });
      if (flags.json) printJson(result);
      else
        process.stdout.write(
          `pair smoke ${result.status}: ${result.reason}\n${artifactsLine(result.folder)}\n`,
        );
      if (result.status === 'FAILURE')
        throw new CliError(`pair smoke failed: ${result.reason}`, EXIT.failure);
    });
}

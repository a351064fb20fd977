/** `mittelo system-run --backend X`: one backend, one prompt, no hub; evidence under reports/e2e/. */
import { Command, Option } from 'commander';
import { runSystem } from '../../smoke/system-run.ts';
import { CliError, EXIT, jsonOption, printJson } from '../common.ts';
import {
  artifactsLine,
  parseSeconds,
  progress,
  reportsDirOption,
  timeoutOption,
} from '../verification-flags.ts';

export function systemRunCommand(): Command {
  return new Command('system-run')
    .description('run one prompt through one backend, no hub; exit 0 when it answered, 1 when not')
    .addOption(new Option('--backend <name>', 'the backend to run').makeOptionMandatory())
    .addOption(new Option('--prompt <text>', 'the prompt (default: a one-sentence hello)'))
    .addOption(new Option('--model <model>', 'the model, for the CLI drivers'))
    .addOption(
      new Option('--shell-cmd <command>', 'the program, for --backend shell').env('MITTELO_SHELL_CMD'),
    )
    .addOption(timeoutOption('300'))
    .addOption(reportsDirOption())
    .addOption(jsonOption())
    .action(async (flags) => {
      const result = await runSystem({
        backend: flags.backend,
        prompt: flags.prompt,
        model: flags.model,
        shellCmd: flags.shellCmd,
        timeoutS: parseSeconds(flags.timeoutS, '--timeout-s'),
        reportsDir: flags.reportsDir,
        log: progress,
      });
      if (flags.json) printJson(result);
      else {
        const fix = result.fix ? `\nfix: ${result.fix}` : '';
        process.stdout.write(
          `system run ${result.backend} ${result.status}: ${result.reason.split('\n')[0]}${fix}\n${artifactsLine(result.folder)}\n`,
        );
      }
      if (result.status !== 'SUCCESS')
        throw new CliError(`system run of ${result.backend} failed (${result.kind})`, EXIT.failure);
    });
}

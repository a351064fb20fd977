/** `mittelo matrix`: every backend's preflight, a system run for the ready ones, one summary table. */
import { Command, Option } from 'commander';
import { runMatrix } from '../../smoke/matrix.ts';
import { jsonOption, printJson } from '../common.ts';
import { formatCount, formatTable } from '../format.ts';
import {
  artifactsLine,
  includeExcludeOptions,
  parseList,
  parseSeconds,
  progress,
  reportsDirOption,
  timeoutOption,
} from '../verification-flags.ts';

export function matrixCommand(): Command {
  const command = new Command('matrix')
    .description('preflight every backend and run one prompt through each ready one; one summary table')
    .addOption(new Option('--run-on-warn', 'also run backends whose preflight only warns'))
    .addOption(
      new Option('--shell-cmd <command>', 'include shell, with this program').env('MITTELO_SHELL_CMD'),
    )
    .addOption(timeoutOption('300'))
    .addOption(reportsDirOption())
    .addOption(jsonOption())
    .action(async (flags) => {
      const result = await runMatrix({
        include: parseList(flags.include),
        exclude: parseList(flags.exclude),
        runOnWarn: Boolean(flags.runOnWarn),
        shellCmd: flags.shellCmd,
        timeoutS: parseSeconds(flags.timeoutS, '--timeout-s'),
        reportsDir: flags.reportsDir,
        log: progress,
      });
      if (flags.json) {
        printJson(result);
        return;
      }
      const rows = result.rows.map((row) => [
        row.backend,
        row.preflight,
        row.result,
        row.latency_ms === null ? '-' : `${formatCount(row.latency_ms)} ms`,
        row.kind ?? '-',
        row.fix ?? '-',
      ]);
      process.stdout.write(
        `${formatTable(['BACKEND', 'PREFLIGHT', 'RESULT', 'LATENCY', 'KIND', 'FIX'], rows)}\n${artifactsLine(result.folder)}\n`,
      );
    });
  for (const option of includeExcludeOptions('backends')) command.addOption(option);
  return command;
}

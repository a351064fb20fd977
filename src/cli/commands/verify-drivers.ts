/** `mittelo verify-drivers`: PASS / FAIL / SKIP per CLI driver; exit 1 on any FAIL (--strict: SKIP is FAIL). */
import { Command, Option } from 'commander';
import { verifyDrivers } from '../../smoke/verify-drivers.ts';
import { CliError, EXIT, jsonOption, printJson } from '../common.ts';
import { formatTable } from '../format.ts';
import {
  artifactsLine,
  includeExcludeOptions,
  parseList,
  parseSeconds,
  progress,
  reportsDirOption,
  timeoutOption,
} from '../verification-flags.ts';

export function verifyDriversCommand(): Command {
  const command = new Command('verify-drivers')
    .description('check every CLI driver end to end: PASS, FAIL or SKIP (not installed / not logged in)')
    .addOption(new Option('--strict', 'a driver that cannot be checked here (SKIP) counts as FAIL'))
    .addOption(timeoutOption('300'))
    .addOption(reportsDirOption())
    .addOption(jsonOption())
    .action(async (flags) => {
      const result = await verifyDrivers({
        include: parseList(flags.include),
        exclude: parseList(flags.exclude),
        strict: Boolean(flags.strict),
        timeoutS: parseSeconds(flags.timeoutS, '--timeout-s'),
        reportsDir: flags.reportsDir,
        log: progress,
      });
      if (flags.json) printJson(result);
      else {
        const rows = result.rows.map((row) => [row.backend, row.verdict, row.reason, row.fix ?? '-']);
        process.stdout.write(
          `${formatTable(['DRIVER', 'VERDICT', 'REASON', 'FIX'], rows)}\n${artifactsLine(result.folder)}\n`,
        );
      }
      if (!result.ok) {
        const failed = result.rows.filter((row) => row.verdict === 'FAIL').map((row) => row.backend);
        throw new CliError(`driver verification failed: ${failed.join(', ')}`, EXIT.failure);
      }
    });
  for (const option of includeExcludeOptions('drivers')) command.addOption(option);
  return command;
}

/**
 * `mittelo backend-check --backend X`: is this backend ready here? Installed (where), version
 * (and drift from docs/cli-lock.json), the flags Mittelö uses, auth — and when not ready, the
 * first-time setup as copy-paste steps. Exit 0 when ready, 1 when not.
 */
import { Command, Option } from 'commander';
import { type BackendRow, backendRow } from '../../doctor/backend-rows.ts';
import { readCliLock } from '../../doctor/cli-lock.ts';
import { CliError, EXIT, jsonOption, printJson } from '../common.ts';

export function formatBackendRow(row: BackendRow): string {
  const lines = [`${row.backend}: ${row.ready ? 'ready' : 'NOT READY'}`];
  for (const [key, value] of Object.entries(row.details)) lines.push(`  ${key.padEnd(8)} ${value}`);
  if (row.drift) lines.push(`  drift    ${row.drift}`);
  for (const problem of row.problems) {
    lines.push(`  ${problem.severity}: ${problem.message}`);
    if (problem.fix) lines.push(`    fix: ${problem.fix}`);
  }
  if (!row.ready && row.setup.length > 0) {
    lines.push('  first-time setup:');
    for (const step of row.setup) lines.push(`    ${step}`);
  }
  return lines.join('\n');
}

export function backendCheckCommand(): Command {
  return new Command('backend-check')
    .description('check one backend: installed, version, flags, auth; exit 0 when ready, 1 when not')
    .addOption(
      new Option(
        '--backend <name>',
        'the backend to check (claude_code, codex, gemini, ...)',
      ).makeOptionMandatory(),
    )
    .addOption(
      new Option('--shell-cmd <command>', 'the program, for --backend shell').env('MITTELO_SHELL_CMD'),
    )
    .addOption(new Option('--model <model>', 'the model the backend would use'))
    .addOption(jsonOption())
    .action(async (flags: { backend: string; shellCmd?: string; model?: string; json?: boolean }) => {
      const row = await backendRow(
        flags.backend,
        { shellCmd: flags.shellCmd, model: flags.model },
        readCliLock(),
      );
      if (flags.json) printJson(row);
      else process.stdout.write(`${formatBackendRow(row)}\n`);
      if (!row.ready) throw new CliError(`backend ${row.backend} is not ready (see above)`, EXIT.failure);
    });
}

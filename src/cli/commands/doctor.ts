/**
 * `mittelo doctor`: the whole environment. `--core` checks what CI needs (Node, listening on
 * 127.0.0.1, the database folder, the echo backend); the full run adds one row per CLI backend
 * (installed, version and drift from docs/cli-lock.json, flags, auth, fix). Exit 1 when a core
 * check fails; backends that are not ready are reported, not failed (few machines have them all).
 */
import { Command, Option } from 'commander';
import { doctorReport } from '../../doctor/report.ts';
import { HUB_DEFAULTS } from '../../hub/start-hub.ts';
import { CliError, EXIT, jsonOption, printJson } from '../common.ts';
import { formatCount, formatTable } from '../format.ts';
import { formatBackendRow } from './backend-check.ts';

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check this machine: node, listening on localhost, the database folder, and every backend')
    .addOption(
      new Option('--core', 'only what CI needs: node, bind 127.0.0.1, database folder, echo backend'),
    )
    .addOption(
      new Option('--db <path>', 'the database the hub would use').env('MITTELO_DB').default(HUB_DEFAULTS.db),
    )
    .addOption(jsonOption())
    .action(async (flags: { core?: boolean; db: string; json?: boolean }) => {
      const report = await doctorReport({ db: flags.db, coreOnly: Boolean(flags.core) });
      const { core, backends, ok: coreOk } = report;
      if (flags.json) {
        printJson(report);
      } else {
        const rows = core.map((check) => [check.name, check.ok ? 'ok' : 'FAIL', check.detail]);
        const lines = [formatTable(['CHECK', 'RESULT', 'DETAIL'], rows)];
        for (const check of core) if (!check.ok && check.fix) lines.push(`${check.name}: fix: ${check.fix}`);
        if (backends.length > 0) {
          const table = backends.map((row) => [
            row.backend,
            row.ready ? 'ready' : 'not ready',
            row.details.version ?? '-',
            row.details.auth ?? (row.problems.some((p) => p.kind === 'auth') ? 'missing' : '-'),
            row.drift ?? '',
          ]);
          lines.push('', formatTable(['BACKEND', 'STATE', 'VERSION', 'AUTH', 'DRIFT'], table));
          for (const row of backends) if (!row.ready || row.drift) lines.push('', formatBackendRow(row));
          const ready = backends.filter((row) => row.ready).length;
          lines.push(
            '',
            `${formatCount(ready)} of ${formatCount(backends.length)} backends ready; details: mittelo backend-check --backend NAME`,
          );
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (!coreOk) throw new CliError('a core check failed (see above)', EXIT.failure);
    });
}

/**
 * `mittelo pause [--backend X]`: agents get no new tasks for that backend (without --backend: for
 * the whole queue) until `mittelo resume`, or until --for / --until runs out. Queued tasks stay
 * queued and running ones finish. The pause is kept by the hub's store: it survives a restart
 * and holds on every hub sharing a PostgreSQL database.
 */
import { Command, Option } from 'commander';
import { MAX_AHEAD_S } from '../../protocol/schemas.ts';
import {
  CliError,
  type ConnectionFlags,
  jsonOption,
  printJson,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { parseDuration } from '../duration.ts';
import { describePause } from '../queue-control-lines.ts';
import { checkTaskField } from '../read-tasks.ts';
import { parseMoment } from '../time-flags.ts';

interface PauseFlags extends ConnectionFlags {
  backend?: string;
  for?: string;
  until?: string;
  reason?: string;
  json?: boolean;
}

/** The backend flag of pause and resume, checked like a task's backend. */
export function backendFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const problem = checkTaskField('backend', value);
  if (problem) throw new CliError(`--backend ${problem}`);
  return value;
}

/** When the pause ends by itself (Unix seconds), from --for or --until; undefined: until resumed. */
function endOf(flags: PauseFlags, nowSeconds: number): number | undefined {
  if (flags.for !== undefined && flags.until !== undefined) {
    throw new CliError('use --for (a duration) or --until (a time), not both');
  }
  if (flags.for !== undefined) {
    const seconds = parseDuration(flags.for, '--for');
    if (seconds <= 0 || seconds > MAX_AHEAD_S) {
      throw new CliError(`--for must be more than 0 and at most a year, got "${flags.for}"`);
    }
    return nowSeconds + seconds;
  }
  if (flags.until !== undefined) {
    const until = parseMoment(flags.until, '--until', nowSeconds);
    if (until <= nowSeconds) throw new CliError(`--until ${flags.until} is in the past: give a later time`);
    if (until > nowSeconds + MAX_AHEAD_S)
      throw new CliError(`--until ${flags.until} is more than a year away`);
    return until;
  }
  return undefined;
}

export function pauseCommand(): Command {
  const command = new Command('pause')
    .description('stop handing out tasks (of one backend, or all); queued tasks wait, running ones finish')
    .addOption(new Option('--backend <name>', "pause only this backend's agents (default: the whole queue)"))
    .addOption(new Option('--for <duration>', 'resume by itself after this long (30m, 2h, 1d)'))
    .addOption(
      new Option('--until <time>', 'resume by itself at this time (18:30, 2026-03-01T09:00, Unix seconds)'),
    )
    .addOption(new Option('--reason <text>', 'why, shown in status and the dashboards'))
    .addOption(jsonOption())
    .action(async (flags: PauseFlags) => {
      const backend = backendFlag(flags.backend);
      const until = endOf(flags, Date.now() / 1000);
      if (flags.reason !== undefined && flags.reason.length > 500) {
        throw new CliError(`--reason may be at most 500 characters, got ${flags.reason.length}`);
      }
      const pause = await withHub(flags, (client) =>
        client.pause({
          ...(backend ? { backend } : {}),
          ...(until !== undefined ? { until } : {}),
          ...(flags.reason ? { reason: flags.reason } : {}),
        }),
      );
      if (flags.json) {
        printJson({ ok: true, pause });
        return;
      }
      const who = pause.backend === null ? 'no agent gets' : `agents of ${pause.backend} get no`;
      const resume = pause.backend === null ? 'mittelo resume' : `mittelo resume --backend ${pause.backend}`;
      process.stdout.write(
        `paused ${describePause(pause, Date.now() / 1000)}: ${who} new tasks; running ones finish. Resume with \`${resume}\`\n`,
      );
    });
  return withConnectionOptions(command);
}

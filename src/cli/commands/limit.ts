/**
 * `mittelo limit`: the caps on leasing, changed while the hub runs. `mittelo limit` lists them
 * with how much of each is in use; `limit set claude_code=3`, `limit set codex --rate 20/min`,
 * `limit set tag:gpu=1`; `limit clear claude_code`. The caps live in the hub's store: they survive
 * a restart and hold on every hub sharing a PostgreSQL database (docs/AGENTS.md, "Caps").
 */
import { Command, Option } from 'commander';
import {
  CliError,
  type ConnectionFlags,
  jsonOption,
  parentFlags,
  printJson,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { capLines, describeCap, parseConcurrency, parseRate, parseScope } from '../limit-flags.ts';

interface LimitFlags extends ConnectionFlags {
  json?: boolean;
}

/** `claude_code=3` or `claude_code`: the scope, and the concurrency when given. */
function target(text: string): { scope: string; concurrency?: number } {
  const at = text.lastIndexOf('=');
  if (at < 0) return { scope: parseScope(text, 'limit set') };
  return {
    scope: parseScope(text.slice(0, at), 'limit set'),
    concurrency: parseConcurrency(text.slice(at + 1), 'limit set'),
  };
}

function setCommand(): Command {
  return new Command('set')
    .description('set a cap: NAME=N tasks leased at once (NAME: a backend, or tag:NAME), --rate N/min starts')
    .argument('<target>', 'claude_code=3, tag:gpu=1, or a name alone with --rate')
    .addOption(
      new Option('--rate <rate>', 'at most this many lease starts per minute (20/min, 600/h; off: none)'),
    )
    .action(async (text: string, own: { rate?: string }, self: Command) => {
      const flags = parentFlags<LimitFlags>(self);
      const { scope, concurrency } = target(text);
      const rate =
        own.rate === undefined ? undefined : own.rate === 'off' ? null : parseRate(own.rate, '--rate');
      if (concurrency === undefined && rate === undefined) {
        throw new CliError(`limit set ${scope}: say what to cap: ${scope}=N (tasks at once) or --rate N/min`);
      }
      const cap = await withHub(flags, (client) =>
        client.setLimit({
          scope,
          ...(concurrency !== undefined ? { concurrency } : {}),
          ...(rate !== undefined ? { rate_per_min: rate } : {}),
        }),
      );
      if (flags.json) {
        printJson({ ok: true, cap });
        return;
      }
      process.stdout.write(`${scope}: ${describeCap(cap)}\n`);
    });
}

function clearCommand(): Command {
  return new Command('clear')
    .description('remove the cap of a backend or tag:NAME')
    .argument('<name>', 'the backend, or tag:NAME')
    .action(async (text: string, _own: object, self: Command) => {
      const flags = parentFlags<LimitFlags>(self);
      const scope = parseScope(text, 'limit clear');
      const cleared = await withHub(flags, (client) => client.clearLimit(scope));
      if (flags.json) {
        printJson({ ok: true, cleared });
        return;
      }
      process.stdout.write(cleared ? `${scope}: no cap now\n` : `${scope} had no cap; nothing changed\n`);
    });
}

export function limitCommand(): Command {
  const command = new Command('limit')
    .description('caps on leasing per backend or tag: list them, or `limit set` / `limit clear`')
    .addOption(jsonOption())
    .action(async (flags: LimitFlags) => {
      const limits = await withHub(flags, (client) => client.limits());
      if (flags.json) {
        printJson({ limits });
        return;
      }
      const lines =
        limits.length === 0 ? ['no caps (set one with `mittelo limit set claude_code=3`)'] : capLines(limits);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  command.addCommand(setCommand());
  command.addCommand(clearCommand());
  return withConnectionOptions(command);
}

/**
 * `mittelo budget`: daily spend budgets per backend, changed while the hub runs. `mittelo budget`
 * lists them with what each backend spent today (UTC, by the store's clock) and when an exhausted
 * one leases again (local time); `budget set claude_code=20usd/day`; `budget clear claude_code`.
 * The budgets live in the hub's store: they survive a restart and hold on every hub sharing a
 * PostgreSQL database (docs/PROTOCOL.md, "Spend and budgets").
 */
import { Command } from 'commander';
import { type HubClient, isUnknownMethod } from '../../client/hub-client.ts';
import { budgetLines, formatUsd, parseBudget, parseBudgetBackend } from '../budget-flags.ts';
import {
  CliError,
  type ConnectionFlags,
  EXIT,
  jsonOption,
  parentFlags,
  printJson,
  withConnectionOptions,
  withHub,
} from '../common.ts';

interface BudgetFlags extends ConnectionFlags {
  json?: boolean;
}

/** `withHub`, with one clear line from a hub too old to keep budgets (exit 4). */
async function withBudgetHub<T>(flags: BudgetFlags, body: (client: HubClient) => Promise<T>): Promise<T> {
  try {
    return await withHub(flags, body);
  } catch (error) {
    if (!isUnknownMethod(error)) throw error;
    throw new CliError(
      'this hub keeps no budgets (it is older than spend budgets): upgrade it',
      EXIT.refused,
    );
  }
}

function setCommand(): Command {
  return new Command('set')
    .description(
      "set a backend's daily budget: no new leases for it once its known cost today (UTC) reaches it",
    )
    .argument('<budget>', "claude_code=20usd/day (or 'claude_code=$20/day', or claude_code=20)")
    .action(async (text: string, _own: object, self: Command) => {
      const flags = parentFlags<BudgetFlags>(self);
      // Checked before connecting: bad input changes nothing and needs no hub.
      const wanted = parseBudget(text, 'budget set');
      const budget = await withBudgetHub(flags, (client) => client.setBudget(wanted));
      if (flags.json) {
        printJson({ ok: true, budget });
        return;
      }
      process.stdout.write(`${budget.backend}: budget ${formatUsd(budget.usd_per_day)} per day (UTC)\n`);
    });
}

function clearCommand(): Command {
  return new Command('clear')
    .description("remove a backend's daily budget")
    .argument('<backend>', 'the backend, for example claude_code')
    .action(async (text: string, _own: object, self: Command) => {
      const flags = parentFlags<BudgetFlags>(self);
      const backend = parseBudgetBackend(text, 'budget clear');
      const cleared = await withBudgetHub(flags, (client) => client.clearBudget(backend));
      if (flags.json) {
        printJson({ ok: true, cleared });
        return;
      }
      process.stdout.write(
        cleared ? `${backend}: no budget now\n` : `${backend} had no budget; nothing changed\n`,
      );
    });
}

export function budgetCommand(): Command {
  const command = new Command('budget')
    .description('daily spend budgets per backend: list them, or `budget set` / `budget clear`')
    .addOption(jsonOption())
    .action(async (flags: BudgetFlags) => {
      const budgets = await withBudgetHub(flags, (client) => client.budgets());
      if (flags.json) {
        printJson({ budgets });
        return;
      }
      const lines =
        budgets.length === 0
          ? ['no budgets (set one with `mittelo budget set claude_code=20usd/day`)']
          : budgetLines(budgets, Date.now() / 1000);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  command.addCommand(setCommand());
  command.addCommand(clearCommand());
  return withConnectionOptions(command);
}

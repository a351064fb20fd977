/** `mittelo copy`: carry a queue between stores (a SQLite file and a PostgreSQL database). */
import { Command, Option } from 'commander';
import { copyQueue } from '../../store/copy-queue.ts';
import { openStore } from '../../store/open-store.ts';
import { formatStatsLine } from '../format.ts';

interface CopyFlags {
  from: string;
  to: string;
  allowNonempty?: boolean;
}

export function copyCommand(): Command {
  return new Command('copy')
    .description('copy a whole queue (every task, its state, result and history) from one store to another')
    .addOption(
      new Option(
        '--from <db>',
        'the source: a SQLite file or a postgres:// URL (no hub may run on it)',
      ).makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--to <db>',
        'the target: a SQLite file (created) or a postgres:// URL',
      ).makeOptionMandatory(),
    )
    .addOption(
      new Option('--allow-nonempty', 'add to a target that already holds tasks (no task id may be in both)'),
    )
    .action(async (flags: CopyFlags) => {
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const source = await openStore(flags.from, { log });
      let target: Awaited<ReturnType<typeof openStore>> | null = null;
      try {
        target = await openStore(flags.to, { log });
        const report = await copyQueue(source, target, {
          allowNonEmpty: flags.allowNonempty ?? false,
          progress: (copied) => {
            if (copied % 100_000 === 0) log(`copied ${copied} tasks...`);
          },
        });
        process.stdout.write(
          `copied ${report.copied} task(s) from ${describe(flags.from)} to ${describe(flags.to)}; the target now holds ${formatStatsLine(report.target)}\n`,
        );
      } finally {
        await Promise.allSettled([source.close(), target?.close()]);
      }
    });
}

/** A store named for people: a PostgreSQL URL without its password. */
function describe(db: string): string {
  return db.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/i, '$1:***@');
}

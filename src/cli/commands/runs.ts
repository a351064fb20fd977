/**
 * `mittelo runs`: the run folders `mittelo run` left under .mittelo/runs, with their pack, how far
 * they got, and their size; `--clean [--older-than D]` removes the finished ones (never one a
 * running `mittelo run` uses, never one `--resume` could still continue).
 */
import { Command, Option } from 'commander';
import { removeWorktree } from '../../workspace/task-worktree.ts';
import { CliError, jsonOption, printJson } from '../common.ts';
import { parseDuration } from '../duration.ts';
import { formatBytes, formatCount, formatTable } from '../format.ts';
import {
  listRunFolders,
  RUNS_DIR,
  type RunFolder,
  removeRunFolder,
  unfinishedOf,
  worktreesLeftBy,
} from '../run-folders.ts';

interface RunsFlags {
  json?: boolean;
  clean?: boolean;
  olderThan?: string;
}

export function runsCommand(): Command {
  return new Command('runs')
    .description(
      `list the run folders of \`mittelo run\` (${RUNS_DIR}): pack, counts, state, size; --clean removes finished ones`,
    )
    .addOption(
      new Option(
        '--clean',
        'remove the folders of finished runs and the worktrees their tasks left, keeping the branches (not running ones, not unfinished ones --resume can continue)',
      ),
    )
    .addOption(
      new Option(
        '--older-than <duration>',
        'with --clean: only runs that ended at least this long ago (7d, 12h, ...)',
      ),
    )
    .addOption(jsonOption())
    .action(async (flags: RunsFlags) => {
      if (flags.olderThan !== undefined && !flags.clean) {
        throw new CliError('--older-than goes with --clean: `mittelo runs --clean --older-than 7d`');
      }
      const olderThanS = flags.olderThan === undefined ? 0 : parseDuration(flags.olderThan, '--older-than');
      const runs = listRunFolders();
      if (flags.clean) await clean(runs, olderThanS, flags);
      else list(runs, flags.json === true);
    });
}

function list(runs: RunFolder[], json: boolean): void {
  const total = runs.reduce((sum, run) => sum + run.bytes, 0);
  if (json) {
    printJson({ runs: runs.map((run) => ({ ...run, unfinished: unfinishedOf(run) })), bytes: total });
    return;
  }
  if (runs.length === 0) {
    process.stdout.write(`no runs in ${RUNS_DIR} (\`mittelo run PACK\` makes one)\n`);
    return;
  }
  const count = (run: RunFolder, status: 'done' | 'failed' | 'canceled') =>
    run.counts ? formatCount(run.counts[status]) : '-';
  const rows = runs.map((run) => {
    const left = unfinishedOf(run);
    return [
      run.stamp,
      run.pack ?? '-',
      stateOf(run),
      run.tasks === null ? '-' : formatCount(run.tasks),
      count(run, 'done'),
      count(run, 'failed'),
      count(run, 'canceled'),
      left === null ? '-' : formatCount(left),
      formatBytes(run.bytes),
    ];
  });
  const out = [
    formatTable(['RUN', 'PACK', 'STATE', 'TASKS', 'DONE', 'FAILED', 'CANCELED', 'LEFT', 'SIZE'], rows),
    `${runs.length} run${runs.length === 1 ? '' : 's'} in ${RUNS_DIR}, ${formatBytes(total)}`,
  ];
  const resumable = runs.find((run) => run.state === 'unfinished' && run.pack !== null);
  if (resumable) out.push(`continue an unfinished one with \`mittelo run --resume ${resumable.folder}\``);
  process.stdout.write(`${out.join('\n')}\n`);
}

function stateOf(run: RunFolder): string {
  if (run.state === 'running') return run.pid ? `running (pid ${run.pid})` : 'running';
  if (run.state === 'finished') return 'finished';
  return run.ended ? `unfinished (${run.ended})` : 'unfinished';
}

async function clean(runs: RunFolder[], olderThanS: number, flags: RunsFlags): Promise<void> {
  const cutoff = Date.now() - olderThanS * 1000;
  const removed: RunFolder[] = [];
  const kept: RunFolder[] = [];
  let worktrees = 0;
  for (const run of runs) {
    const due = run.state === 'finished' && run.changed_ms <= cutoff;
    // Read before the folder goes: its results name the worktrees.
    const left = due ? worktreesLeftBy(run.folder) : [];
    if (due && removeRunFolder(run.folder)) {
      removed.push(run);
      for (const worktree of left) {
        await removeWorktree(worktree.repo, worktree.path);
        worktrees += 1;
      }
    } else kept.push(run);
  }
  const freed = removed.reduce((sum, run) => sum + run.bytes, 0);
  if (flags.json) {
    printJson({
      removed: removed.map((run) => run.folder),
      freed_bytes: freed,
      worktrees_removed: worktrees,
      kept: kept.map((run) => ({ folder: run.folder, state: run.state })),
    });
    return;
  }
  const why = (state: RunFolder['state']) => kept.filter((run) => run.state === state).length;
  const reasons = [
    why('running') ? `${why('running')} running` : '',
    why('unfinished')
      ? `${why('unfinished')} unfinished (\`mittelo run --resume FOLDER\` continues them)`
      : '',
    why('finished') ? `${why('finished')} finished less than ${flags.olderThan?.trim()} ago` : '',
  ].filter((reason) => reason !== '');
  process.stdout.write(
    `removed ${removed.length} finished run folder${removed.length === 1 ? '' : 's'}, freed ${formatBytes(freed)}` +
      `${worktrees ? `, and ${worktrees} worktree${worktrees === 1 ? '' : 's'} (branches kept)` : ''}` +
      `${reasons.length ? `; kept ${kept.length}: ${reasons.join(', ')}` : ''}\n`,
  );
}

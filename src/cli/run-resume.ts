/**
 * `mittelo run --resume FOLDER`: check that the folder is a run this can continue, and gather what
 * the job needs to continue it (its database, results file, agents, and the pack's tasks it had not
 * enqueued yet). Everything is checked before anything starts; a folder that cannot be resumed is
 * one line: not a run (exit 2), or one that is running or already finished (exit 4).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { type AgentSpec, parseAgentSpec } from '../agent/swarm.ts';
import type { NewTask } from '../protocol/model.ts';
import { enqueuedCount, packDigest, RUN_FILES, type RunManifest } from '../run/run-manifest.ts';
import { CliError, EXIT } from './common.ts';
import { formatCount } from './format.ts';
import { parseJsonlTasks, type TaskDefaults } from './read-tasks.ts';
import { describeRunFolder, isInside, manifestOf, NotARunFolder } from './run-folders.ts';

export interface ResumePlan {
  folder: string;
  manifest: RunManifest;
  db: string;
  resultsPath: string;
  /** The agents to start: --agent when given, else the run's own. */
  specs: AgentSpec[];
  /** The pack's tasks the run had not enqueued yet (usually none), with their lines. */
  rest: { tasks: NewTask[]; lines: number[] };
}

/** Flags that name what a resumed run takes from its folder instead. */
const FROM_THE_RUN = [
  ['hub', '--hub'],
  ['db', '--db'],
  ['out', '--out'],
] as const;

export async function planResume(
  folder: string,
  pack: string | undefined,
  flags: { agent?: AgentSpec[]; hub?: string; db?: string; out?: string },
  /** Task defaults given now (--max-cost-usd): for the pack lines the run had not enqueued yet. */
  defaults: TaskDefaults = {},
): Promise<ResumePlan> {
  if (pack !== undefined) {
    throw new CliError(`give a pack or --resume ${folder}, not both: a resumed run reads its own pack`);
  }
  for (const [key, flag] of FROM_THE_RUN) {
    if (flags[key] !== undefined) {
      throw new CliError(
        `${flag} cannot go with --resume: the run keeps the ${flag.slice(2)} it started with`,
      );
    }
  }
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new CliError(`--resume ${folder}: no such folder (\`mittelo runs\` lists the runs)`);
  }
  let manifest: RunManifest | null;
  try {
    manifest = manifestOf(folder);
  } catch (error) {
    if (error instanceof NotARunFolder) throw new CliError(`--resume ${folder}: ${error.message}`);
    throw error;
  }
  if (!manifest) {
    const older = existsSync(`${folder}/${RUN_FILES.db}`);
    throw new CliError(
      older
        ? `--resume ${folder}: this run has no ${RUN_FILES.manifest} (an older mittelo made it), so it cannot be resumed: run its pack again`
        : `--resume ${folder} is not a run folder (no ${RUN_FILES.manifest}): give one that \`mittelo runs\` lists`,
    );
  }
  if (manifest.hub !== null || manifest.db === null) {
    throw new CliError(
      `--resume ${folder}: that run used the hub at ${manifest.hub}, whose queue keeps its tasks: they go on there (\`mittelo wait\`, \`mittelo status\`); only runs with their own hub can be resumed`,
    );
  }
  const state = describeRunFolder(folder);
  if (state.state === 'running') {
    throw new CliError(
      `--resume ${folder}: a mittelo run is using it now${state.pid ? ` (pid ${state.pid})` : ''}: wait for it to end, or stop it first`,
      EXIT.refused,
    );
  }
  if (manifest.ended === 'finished') {
    const counts = state.counts;
    const said = counts
      ? `: ${formatCount(counts.done)} done, ${formatCount(counts.failed)} failed, ${formatCount(counts.canceled)} canceled`
      : '';
    throw new CliError(
      `--resume ${folder}: that run already finished${said}; nothing to resume (results in ${shown(manifest.results)})`,
      EXIT.refused,
    );
  }
  // A run killed before its hub started has no database yet: it simply starts over.
  if (!existsSync(manifest.db) && enqueuedCount(manifest) > 0) {
    throw new CliError(
      `--resume ${folder}: its database ${manifest.db} is gone, so where its tasks stand is lost`,
    );
  }
  return {
    folder,
    manifest,
    db: shown(manifest.db),
    resultsPath: shown(manifest.results),
    specs: flags.agent ?? runAgents(manifest, folder),
    rest: await packRest(manifest, folder, defaults),
  };
}

/** A path as messages show it: from the working directory when it is below it. */
function shown(path: string): string {
  return isInside(path, process.cwd()) ? relative(process.cwd(), path) : path;
}

function runAgents(manifest: RunManifest, folder: string): AgentSpec[] {
  if (manifest.agents.length === 0) {
    throw new CliError(
      `--resume ${folder}: the run started no agents: give them, for example --agent echo=2`,
    );
  }
  return manifest.agents.map((spec) => parseAgentSpec(spec));
}

/** The pack's tasks after the ones the run enqueued, read again from the pack (which must not have changed). */
async function packRest(
  manifest: RunManifest,
  folder: string,
  defaults: TaskDefaults,
): Promise<{ tasks: NewTask[]; lines: number[] }> {
  const enqueued = enqueuedCount(manifest);
  if (enqueued >= manifest.tasks) return { tasks: [], lines: [] };
  const left = `${formatCount(manifest.tasks - enqueued)} of its ${formatCount(manifest.tasks)} tasks were not enqueued yet`;
  if (manifest.pack_path === null) {
    throw new CliError(
      `--resume ${folder}: ${left}, and its pack came from stdin, which cannot be read again: run the pack again`,
    );
  }
  let text: string;
  try {
    text = await readFile(manifest.pack_path, 'utf8');
  } catch (error) {
    throw new CliError(
      `--resume ${folder}: ${left}, and its pack ${manifest.pack_path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): put it back, or run the pack again`,
    );
  }
  if (packDigest(text) !== manifest.pack_sha256) {
    throw new CliError(
      `--resume ${folder}: ${left}, and its pack ${manifest.pack_path} changed since the run began: restore it, or run the new pack as a new run`,
    );
  }
  const { tasks, lines } = parseJsonlTasks(text, manifest.pack, defaults);
  return { tasks: tasks.slice(enqueued), lines: lines.slice(enqueued) };
}

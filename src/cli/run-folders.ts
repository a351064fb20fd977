/**
 * The folders `mittelo run` leaves under .mittelo/runs/<stamp>/ (run.json, hub.db,
 * results.jsonl), as `mittelo runs` and `mittelo run --resume` see them: what each ran, how far it
 * got, whether a `mittelo run` is using it now, and how much disk it takes. Everything is read
 * without starting a hub and without changing a file.
 *
 * In use: a run's embedded hub holds hub.db with an exclusive lock while it runs (SQLite drops the
 * lock when the process dies, however it dies), and run.json names the process of the session
 * that has not ended yet (for the moments before its hub starts and after it stops).
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { type Stats, TASK_STATUSES, type TaskStatus, TERMINAL_STATUSES } from '../protocol/model.ts';
import { RUN_FILES, type RunEnding, type RunManifest, readManifest } from '../run/run-manifest.ts';
import { inspectSqliteFile } from '../store/inspect-database.ts';

/** Where `mittelo run` makes its folders (relative to where it runs). */
export const RUNS_DIR = join('.mittelo', 'runs');

/** running: a `mittelo run` uses it now; finished: every task ended; unfinished: `--resume` can continue it. */
export type RunState = 'running' | 'finished' | 'unfinished';

export interface RunFolder {
  /** The folder, as a path from the working directory. */
  folder: string;
  stamp: string;
  /** The pack as given to `mittelo run`; null for a folder without run.json. */
  pack: string | null;
  started_at: string | null;
  state: RunState;
  /**
   * How its last session ended (`killed`: it stopped without ending, so the process died);
   * null while running, or for a folder without run.json.
   */
  ended: RunEnding | 'killed' | null;
  /** The `mittelo run` process using it, while running. */
  pid: number | null;
  /** Tasks in its pack (or counted). */
  tasks: number | null;
  /** Its tasks per status (null: cannot be read now, e.g. while running). */
  counts: Stats | null;
  counted_from: 'hub.db' | 'results.jsonl' | null;
  /** Bytes the folder takes on disk. */
  bytes: number;
  /** When it last changed (ms since the epoch): when it ended, else its newest file. */
  changed_ms: number;
}

export class NotARunFolder extends Error {}

/** Every run folder under `root`, oldest first. Folders that hold nothing of a run are left out. */
export function listRunFolders(root: string = RUNS_DIR): RunFolder[] {
  if (!existsSync(root)) return [];
  const found: RunFolder[] = [];
  for (const name of readdirSync(root).sort()) {
    const folder = join(root, name);
    if (!lstatSync(folder).isDirectory()) continue;
    try {
      found.push(describeRunFolder(folder));
    } catch (error) {
      if (!(error instanceof NotARunFolder)) throw error;
    }
  }
  return found;
}

/** What `folder` holds; throws NotARunFolder when it has no run.json, hub.db or results file. */
export function describeRunFolder(folder: string): RunFolder {
  const manifest = manifestOf(folder);
  const db = manifest ? manifest.db : join(folder, RUN_FILES.db);
  const results = manifest ? manifest.results : join(folder, RUN_FILES.results);
  if (!manifest && !existsSync(db!) && !existsSync(results)) {
    throw new NotARunFolder(
      `${folder} holds no ${RUN_FILES.manifest}, ${RUN_FILES.db} or ${RUN_FILES.results}`,
    );
  }
  // Only the folder's own database counts: one given with --db may hold other tasks too.
  const ownDb = db !== null && isInside(db, folder) ? db : null;
  const look = ownDb && existsSync(ownDb) ? inspectSqliteFile(ownDb) : null;
  // The lock decides once the run's database exists; before that (a run starting), its process.
  const alive = manifest !== null && manifest.ended === null && isRunning(manifest.pid);
  const running = look ? look.state === 'in_use' : alive;
  let counts: Stats | null = null;
  let countedFrom: RunFolder['counted_from'] = null;
  if (look?.state === 'counted') {
    counts = look.stats;
    countedFrom = 'hub.db';
  } else if (!running && existsSync(results)) {
    counts = countResults(results);
    countedFrom = 'results.jsonl';
  }
  const tasks = manifest?.tasks ?? (counts ? Object.values(counts).reduce((a, b) => a + b, 0) : null);
  return {
    folder,
    stamp: basename(folder),
    pack: manifest?.pack ?? null,
    started_at: manifest?.started_at ?? null,
    state: running ? 'running' : isFinished(manifest, counts, tasks) ? 'finished' : 'unfinished',
    ended: running ? null : manifest ? (manifest.ended ?? 'killed') : null,
    pid: running && manifest ? manifest.pid : null,
    tasks,
    counts,
    counted_from: countedFrom,
    bytes: diskBytes(folder),
    changed_ms: manifest?.ended_at ? Date.parse(manifest.ended_at) : newestChange(folder),
  };
}

/** Tasks of the run that have not ended: its total less the done, failed and canceled ones. */
export function unfinishedOf(run: Pick<RunFolder, 'tasks' | 'counts'>): number | null {
  if (!run.counts || run.tasks === null) return null;
  const ended = TERMINAL_STATUSES.reduce((sum, status) => sum + run.counts![status], 0);
  return Math.max(0, run.tasks - ended);
}

/** Remove a run folder, unless a `mittelo run` started using it since it was listed. */
export function removeRunFolder(folder: string): boolean {
  if (describeRunFolder(folder).state === 'running') return false;
  rmSync(folder, { recursive: true, force: true });
  return true;
}

/**
 * The worktree folders a run's tasks left that are still there (kept ones of failed tasks, and
 * --keep-worktrees ones), each with the repository it belongs to (run.json's repo; else the
 * layout <repo>/.mittelo/worktrees/<name>).
 */
export function worktreesLeftBy(folder: string): { repo: string; path: string }[] {
  const manifest = manifestOf(folder);
  const results = manifest ? manifest.results : join(folder, RUN_FILES.results);
  const paths = new Set<string>();
  let text = '';
  try {
    text = readFileSync(results, 'utf8');
  } catch {
    return [];
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const path = (JSON.parse(line) as { worktree?: { path?: unknown } }).worktree?.path;
      if (typeof path === 'string' && existsSync(path)) paths.add(resolve(path));
    } catch {
      // not a record: skipped
    }
  }
  return [...paths].map((path) => ({ repo: manifest?.repo?.root ?? resolve(path, '..', '..', '..'), path }));
}

/** run.json of `folder`, null when it has none; a damaged one is reported as not a run. */
export function manifestOf(folder: string): RunManifest | null {
  try {
    return readManifest(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new NotARunFolder(
      `${join(folder, RUN_FILES.manifest)} cannot be read (${(error as Error).message})`,
    );
  }
}

function isFinished(manifest: RunManifest | null, counts: Stats | null, tasks: number | null): boolean {
  if (manifest) return manifest.ended === 'finished';
  // An older run's folder (no run.json): finished when nothing is queued or leased.
  return counts !== null && tasks !== null && counts.queued === 0 && counts.leased === 0;
}

/**
 * Whether the process is there (signal 0 checks without sending anything). A zombie (killed, not
 * yet reaped: in a container without an init that may be for good) is not.
 */
function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // Linux: "pid (name) S ...": the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): the signal said it is there
  }
}

/** The last status of each task in a results file (a resumed run may have rewritten some). */
function countResults(path: string): Stats {
  const last = new Map<number, TaskStatus>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // unreadable: counted as empty
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const record = JSON.parse(line) as { task_id?: unknown; status?: unknown };
      if (typeof record.task_id === 'number' && TASK_STATUSES.includes(record.status as TaskStatus)) {
        last.set(record.task_id, record.status as TaskStatus);
      }
    } catch {
      // not a record: skipped
    }
  }
  const stats = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Stats;
  for (const status of last.values()) stats[status] += 1;
  return stats;
}

/** Whether `path` is below `folder`. */
export function isInside(path: string, folder: string): boolean {
  const from = relative(resolve(folder), resolve(path));
  return from !== '' && !from.startsWith('..') && !isAbsolute(from);
}

/** Bytes on disk of every file under `folder` (allocated blocks, so a sparse file counts as it is). */
function diskBytes(folder: string): number {
  let bytes = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      const stat = statSync(join(entry.parentPath, entry.name));
      bytes += stat.blocks !== undefined ? stat.blocks * 512 : stat.size;
    } catch {
      // removed while we looked
    }
  }
  return bytes;
}

function newestChange(folder: string): number {
  let newest = statSync(folder).mtimeMs;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    try {
      newest = Math.max(newest, statSync(join(folder, entry.name)).mtimeMs);
    } catch {
      // removed while we looked
    }
  }
  return newest;
}

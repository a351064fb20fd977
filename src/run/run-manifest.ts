/**
 * A run folder's record of itself, `.mittelo/runs/<stamp>/run.json`: which pack, how many tasks,
 * where its database and results are, which agents it started, which task ids came from which pack
 * lines, which process runs it now, and how its last session ended. `mittelo run` writes it as it
 * goes (each write replaces the file whole, through a rename, so a reader or a kill never sees half
 * of one); `mittelo runs` lists folders by it and `mittelo run --resume` continues a run from it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The files of a run folder. */
export const RUN_FILES = { manifest: 'run.json', db: 'hub.db', results: 'results.jsonl' } as const;

/** How a session of a run ended (as runJob reports it). */
export type RunEnding = 'finished' | 'deadline' | 'interrupted' | 'stuck' | 'budget';

export interface RunManifest {
  /** The format of this file. */
  version: 1;
  /** The pack as given on the command line (`-`: stdin). */
  pack: string;
  /** Its absolute path; null for stdin. */
  pack_path: string | null;
  /** sha256 of the pack's text: a resume that must read it again refuses one that changed. */
  pack_sha256: string;
  /** Tasks in the pack. */
  tasks: number;
  /** ISO time the run began (its first session). */
  started_at: string;
  /** The process that runs (or last ran) a session of it. */
  pid: number;
  /** The embedded hub's database (absolute); null for a run on a `--hub`. */
  db: string | null;
  /** The `--hub` address; null for an embedded hub. */
  hub: string | null;
  /** The results file (absolute). */
  results: string;
  /** The agents, as `--agent` specs (`echo=2`). */
  agents: string[];
  /** worker id -> backend of every agent the run started, so later sessions can name who ran a task. */
  workers: Record<string, string>;
  /**
   * The tasks enqueued so far, in pack order, as runs of [first task id, its pack line, count]:
   * task `id + k` came from pack line `line + k`. (Task ids of one enqueue are consecutive, and
   * so are the lines of a pack without blank lines: a pack of any size takes a few entries.)
   */
  enqueued: [number, number, number][];
  /** How the last session ended; null while one runs, or when it was killed. */
  ended: RunEnding | null;
  ended_at: string | null;
  /** Sessions so far: the first, then one per `--resume`. */
  sessions: number;
  /**
   * The repository worktree tasks were made of (its top folder, and the base as the run started);
   * null or absent (runs before workspaces): none. `mittelo runs --clean` and `mittelo diff` read it.
   */
  repo?: RunRepository | null;
}

export interface RunRepository {
  root: string;
  base_ref: string;
  base_commit: string;
}

export function packDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The manifest of `folder`; throws (ENOENT, SyntaxError) when there is none or it is not JSON. */
export function readManifest(folder: string): RunManifest {
  return JSON.parse(readFileSync(join(folder, RUN_FILES.manifest), 'utf8')) as RunManifest;
}

/** task id -> pack line, for every task enqueued so far. */
export function taskLines(manifest: Pick<RunManifest, 'enqueued'>): Map<number, number> {
  const lines = new Map<number, number>();
  for (const [id, line, count] of manifest.enqueued) {
    for (let k = 0; k < count; k++) lines.set(id + k, line + k);
  }
  return lines;
}

/** How many of the pack's tasks were enqueued (the first ones, in pack order). */
export function enqueuedCount(manifest: Pick<RunManifest, 'enqueued'>): number {
  return manifest.enqueued.reduce((sum, [, , count]) => sum + count, 0);
}

/** Keeps a run's manifest up to date; every change is written at once. */
export class RunRecorder {
  readonly folder: string;
  private readonly manifest: RunManifest;
  private readonly log: (line: string) => void;
  private failed = false;

  private constructor(folder: string, manifest: RunManifest, log: (line: string) => void) {
    this.folder = folder;
    this.manifest = manifest;
    this.log = log;
  }

  /** A new run: writes its first manifest (throws when the folder cannot be written). */
  static create(
    folder: string,
    fields: Omit<
      RunManifest,
      'version' | 'started_at' | 'pid' | 'workers' | 'enqueued' | 'ended' | 'ended_at' | 'sessions'
    >,
    log: (line: string) => void,
  ): RunRecorder {
    const recorder = new RunRecorder(
      folder,
      {
        version: 1,
        ...fields,
        started_at: new Date().toISOString(),
        pid: process.pid,
        workers: {},
        enqueued: [],
        ended: null,
        ended_at: null,
        sessions: 1,
      },
      log,
    );
    writeManifest(folder, recorder.manifest);
    return recorder;
  }

  /** The next session of an existing run, in this process. */
  static resume(
    folder: string,
    manifest: RunManifest,
    agents: string[],
    log: (line: string) => void,
  ): RunRecorder {
    const recorder = new RunRecorder(
      folder,
      { ...manifest, pid: process.pid, agents, ended: null, ended_at: null, sessions: manifest.sessions + 1 },
      log,
    );
    writeManifest(folder, recorder.manifest);
    return recorder;
  }

  get current(): Readonly<RunManifest> {
    return this.manifest;
  }

  /** The agents this session started. */
  workers(workers: ReadonlyMap<string, string>): void {
    for (const [id, backend] of workers) this.manifest.workers[id] = backend;
    this.save();
  }

  /** Tasks `ids` were enqueued from pack lines `lines` (same order). */
  enqueued(ids: readonly number[], lines: readonly number[]): void {
    const runs = this.manifest.enqueued;
    for (const [k, id] of ids.entries()) {
      const line = lines[k] ?? 0;
      const last = runs[runs.length - 1];
      if (last && last[0] + last[2] === id && last[1] + last[2] === line) last[2] += 1;
      else runs.push([id, line, 1]);
    }
    this.save();
  }

  ended(ending: RunEnding): void {
    this.manifest.ended = ending;
    this.manifest.ended_at = new Date().toISOString();
    this.save();
  }

  /** A manifest that cannot be written does not stop the run: it is said once. */
  private save(): void {
    try {
      writeManifest(this.folder, this.manifest);
    } catch (error) {
      if (this.failed) return;
      this.failed = true;
      this.log(
        `mittelo run: cannot write ${join(this.folder, RUN_FILES.manifest)} (${(error as Error).message}): the run goes on, but \`mittelo run --resume\` and \`mittelo runs\` will not know all of it`,
      );
    }
  }
}

function writeManifest(folder: string, manifest: RunManifest): void {
  const path = join(folder, RUN_FILES.manifest);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(temporary, path);
}

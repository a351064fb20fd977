/**
 * What every scenario gets: the run's settings, fresh hub processes on fresh database files
 * (stopped whatever happens), the v0.1 baseline when available, and a place to report figures
 * and raw numbers.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { removeOnExit } from './children.ts';
import { formatProfile, type ProfileSummary, summarizeProfile } from './cpu-profile.ts';
import { type BenchHub, startMitteloHub, startStubHub, startV01Hub } from './hub-process.ts';
import { type Figure, formatFigure } from './report.ts';

export interface BenchSettings {
  quick: boolean;
  /** Fresh-hub repetitions of each throughput measurement; the median is reported. */
  repeat: number;
  /** hubload.mjs, or null when it is missing. */
  hubload: string | null;
  /** A checkout of the Python v0.1 hub, or null. */
  v01Dir: string | null;
  /** Run our hubs under --cpu-prof and summarize each profile into this folder. */
  profileDir: string | null;
}

export class BenchContext {
  readonly settings: BenchSettings;
  /** Scratch space for databases; removed when the bench ends. */
  readonly tempRoot: string;
  readonly figures: Figure[] = [];
  readonly raw: Record<string, unknown[]> = {};
  readonly profiles: ProfileSummary[] = [];
  private hubCount = 0;
  private scenario = '';

  constructor(settings: BenchSettings, tempParent: string) {
    this.settings = settings;
    this.tempRoot = mkdtempSync(join(tempParent, 'mittelo-bench-'));
    removeOnExit(this.tempRoot);
  }

  get quick(): boolean {
    return this.settings.quick;
  }

  /** Pick the full-run or the --quick size. */
  size(full: number, quick: number): number {
    return this.settings.quick ? quick : full;
  }

  beginScenario(name: string): void {
    this.scenario = name;
  }

  /** Progress, on stderr so that stdout holds the figures only. */
  log(line: string): void {
    process.stderr.write(`  · ${line}\n`);
  }

  /** Record a figure and print its line. */
  report(figure: Omit<Figure, 'scenario'>): void {
    const full = { scenario: this.scenario, ...figure };
    this.figures.push(full);
    process.stdout.write(`${formatFigure(full)}\n`);
  }

  /** Keep raw numbers (hubload output, samples) for results/latest.json. */
  keep(value: unknown): void {
    const list = this.raw[this.scenario] ?? [];
    list.push(value);
    this.raw[this.scenario] = list;
  }

  /** A new, empty folder for one hub's database. */
  freshFolder(): string {
    this.hubCount += 1;
    const folder = join(this.tempRoot, `hub-${this.hubCount}`);
    mkdirSync(folder);
    return folder;
  }

  /** Run `use` against our hub on `db` (default: a fresh file); the hub is stopped afterwards. */
  async withHub<T>(
    options: { args?: string[]; db?: string; entry?: string },
    use: (hub: BenchHub) => Promise<T>,
  ): Promise<T> {
    const db = options.db ?? join(this.freshFolder(), 'hub.db');
    const profileDir = this.settings.profileDir;
    const hub = await startMitteloHub({
      db,
      entry: options.entry,
      args: options.args,
      cpuProfile: profileDir ? { dir: profileDir, name: `${this.scenario}-${this.hubCount}` } : undefined,
    });
    try {
      return await use(hub);
    } finally {
      await hub.stop();
      if (hub.profileFile) this.summarize(hub.profileFile, hub.timed);
    }
  }

  /** Run `use` against the v0.1 hub on a fresh file; only call when settings.v01Dir is set. */
  async withV01Hub<T>(use: (hub: BenchHub) => Promise<T>): Promise<T> {
    if (!this.settings.v01Dir) throw new Error('no v0.1 checkout (MITTELO_BENCH_V01_DIR)');
    const hub = await startV01Hub(this.settings.v01Dir, join(this.freshFolder(), 'v01.db'));
    try {
      return await use(hub);
    } finally {
      await hub.stop();
    }
  }

  /** Run `use` against the no-op calibration hub (see stub-hub.ts). */
  async withStubHub<T>(use: (hub: BenchHub) => Promise<T>): Promise<T> {
    const hub = await startStubHub();
    try {
      return await use(hub);
    } finally {
      await hub.stop();
    }
  }

  private summarize(file: string, windows: Array<[number, number]>): void {
    try {
      const summary = summarizeProfile(file, windows);
      this.profiles.push(summary);
      process.stderr.write(`${formatProfile(summary)}\n`);
    } catch (error) {
      this.log(`no usable CPU profile at ${file}: ${(error as Error).message}`);
    }
  }
}

/**
 * Start and stop the hubs under test as real processes: this project's hub
 * (`node src/cli/main.ts hub --port 0 --print-url --db ...`) and, for the baseline, the Python
 * v0.1 hub from a checkout. Both print `MITTELO_HUB tcp://host:port` once listening.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { track } from './children.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const CLI_ENTRY = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 15_000;

export type HubKind = 'mittelo' | 'v0.1' | 'stub';

export interface BenchHub {
  kind: HubKind;
  pid: number;
  host: string;
  port: number;
  db: string;
  /** Where the CPU profile will be once the hub has stopped, when one was asked for. */
  profileFile: string | null;
  /** The timed phases run against this hub ([start, end] µs, monotonic), for the profile summary. */
  timed: Array<[number, number]>;
  stderr(): string;
  /** SIGTERM, wait for a clean exit (a CPU profile is written then), SIGKILL after a grace period. */
  stop(): Promise<void>;
}

export interface MitteloHubOptions {
  /** `--db`: a SQLite file, or a `postgres://` URL (the PostgreSQL store; several hubs may share one). */
  db: string;
  /**
   * Where the hub runs (default the repository root). Give a scratch folder with a database URL:
   * a hub that cannot take URLs reads one as a file path, and must not write it into the repository.
   */
  cwd?: string | undefined;
  /** The CLI to run; default src/cli/main.ts (type-stripped by Node). */
  entry?: string | undefined;
  /** Extra hub flags, e.g. ['--fsync']. */
  args?: string[];
  /** Run the hub under `node --cpu-prof`, writing `<dir>/<name>.cpuprofile`. */
  cpuProfile?: { dir: string; name: string } | undefined;
}

export function startMitteloHub(options: MitteloHubOptions): Promise<BenchHub> {
  const nodeFlags: string[] = [];
  let profileFile: string | null = null;
  if (options.cpuProfile) {
    profileFile = join(options.cpuProfile.dir, `${options.cpuProfile.name}.cpuprofile`);
    nodeFlags.push(
      '--cpu-prof',
      `--cpu-prof-dir=${options.cpuProfile.dir}`,
      `--cpu-prof-name=${options.cpuProfile.name}.cpuprofile`,
    );
  }
  const args = [
    ...nodeFlags,
    options.entry ?? CLI_ENTRY,
    'hub',
    '--port',
    '0',
    '--print-url',
    '--db',
    options.db,
    ...(options.args ?? []),
  ];
  // Settings from the caller's environment must not change what is measured.
  const env = { ...process.env };
  for (const name of ['MITTELO_TOKEN', 'MITTELO_FSYNC', 'MITTELO_HOST', 'MITTELO_PORT', 'MITTELO_DB']) {
    delete env[name];
  }
  const cwd = options.cwd ?? REPO_ROOT;
  return launch('mittelo', process.execPath, args, { cwd, env }, options.db, profileFile);
}

/** The Python v0.1 hub, run from its checkout (`python3 -m mittelo hub ...`). */
export function startV01Hub(checkout: string, db: string): Promise<BenchHub> {
  const python = process.env.MITTELO_BENCH_PYTHON || 'python3';
  // Port 0: v0.1 binds it and prints the port it got, so no free-port guessing (and no race).
  const args = ['-m', 'mittelo', 'hub', '--host', '127.0.0.1', '--port', '0', '--db', db, '--print-url'];
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  delete env.MITTELO_DB;
  return launch('v0.1', python, args, { cwd: checkout, env }, db, null);
}

/** The no-op calibration hub (stub-hub.ts): the floor of what hubload can reach here. */
export function startStubHub(): Promise<BenchHub> {
  const script = join(REPO_ROOT, 'bench', 'lib', 'stub-hub.ts');
  return launch('stub', process.execPath, [script], { cwd: REPO_ROOT, env: process.env }, '', null);
}

function launch(
  kind: HubKind,
  command: string,
  args: string[],
  spawnOptions: { cwd: string; env: NodeJS.ProcessEnv },
  db: string,
  profileFile: string | null,
): Promise<BenchHub> {
  const child = track(spawn(command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    // Keep the tail only: a hub that logs a lot must not grow the bench's memory.
    stderr = (stderr + text).slice(-20_000);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  return new Promise<BenchHub>((resolveHub, reject) => {
    let listening = false;
    const fail = (why: string) => {
      if (listening) return;
      child.kill('SIGKILL');
      reject(
        new Error(`${kind} hub ${why}; command: ${command} ${args.join(' ')}\nstderr: ${stderr.trim()}`),
      );
    };
    const timer = setTimeout(
      () => fail(`printed no MITTELO_HUB line within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(`could not start (${error.message})`);
    });
    void exited.then(() => {
      clearTimeout(timer);
      fail(`exited (code ${child.exitCode}, signal ${child.signalCode}) before listening`);
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /^MITTELO_HUB tcp:\/\/(.+):(\d+)\s*$/.exec(line);
      if (!match) return;
      clearTimeout(timer);
      listening = true;
      lines.removeAllListeners('line');
      child.stdout!.resume(); // keep draining, so a chatty hub never blocks on a full pipe
      resolveHub({
        kind,
        pid: child.pid!,
        host: match[1]!.replace(/^\[|\]$/g, ''),
        port: Number(match[2]),
        db,
        profileFile,
        timed: [],
        stderr: () => stderr,
        stop: () => stopChild(child, exited),
      });
    });
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

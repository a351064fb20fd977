/**
 * Start a real hub as a child process (`node src/cli/main.ts hub --port 0 --print-url`), on a
 * fresh database in a temporary folder, and read back where it listens. Every test that needs a
 * hub process uses this, and must call `stop()` (or `kill()`) in an `after`/`finally`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * How long a test waits for something that is bound to happen (a line, an exit, a condition)
 * before calling it a hang. Only a hang guard, never a timing assertion: generous, so a loaded
 * machine (the suite runs two files at once on two cores) cannot eat it.
 */
export const HANG_GUARD_MS = 60_000;
export const CLI_ENTRY = join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface HubProcess {
  host: string;
  port: number;
  restPort: number | null;
  restUrl: string | null;
  db: string;
  dir: string;
  child: ChildProcess;
  /** stderr collected so far (for assertions and for failure messages). */
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit (simulates a crash). */
  kill(): Promise<void>;
  /** Resolves with the exit code when the process ends on its own. */
  exited: Promise<number | null>;
}

/** Folders made by makeTempDir in this test process, removed when it exits. */
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A new folder under the system's temp folder, removed when the test process exits (tests that
 * restart a hub on its database keep it until then; a test may remove it sooner itself).
 */
export function makeTempDir(prefix = 'mittelo-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export interface StartHubOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Reuse this database file (for restart tests); default: a new one in a temp folder. */
  db?: string;
  dir?: string;
  /** Ask for a REST port too (port 0). */
  rest?: boolean;
  /** How long to wait for the hub to say where it listens (default HANG_GUARD_MS). */
  timeoutMs?: number;
  /**
   * The `mittelo` to run, as program and arguments before `hub` (default: this node and
   * src/cli/main.ts): an installed package's bin, or bin/mittelo.js under another node.
   */
  command?: string[];
}

export async function startHubProcess(options: StartHubOptions = {}): Promise<HubProcess> {
  const dir = options.dir ?? makeTempDir();
  const db = options.db ?? join(dir, 'hub.db');
  const [program, ...entry] = options.command ?? [process.execPath, CLI_ENTRY];
  const args = [...entry, 'hub', '--port', '0', '--print-url', '--db', db, ...(options.args ?? [])];
  if (options.rest) args.push('--rest-port', '0');
  const child = spawn(program!, args, {
    cwd: dir,
    env: { ...process.env, MITTELO_TOKEN: '', MITTELO_DB: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));

  const urls = await new Promise<{ hub: URL; rest: URL | null }>((resolveUrls, reject) => {
    let hub: URL | null = null;
    const timeoutMs = options.timeoutMs ?? HANG_GUARD_MS;
    const timer = setTimeout(
      () => reject(new Error(`hub did not print its URL within ${timeoutMs} ms; stderr: ${stderr}`)),
      timeoutMs,
    );
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const [key, value] = line.split(' ');
      if (key === 'MITTELO_HUB' && value) hub = new URL(value);
      if (key === 'MITTELO_REST' && value && hub) {
        clearTimeout(timer);
        resolveUrls({ hub, rest: new URL(value) });
      }
      if (hub && !options.rest) {
        clearTimeout(timer);
        resolveUrls({ hub, rest: null });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hub exited with ${code} before listening; stderr: ${stderr}`));
    });
  });

  const cleanup = () => {
    if (!options.dir && !options.db) rmSync(dir, { recursive: true, force: true });
  };
  return {
    host: urls.hub.hostname,
    port: Number(urls.hub.port),
    restPort: urls.rest ? Number(urls.rest.port) : null,
    restUrl: urls.rest ? urls.rest.origin : null,
    db,
    dir,
    child,
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), HANG_GUARD_MS);
      const code = await exited;
      clearTimeout(timer);
      cleanup();
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Poll `check` until it returns a truthy value or `timeoutMs` passes (then throw `what`). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = HANG_GUARD_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

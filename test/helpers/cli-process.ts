/**
 * A long-running `mittelo` command (agent, swarm, run) as a child process: its output as it
 * comes, waiting for a line, signals, and a bounded wait for its exit. Tests must `kill()` every
 * one they start (in a finally or an after hook).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI_ENTRY, HANG_GUARD_MS } from './hub-process.ts';

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Wait until stderr matches (bounded); returns the match. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  exited: Promise<number | string | null>;
  /** Wait for the exit, at most `timeoutMs` (then SIGKILL and throw). */
  exit(timeoutMs?: number): Promise<number | string | null>;
  kill(signal?: NodeJS.Signals): void;
}

export function startCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): CliProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [
    'MITTELO_HOST',
    'MITTELO_PORT',
    'MITTELO_TOKEN',
    'MITTELO_DB',
    'MITTELO_BACKEND',
    'MITTELO_HUB',
    'MITTELO_TLS_CA',
  ])
    delete env[name];
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
    cwd: options.cwd,
    env: { ...env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    for (const watcher of watchers) watcher();
  });
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? signal)),
  );
  const describe = () => `mittelo ${args.join(' ')}\nstderr: ${stderr}\nstdout: ${stdout}`;
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStderr(pattern, timeoutMs = HANG_GUARD_MS) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = stderr.match(pattern);
          if (!match) return false;
          cleanup();
          resolve(match);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms from ${describe()}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        if (!check()) {
          watchers.add(check);
          void exited.then(() => {
            if (watchers.has(check) && !check()) {
              cleanup();
              reject(new Error(`exited without printing ${pattern}: ${describe()}`));
            }
          });
        }
      });
    },
    async exit(timeoutMs = HANG_GUARD_MS) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`did not exit within ${timeoutMs} ms: ${describe()}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

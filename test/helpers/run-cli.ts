/**
 * Run the real `mittelo` CLI as a child process (`node src/cli/main.ts ...args`) and collect its
 * exit code and output. MITTELO_* variables of the test runner's own environment are removed
 * first, so only what a test passes reaches the command. Every run is bounded.
 */
import { spawn } from 'node:child_process';
import { CLI_ENTRY, HANG_GUARD_MS } from './hub-process.ts';

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Extra environment (MITTELO_* from the test runner's own environment are removed first). */
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin (else stdin is empty). */
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

/** Run `mittelo ...args` and wait for it to exit (bounded). */
export function runCli(args: string[], options: RunOptions = {}): Promise<Ran> {
  return runProgram(process.execPath, [CLI_ENTRY, ...args], options);
}

/** Run any program the same way (bounded, MITTELO_* of the runner removed). */
export function runProgram(program: string, args: string[], options: RunOptions = {}): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [
    'MITTELO_HOST',
    'MITTELO_PORT',
    'MITTELO_TOKEN',
    'MITTELO_DB',
    'MITTELO_HUB',
    'MITTELO_TLS_CA',
  ])
    delete env[name];
  const child = spawn(program, args, {
    cwd: options.cwd,
    env: { ...env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  child.stdin.on('error', () => {}); // a command that exits before reading its stdin
  child.stdin.end(options.input ?? '');
  const timeoutMs = options.timeoutMs ?? HANG_GUARD_MS;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${program} ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${stderr}`),
      );
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

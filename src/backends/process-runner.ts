/**
 * The one place that spawns backend processes. Every run gets: the prompt on stdin, a timeout
 * after which its whole process tree is killed, an output cap (what is cut is counted, and the
 * process keeps running with its output drained so it cannot block on a full pipe), and
 * cancellation through an AbortSignal.
 *
 * Each child leads its own process group (`detached`), so killing `-pid` reaches the grandchildren
 * a CLI starts too; and because the group is ours alone, a terminal's Ctrl-C reaches the agent,
 * which decides how to stop, rather than every backend at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ProcessTrace } from './types.ts';

export interface ProcessSpec {
  command: string;
  args: readonly string[];
  /** Written to stdin, which is then closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string | undefined;
}

export interface ProcessLimits {
  timeoutMs: number;
  /** Per stream: stdout and stderr each keep at most this many bytes. */
  maxOutputBytes: number;
  signal?: AbortSignal;
  /** Sees stdout as it arrives (drivers watch for retry loops this way). */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export interface ProcessResult {
  /** null when the process was killed by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Bytes dropped past the cap. */
  stdoutCut: number;
  stderrCut: number;
  timedOut: boolean;
  /** Stopped because the caller's signal was aborted. */
  aborted: boolean;
  /** Set when the process could not be started at all (ENOENT, EACCES, ...). */
  spawnError: NodeJS.ErrnoException | null;
  durationMs: number;
}

/** After the main process exits, how long its output pipes may stay open (held by leftovers). */
const PIPE_CLOSE_GRACE_MS = 200;

class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  cut = 0;
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }

  push(chunk: Buffer): void {
    const room = this.limit - this.kept;
    if (room >= chunk.length) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
      return;
    }
    if (room > 0) {
      this.chunks.push(chunk.subarray(0, room));
      this.kept += room;
    }
    this.cut += chunk.length - Math.max(room, 0);
  }

  text(): string {
    return Buffer.concat(this.chunks, this.kept).toString('utf8');
  }
}

/** Kill a process and everything in its group; quiet when they are already gone. */
export function killTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

export function runProcess(spec: ProcessSpec, limits: ProcessLimits): Promise<ProcessResult> {
  const started = performance.now();
  const stdout = new CappedBuffer(limits.maxOutputBytes);
  const stderr = new CappedBuffer(limits.maxOutputBytes);
  let timedOut = false;
  let aborted = false;

  return new Promise((resolve) => {
    let settled = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError: Error | null) => {
      if (settled) return;
      settled = true;
      resolve({
        exitCode,
        signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        stdoutCut: stdout.cut,
        stderrCut: stderr.cut,
        timedOut,
        aborted,
        spawnError: spawnError as NodeJS.ErrnoException | null,
        durationMs: performance.now() - started,
      });
    };

    if (limits.signal?.aborted) {
      aborted = true;
      finish(null, null, null);
      return;
    }

    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, {
        env: spec.env,
        cwd: spec.cwd,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      finish(null, null, error as Error);
      return;
    }

    const stop = (why: 'timeout' | 'abort') => {
      if (why === 'timeout') timedOut = true;
      else aborted = true;
      killTree(child);
    };
    const timer = setTimeout(() => stop('timeout'), limits.timeoutMs);
    const onAbort = () => stop('abort');
    limits.signal?.addEventListener('abort', onAbort, { once: true });

    collect(child.stdout!, stdout, limits.onStdout);
    collect(child.stderr!, stderr, limits.onStderr);
    // A child that exits without reading its stdin makes our write fail with EPIPE: not an error.
    child.stdin!.on('error', () => {});
    child.stdin!.end(spec.input ?? '');

    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const cleanUp = () => {
      clearTimeout(timer);
      limits.signal?.removeEventListener('abort', onAbort);
    };

    child.once('error', (error) => {
      // Spawning failed (ENOENT, EACCES): there is no process to wait for.
      if (child.pid !== undefined) return;
      cleanUp();
      finish(null, null, error);
    });
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      // Whatever the backend left running in its group goes with it.
      killTree(child);
      // Leftovers outside the group may still hold the pipes open: do not wait on them forever.
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, PIPE_CLOSE_GRACE_MS).unref();
    });
    child.once('close', () => {
      cleanUp();
      const { code, signal } = exited ?? { code: child.exitCode, signal: child.signalCode };
      finish(code, signal, null);
    });
  });
}

/** The raw ending of a run as reports keep it. */
export function traceOf(result: ProcessResult): ProcessTrace {
  return {
    exit_code: result.exitCode,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    timed_out: result.timedOut,
    duration_ms: Math.round(result.durationMs),
  };
}

function collect(stream: Readable, into: CappedBuffer, watcher: ((chunk: Buffer) => void) | undefined): void {
  stream.on('data', (chunk: Buffer) => {
    into.push(chunk);
    watcher?.(chunk);
  });
  stream.on('error', () => {});
}

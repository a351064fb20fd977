/**
 * The shared process runner: prompt on stdin, output capture and cap, timeouts that kill the whole
 * process tree, cancellation, and what a process that cannot start looks like. Real processes.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runProcess } from '../../src/backends/process-runner.ts';
import { HANG_GUARD_MS, makeTempDir, waitFor } from '../helpers/hub-process.ts';
import { isAlive } from '../helpers/processes.ts';

const limits = { timeoutMs: HANG_GUARD_MS, maxOutputBytes: 1024 * 1024 };
const dir = makeTempDir('mittelo-runner-');
after(() => rmSync(dir, { recursive: true, force: true }));

describe('runProcess', () => {
  it('passes the input on stdin and returns stdout, stderr and the exit code', async () => {
    const result = await runProcess(
      { command: '/bin/sh', args: ['-c', 'tr a-z A-Z; echo oops >&2; exit 3'], input: 'hello' },
      limits,
    );
    assert.equal(result.stdout, 'HELLO');
    assert.equal(result.stderr, 'oops\n');
    assert.equal(result.exitCode, 3);
    assert.equal(result.timedOut, false);
    assert.equal(result.spawnError, null);
  });

  it('kills the whole process tree at the timeout', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const result = await runProcess(
      { command: '/bin/sh', args: ['-c', `sleep 30 & echo $! > ${pidFile}; wait`] },
      { ...limits, timeoutMs: 300 },
    );
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => !isAlive(grandchild), `the grandchild sleep (${grandchild}) to be gone`);
  });

  it('caps a flood of output, counts what was cut, and lets the process finish', async () => {
    const result = await runProcess(
      { command: '/bin/sh', args: ['-c', 'head -c 3000000 /dev/zero | tr "\\0" x; echo done >&2'] },
      { ...limits, maxOutputBytes: 1000 },
    );
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout.length, 1000);
    assert.equal(result.stdoutCut, 3_000_000 - 1000);
    assert.equal(result.stderr, 'done\n', 'the process ran to its end');
  });

  it('stops at once when the signal is aborted', async () => {
    const controller = new AbortController();
    const running = runProcess({ command: 'sleep', args: ['30'] }, { ...limits, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const result = await running;
    assert.equal(result.aborted, true);
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(result.durationMs < 10_000);
  });

  it('reports a program that does not exist as a spawn error', async () => {
    const result = await runProcess({ command: 'mittelo-no-such-program', args: [] }, limits);
    assert.equal(result.spawnError?.code, 'ENOENT');
    assert.equal(result.exitCode, null);
  });

  it('does not wait for a background process the backend leaves behind, and kills it', async () => {
    const pidFile = join(dir, 'leftover.pid');
    const result = await runProcess(
      { command: '/bin/sh', args: ['-c', `sleep 30 & echo $! > ${pidFile}; echo answer`] },
      limits,
    );
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, 'answer\n');
    const leftover = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => !isAlive(leftover), `the leftover sleep (${leftover}) to be gone`);
  });

  it('passes the environment and working directory it is given', async () => {
    const result = await runProcess(
      {
        command: '/bin/sh',
        args: ['-c', 'echo "$GREETING $(pwd)"'],
        env: { GREETING: 'hi', PATH: process.env.PATH },
        cwd: dir,
      },
      limits,
    );
    assert.equal(result.stdout.trim(), `hi ${dir}`);
  });
});

/**
 * The promise of a mixed swarm: one logged-out backend does not eat the queue. With a fake
 * `claude` that is not logged in, echo agents finish the pack while `mittelo status` shows the
 * claude agent unhealthy with its fix — whether the login is missing at start (preflight) or only
 * shows when a run fails.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { ResultRecord } from '../../src/run/results.ts';
import { startCli } from '../helpers/cli-process.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { HANG_GUARD_MS, makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const dir = makeTempDir('mittelo-mixed-');
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const FIX = 'run `claude` once and `/login`, or set ANTHROPIC_API_KEY';

describe('mixed swarm with a logged-out claude', () => {
  it('swarm: echo finishes everything; status shows the claude agent unhealthy with the fix', async () => {
    const hub = await startHubProcess();
    const client = new HubClient({ port: hub.port, reconnect: false });
    const swarm = startCli(
      ['swarm', '--port', String(hub.port), '--agent', 'echo=2', '--agent', 'claude_code=1'],
      {
        env: fakeCliEnv('success', dir, { FAKE_CLI_LOGGED_IN: '0' }),
      },
    );
    cleanups.push(
      () => hub.stop(),
      () => client.close(),
      () => swarm.kill(),
    );
    await swarm.waitForStderr(/\[claude_code\] fail: Claude Code is not logged in/);
    const ids = await client.enqueueMany(Array.from({ length: 20 }, (_, i) => `task ${i}`));
    const { tasks } = await client.wait(ids, { timeout_ms: HANG_GUARD_MS });
    assert.ok(tasks.every((t) => t.status === 'done' && t.result?.startsWith('echo:')));
    const status = await waitFor(async () => {
      const ran = await runCli(['status', '--port', String(hub.port)]);
      return /claude_code-1 +claude_code +connected +UNHEALTHY/.test(ran.stdout) ? ran.stdout : null;
    }, 'the claude agent listed unhealthy');
    assert.match(
      status ?? '',
      new RegExp(
        `claude_code: Claude Code is not logged in: .*\\n {2}fix: ${FIX.replace(/[`()/]/g, '\\$&')}`,
      ),
    );
    swarm.kill('SIGTERM');
    assert.equal(await swarm.exit(), 0);
  });

  it('run: tasks the claude agent took and could not do go back to the queue; the run exits 0', async () => {
    const pack = join(dir, 'pack.jsonl');
    writeFileSync(
      pack,
      `${Array.from({ length: 30 }, (_, i) => JSON.stringify({ prompt: `p${i}` })).join('\n')}\n`,
    );
    const out = join(dir, 'results.jsonl');
    // The key makes the preflight pass; the run itself then says "Not logged in".
    const ran = await runCli(
      [
        'run',
        pack,
        '--agent',
        'claude_code=1',
        '--agent',
        'echo=1',
        '--max-tasks',
        '4',
        '--out',
        out,
        '--db',
        join(dir, 'run.db'),
      ],
      { cwd: dir, env: fakeCliEnv('auth', dir, { ANTHROPIC_API_KEY: 'sk-ant-rejected' }) },
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /30 tasks: 30 done, 0 failed/);
    assert.match(
      ran.stderr,
      /backend claude_code cannot run tasks \(auth: Claude Code exited with code 1: Not logged in/,
    );
    const records = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ResultRecord);
    assert.equal(records.length, 30);
    assert.ok(records.every((r) => r.status === 'done' && r.backend === 'echo'));
  });
});

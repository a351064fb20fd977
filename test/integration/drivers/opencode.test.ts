/**
 * The opencode driver end to end: a real hub, a real agent process, and a fake `opencode` on PATH
 * that mimics the real CLI's flags and outputs. Success with usage and no key at all (the default
 * models need none); the API unreachable (given up early on the logged stream errors); a
 * read-only HOME (task released, agent unhealthy, the fix names MITTELO_SUBPROCESS_HOME); and
 * backend-check's warning for a keyed provider's model without a key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DriverBench, untilUnhealthy } from '../../helpers/driver-agent.ts';
import { fakeCliEnv } from '../../helpers/fake-cli.ts';
import { HANG_GUARD_MS, waitFor } from '../../helpers/hub-process.ts';
import { runCli } from '../../helpers/run-cli.ts';

const bench = new DriverBench();
const home = bench.home;

async function hubWithAgent(mode: string, extra: NodeJS.ProcessEnv = {}) {
  return bench.start(
    'opencode',
    `opencode-${mode}`,
    fakeCliEnv(mode, home, { FAKE_CLI_LOGGED_IN: '0', ...extra }),
  );
}

describe('driver opencode (fake opencode on PATH)', () => {
  it('with no credentials at all, answers with the text parts and the summed usage of the steps', async () => {
    const { client } = await hubWithAgent('success', { MITTELO_OPENCODE_MODEL: 'opencode/big-pickle' });
    const id = await client.enqueue({ prompt: 'say hi', backend: 'opencode' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'done', task.error ?? '');
    assert.equal(
      task.result,
      'looking\nopencode(opencode/big-pickle) answers: say hi',
      'the prompt went in on stdin, the model from MITTELO_OPENCODE_MODEL',
    );
    assert.equal(task.usage?.input_tokens, 30);
    assert.equal(task.usage?.output_tokens, 7);
    assert.equal(task.usage?.cache_read_input_tokens, 12);
    assert.ok(Math.abs((task.usage?.cost_usd as number) - 0.003) < 1e-9);
    assert.equal(task.usage?.session_id, 'ses_4a1b2c3d4e5fAbCdEfGhIjKlMn');
  });

  it('API unreachable: stops on the logged stream errors and fails the task with kind network', async () => {
    const { client } = await hubWithAgent('network');
    const started = Date.now();
    const id = await client.enqueue({ prompt: 'say hi', backend: 'opencode', timeout_s: 600 });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'failed');
    assert.equal(task.error_kind, 'network');
    assert.match(task.error!, /opencode: the API cannot be reached .*stopped after/);
    assert.match(task.error_fix!, /check the network connection/);
    assert.ok(Date.now() - started < 15_000, 'well before the task timeout');
  });

  it('read-only HOME: releases the task and reports the agent unhealthy, pointing at MITTELO_SUBPROCESS_HOME', async () => {
    const { client, agent } = await hubWithAgent('erofs');
    const id = await client.enqueue({ prompt: 'say hi', backend: 'opencode' });
    const info = await untilUnhealthy(client, 'opencode-erofs');
    assert.match(
      info!.reason!,
      /opencode: config: opencode exited with code 1: EROFS: read-only file system/,
    );
    assert.match(info!.fix!, /MITTELO_SUBPROCESS_HOME/);
    const task = await waitFor(async () => {
      const current = await client.get(id);
      return current.status === 'queued' && current.error_kind === 'config' ? current : null;
    }, 'the task back in the queue');
    assert.equal(task!.attempts, 0, 'a release is not an attempt');
    await agent.waitForStderr(/leases nothing until the backend is ready/);
  });

  it("backend-check: ready without keys, but warns when a keyed provider's model has no key", async () => {
    const env = fakeCliEnv('success', home, { FAKE_CLI_LOGGED_IN: '0' });
    const plain = await runCli(['backend-check', '--backend', 'opencode'], { env });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /opencode: ready/);
    const keyed = await runCli(['backend-check', '--backend', 'opencode', '--model', 'openai/gpt-x'], {
      env,
    });
    assert.equal(keyed.code, 0, 'a warning, not a failure');
    assert.match(keyed.stdout, /warn: the model openai\/gpt-x needs a key for openai/);
    assert.match(keyed.stdout, /fix: set the provider's API key/);
  });
});

/**
 * The codex driver end to end: a real hub, a real agent process, and a fake `codex` on PATH that
 * mimics the real CLI's flags and outputs. Success with usage; a codex that is not logged in
 * (preflight keeps the agent from leasing, and says how to log in); a key the API rejects (task
 * released, agent unhealthy); and the endless offline retry loop, given up early.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DriverBench, untilUnhealthy } from '../../helpers/driver-agent.ts';
import { fakeCliEnv } from '../../helpers/fake-cli.ts';
import { HANG_GUARD_MS, waitFor } from '../../helpers/hub-process.ts';
import { runCli } from '../../helpers/run-cli.ts';

const LOGIN_FIX = 'run `codex login` (or export OPENAI_API_KEY=...)';
const bench = new DriverBench();
const home = bench.home;

async function hubWithAgent(mode: string, extra: NodeJS.ProcessEnv = {}) {
  return bench.start(
    'codex',
    `codex-${mode}`,
    fakeCliEnv(mode, home, { OPENAI_API_KEY: 'sk-test', ...extra }),
  );
}

describe('driver codex (fake codex on PATH)', () => {
  it('answers with the last agent message, the usage of turn.completed and the thread id', async () => {
    const { client } = await hubWithAgent('success', { MITTELO_CODEX_MODEL: 'gpt-test' });
    const id = await client.enqueue({ prompt: 'say hi', backend: 'codex' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'done', task.error ?? '');
    assert.equal(
      task.result,
      'codex(gpt-test) answers: say hi',
      'the prompt went in on stdin, the model from MITTELO_CODEX_MODEL',
    );
    assert.equal(task.usage?.input_tokens, 11);
    assert.equal(task.usage?.cached_input_tokens, 3);
    assert.equal(task.usage?.output_tokens, 6);
    assert.equal(task.usage?.session_id, '019b2c3d-0000-7000-8000-000000000001');
  });

  it('not logged in: preflight keeps the agent from leasing and reports it unhealthy with the fix', async () => {
    const { hub, client } = await hubWithAgent('success', { OPENAI_API_KEY: '', FAKE_CLI_LOGGED_IN: '0' });
    const id = await client.enqueue({ prompt: 'say hi', backend: 'codex' });
    const info = await untilUnhealthy(client, 'codex-success');
    assert.match(
      info!.reason!,
      /codex: Codex is not logged in: none of OPENAI_API_KEY, CODEX_API_KEY is set; no \.codex\/auth\.json; `codex login status` does not say logged in/,
    );
    assert.equal(info!.fix, LOGIN_FIX);
    const task = await client.get(id);
    assert.equal(task.status, 'queued', 'nothing was leased');
    assert.equal(task.attempts, 0);
    const status = await runCli(['status', '--port', String(hub.port)]);
    assert.match(status.stdout, /codex-success +codex +connected +UNHEALTHY/);
  });

  it('a key the API rejects: releases the task and reports the agent unhealthy with the fix', async () => {
    const { client, agent } = await hubWithAgent('auth');
    const id = await client.enqueue({ prompt: 'say hi', backend: 'codex' });
    const info = await untilUnhealthy(client, 'codex-auth');
    assert.match(info!.reason!, /codex: auth: Codex exited with code 1: unexpected status 401 Unauthorized/);
    assert.equal(info!.fix, 'run `codex login` (or set OPENAI_API_KEY / CODEX_API_KEY)');
    const task = await waitFor(async () => {
      const current = await client.get(id);
      return current.status === 'queued' && current.error_kind === 'auth' ? current : null;
    }, 'the task back in the queue');
    assert.equal(task!.attempts, 0, 'a release is not an attempt');
    await agent.waitForStderr(/leases nothing until the backend is ready/);
  });

  it('network down: stops the endless Reconnecting loop early and fails the task with kind network', async () => {
    const { client } = await hubWithAgent('network');
    const started = Date.now();
    const id = await client.enqueue({ prompt: 'say hi', backend: 'codex', timeout_s: 600 });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'failed');
    assert.equal(task.error_kind, 'network');
    assert.match(
      task.error!,
      /the API cannot be reached \(codex keeps retrying: Reconnecting\.\.\.\).*stopped after/,
    );
    assert.match(task.error_fix!, /check the network connection to api\.openai\.com/);
    assert.ok(Date.now() - started < 15_000, 'well before the task timeout');
  });
});

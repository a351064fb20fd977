/**
 * The gemini driver end to end: a real hub, a real agent process, and a fake `gemini` on PATH that
 * mimics the real CLI's flags and outputs (it exits 55 without --skip-trust, 41 without auth).
 * Success with usage; a run refused for auth (task released, agent unhealthy with the fix); a
 * network retry loop given up early; and the preflight of a gemini with no auth.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DriverBench, untilReleased, untilUnhealthy } from '../../helpers/driver-agent.ts';
import { fakeCliEnv } from '../../helpers/fake-cli.ts';
import { HANG_GUARD_MS } from '../../helpers/hub-process.ts';
import { runCli } from '../../helpers/run-cli.ts';

const bench = new DriverBench();
const home = bench.home;

const LOGIN_FIX =
  'set GEMINI_API_KEY (or GOOGLE_API_KEY, or Vertex: GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT/GOOGLE_CLOUD_LOCATION), or choose an auth method in ~/.gemini/settings.json';

async function hubWithAgent(mode: string, extra: NodeJS.ProcessEnv = {}) {
  return bench.start(
    'gemini',
    `gemini-${mode}`,
    fakeCliEnv(mode, home, { GEMINI_API_KEY: 'test-key', ...extra }),
  );
}

describe('driver gemini (fake gemini on PATH)', () => {
  it('answers with the JSON response and its usage, the prompt on stdin and --skip-trust passed', async () => {
    const { client } = await hubWithAgent('success', {
      MITTELO_GEMINI_MODEL: 'flash-test',
    });
    const id = await client.enqueue({ prompt: 'say hi', backend: 'gemini' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'done', task.error ?? '');
    // A shared workspace's default level, read, is gemini's plan (read-only) approval mode.
    assert.equal(task.result, 'gemini(flash-test, plan) answers: say hi');
    assert.equal(task.usage?.input_tokens, 7);
    assert.equal(task.usage?.output_tokens, 5);
    assert.equal(task.usage?.model, 'flash-test');
    assert.equal(task.usage?.session_id, '8a2f6c1e-0000-4000-8000-000000000001');
  });

  it('auth refused (exit 41): releases the task, reports the agent unhealthy with the fix', async () => {
    const { hub, client, agent } = await hubWithAgent('auth');
    const id = await client.enqueue({ prompt: 'say hi', backend: 'gemini' });
    const info = await untilUnhealthy(client, 'gemini-auth');
    assert.match(info!.reason!, /gemini: auth: Gemini CLI exited with code 41: Please set an Auth method/);
    assert.equal(info!.fix, LOGIN_FIX);
    const task = await untilReleased(client, id);
    assert.equal(task.attempts, 0, 'a release is not an attempt');
    assert.equal(task.error_kind, 'auth');
    assert.equal(task.error_fix, LOGIN_FIX);
    await agent.waitForStderr(/leases nothing until the backend is ready/);
    const status = await runCli(['status', '--port', String(hub.port)]);
    assert.match(status.stdout, /gemini-auth +gemini +connected +UNHEALTHY/);
  });

  it('network down: gives up on the `Attempt N failed` loop early and fails the task with kind network', async () => {
    const { client } = await hubWithAgent('network');
    const id = await client.enqueue({ prompt: 'say hi', backend: 'gemini', timeout_s: 600 });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'failed');
    assert.equal(task.error_kind, 'network');
    assert.match(task.error!, /the Gemini API cannot be reached .*stopped after [\d.]+ s more of retrying/);
    assert.match(task.error!, /fetch failed sending request/);
    assert.match(task.error_fix!, /check the network connection to the Gemini API/);
  });

  it('with --require-ready, a gemini with no auth refuses to start, printing the fix', async () => {
    const ran = await runCli(['agent', '--backend', 'gemini', '--require-ready', '--port', '1'], {
      env: fakeCliEnv('success', home),
    });
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(
      ran.stderr,
      /\[gemini\] fail: Gemini CLI is not logged in: none of GEMINI_API_KEY, GOOGLE_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA is set/,
    );
    assert.match(ran.stderr, /fix: export GEMINI_API_KEY=\.\.\. \(https:\/\/aistudio\.google\.com\/apikey\)/);
  });
});

/**
 * The kimi driver end to end: a real hub, a real agent process, and a fake `kimi` on PATH that
 * mimics kimi-cli's print mode (prompt on stdin, stream-json messages). Success; a kimi with no
 * model configured (`LLM not set`: task released, agent unhealthy with the setup fix); a network
 * failure; and the preflight of a kimi with neither key nor config.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DriverBench, untilReleased, untilUnhealthy } from '../../helpers/driver-agent.ts';
import { fakeCliEnv } from '../../helpers/fake-cli.ts';
import { HANG_GUARD_MS } from '../../helpers/hub-process.ts';
import { runCli } from '../../helpers/run-cli.ts';

const bench = new DriverBench();
const home = bench.home;

const SETUP_FIX =
  'run `kimi` once interactively and pick a provider and model (`/login`), or export KIMI_BASE_URL, KIMI_API_KEY and KIMI_MODEL_NAME for the agent';

async function hubWithAgent(mode: string, extra: NodeJS.ProcessEnv = {}) {
  return bench.start('kimi', `kimi-${mode}`, fakeCliEnv(mode, home, { KIMI_API_KEY: 'sk-test', ...extra }));
}

describe('driver kimi (fake kimi on PATH)', () => {
  it('answers with the last assistant message, the prompt on stdin and the model from MITTELO_KIMI_MODEL', async () => {
    const { client } = await hubWithAgent('success', { MITTELO_KIMI_MODEL: 'k2-test' });
    const id = await client.enqueue({ prompt: 'say hi', backend: 'kimi' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'done', task.error ?? '');
    assert.equal(task.result, 'kimi(k2-test) answers: say hi');
  });

  it('no model configured (`LLM not set`): releases the task, reports the agent unhealthy with the setup fix', async () => {
    const { hub, client, agent } = await hubWithAgent('config');
    const id = await client.enqueue({ prompt: 'say hi', backend: 'kimi' });
    const info = await untilUnhealthy(client, 'kimi-config');
    assert.match(info!.reason!, /kimi: config: Kimi CLI exited with code 1: LLM not set/);
    assert.equal(info!.fix, SETUP_FIX);
    const task = await untilReleased(client, id);
    assert.equal(task.attempts, 0, 'a release is not an attempt');
    assert.equal(task.error_kind, 'config');
    await agent.waitForStderr(/leases nothing until the backend is ready/);
    const status = await runCli(['status', '--port', String(hub.port)]);
    assert.match(status.stdout, /kimi-config +kimi +connected +UNHEALTHY/);
  });

  it('network down: fails the task with kind network', async () => {
    const { client } = await hubWithAgent('network');
    const id = await client.enqueue({ prompt: 'say hi', backend: 'kimi' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'failed');
    assert.equal(task.error_kind, 'network');
    assert.match(task.error!, /Kimi CLI exited with code 75: Connection error\./);
  });

  it('with --require-ready, a kimi with neither key nor config refuses to start, printing the fix', async () => {
    const ran = await runCli(['agent', '--backend', 'kimi', '--require-ready', '--port', '1'], {
      env: fakeCliEnv('success', home),
    });
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(
      ran.stderr,
      /\[kimi\] fail: Kimi CLI is not logged in: none of KIMI_API_KEY is set; no \.kimi\/config\.toml or \.kimi\/config\.json/,
    );
    assert.match(ran.stderr, /kimi has no model to run: there is no .*config\.toml/);
    assert.ok(ran.stderr.includes(`fix: ${SETUP_FIX}`), ran.stderr);
  });
});

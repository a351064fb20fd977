/**
 * The mlx driver end to end: a real hub, a real agent process, and MITTELO_MLX_PYTHON pointing at
 * a fake interpreter (test/fixtures/fake-clis/python-mlx) that mimics `python -m mlx_lm.generate`.
 * The runs skip the preflight (--no-preflight), since off Apple silicon it refuses — which the
 * last tests check: the clear platform message, at start-up and on the hub.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isAppleSilicon } from '../../../src/backends/drivers/mlx.ts';
import { DriverBench, untilReleased, untilUnhealthy } from '../../helpers/driver-agent.ts';
import { FAKE_CLIS, fakeCliEnv } from '../../helpers/fake-cli.ts';
import { HANG_GUARD_MS } from '../../helpers/hub-process.ts';
import { runCli } from '../../helpers/run-cli.ts';

const FAKE_PYTHON = join(FAKE_CLIS, 'python-mlx');
const appleSilicon = isAppleSilicon(process);
const platformMessage = `MLX needs Apple silicon (this machine is ${process.platform}/${process.arch})`;
const bench = new DriverBench();
const home = bench.home;

const mlxEnv = (mode: string, extra: NodeJS.ProcessEnv = {}) =>
  fakeCliEnv(mode, home, { MITTELO_MLX_PYTHON: FAKE_PYTHON, MITTELO_MLX_MODEL: '', ...extra });

async function hubWithAgent(mode: string, args: string[], extra: NodeJS.ProcessEnv = {}) {
  return bench.start('mlx', `mlx-${mode}`, mlxEnv(mode, extra), args);
}

describe('driver mlx (fake interpreter in MITTELO_MLX_PYTHON)', () => {
  it('answers with the generated text, the prompt read from stdin, and the token counts', async () => {
    const { client } = await hubWithAgent('success', [
      '--no-preflight',
      '--model',
      'mlx-community/Flag-4bit',
    ]);
    const id = await client.enqueue({ prompt: 'say hi', backend: 'mlx' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'done', task.error ?? '');
    assert.equal(task.result, 'mlx(mlx-community/Flag-4bit, 1024) answers: say hi');
    assert.equal(task.usage?.input_tokens, 31);
    assert.equal(task.usage?.output_tokens, 9);
  });

  it('mlx-lm missing: releases the task and reports the agent unhealthy with the pip fix', async () => {
    const { client, agent } = await hubWithAgent('not_installed', ['--no-preflight']);
    const id = await client.enqueue({ prompt: 'say hi', backend: 'mlx' });
    const info = await untilUnhealthy(client, 'mlx-not_installed');
    assert.match(
      info!.reason!,
      /mlx: not_installed: MLX \(mlx-lm\) exited with code 1: .*No module named 'mlx_lm'/,
    );
    assert.equal(
      info!.fix,
      `${FAKE_PYTHON} -m pip install -U mlx-lm (in the Python that runs it; MITTELO_MLX_PYTHON picks another Python)`,
    );
    const task = await untilReleased(client, id);
    assert.equal(task.attempts, 0, 'a release is not an attempt');
    assert.equal(task.error_kind, 'not_installed');
    await agent.waitForStderr(/leases nothing until the backend is ready/);
  });

  it('model download impossible (offline): fails the task with kind network', async () => {
    const { client } = await hubWithAgent('network', ['--no-preflight']);
    const id = await client.enqueue({ prompt: 'say hi', backend: 'mlx' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'failed');
    assert.equal(task.error_kind, 'network');
    assert.match(task.error!, /LocalEntryNotFoundError/);
    assert.match(task.error_fix!, /downloaded from huggingface\.co on first use/);
  });

  it('off Apple silicon, --require-ready refuses to start with the platform message and the openai fix', {
    skip: appleSilicon && 'this machine is Apple silicon',
  }, async () => {
    const ran = await runCli(['agent', '--backend', 'mlx', '--require-ready', '--port', '1'], {
      env: mlxEnv('success'),
    });
    assert.equal(ran.code, 1, ran.stderr);
    assert.ok(ran.stderr.includes(`[mlx] fail: ${platformMessage}`), ran.stderr);
    assert.ok(
      ran.stderr.includes(
        "fix: use the `openai` driver with llama.cpp's llama-server or Ollama instead (see docs/MLX_GUIDE.md)",
      ),
      ran.stderr,
    );
    assert.doesNotMatch(ran.stderr, /\n\s+at /, 'a message, not a stack trace');
  });

  it('off Apple silicon, an agent reports itself unhealthy with the platform message and leases nothing', {
    skip: appleSilicon && 'this machine is Apple silicon',
  }, async () => {
    const { client } = await hubWithAgent('success', []);
    const id = await client.enqueue({ prompt: 'say hi', backend: 'mlx' });
    const info = await untilUnhealthy(client, 'mlx-success');
    assert.equal(info!.reason, `mlx: ${platformMessage}`);
    assert.match(info!.fix!, /use the `openai` driver/);
    const task = await client.get(id);
    assert.equal(task.status, 'queued');
  });
});

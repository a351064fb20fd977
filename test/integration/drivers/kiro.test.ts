/**
 * The kiro driver end to end: a real hub, a real agent process, and a fake `kiro-cli` on PATH that
 * mimics `kiro-cli chat --no-interactive` and `kiro-cli whoami`. Success with no tools trusted;
 * all tools trusted, run in `.mittelo/work/kiro`; a run that is not logged in (task released,
 * agent unhealthy with the device-flow fix); and the preflight of a logged-out kiro-cli.
 */
import assert from 'node:assert/strict';
import { existsSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HubClient } from '../../../src/client/hub-client.ts';
import { DriverBench, untilReleased, untilUnhealthy } from '../../helpers/driver-agent.ts';
import { fakeCliEnv } from '../../helpers/fake-cli.ts';
import { HANG_GUARD_MS, makeTempDir } from '../../helpers/hub-process.ts';
import { runCli } from '../../helpers/run-cli.ts';

const bench = new DriverBench();
const home = bench.home;
const place = makeTempDir('mittelo-kiro-cwd-');
bench.defer(() => rmSync(place, { recursive: true, force: true }));

async function hubWithAgent(mode: string, extra: NodeJS.ProcessEnv = {}, cwd?: string, args: string[] = []) {
  return bench.start('kiro', `kiro-${mode}`, fakeCliEnv(mode, home, extra), args, cwd);
}

async function runOne(client: HubClient, prompt: string) {
  const id = await client.enqueue({ prompt, backend: 'kiro' });
  const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
  return tasks[0]!;
}

describe('driver kiro (fake kiro-cli on PATH)', () => {
  it('answers with its stdout, the prompt as an argument, only fs_read trusted (read), the model from MITTELO_KIRO_MODEL', async () => {
    const { client } = await hubWithAgent('success', { MITTELO_KIRO_MODEL: 'claude-test' }, place);
    const task = await runOne(client, 'say hi');
    assert.equal(task.status, 'done', task.error ?? '');
    assert.equal(task.result, `kiro(claude-test, trust=fs_read) in ${realpathSync(place)} answers: say hi`);
    const dashed = await runOne(client, '--version please');
    assert.match(
      dashed.result ?? '',
      /answers: --version please$/,
      'a prompt starting with - stays the prompt',
    );
  });

  it('with --permissions full it trusts every tool and runs in .mittelo/work/kiro', async () => {
    const { client } = await hubWithAgent('success', {}, place, ['--permissions', 'full']);
    const task = await runOne(client, 'say hi');
    assert.equal(task.status, 'done', task.error ?? '');
    const workdir = join(realpathSync(place), '.mittelo', 'work', 'kiro');
    assert.equal(task.result, `kiro(default, trust=all) in ${workdir} answers: say hi`);
    assert.ok(existsSync(workdir));
  });

  it('not logged in: releases the task, reports the agent unhealthy with the device-flow fix', async () => {
    const { hub, client, agent } = await hubWithAgent('auth', {}, place);
    const id = await client.enqueue({ prompt: 'say hi', backend: 'kiro' });
    const info = await untilUnhealthy(client, 'kiro-auth');
    assert.match(info!.reason!, /kiro: auth: Kiro CLI exited with code 1: error: You are not logged in/);
    assert.match(
      info!.fix!,
      /OAuth portal init fails when callback ports are blocked: use `kiro-cli login --use-device-flow`/,
    );
    const task = await untilReleased(client, id);
    assert.equal(task.attempts, 0, 'a release is not an attempt');
    assert.equal(task.error_kind, 'auth');
    await agent.waitForStderr(/leases nothing until the backend is ready/);
    const status = await runCli(['status', '--port', String(hub.port)]);
    assert.match(status.stdout, /kiro-auth +kiro +connected +UNHEALTHY/);
  });

  it('with --require-ready, a logged-out kiro-cli refuses to start; MITTELO_KIRO_DEVICE_FLOW=1 names the device flow', async () => {
    const ran = await runCli(['agent', '--backend', 'kiro', '--require-ready', '--port', '1'], {
      env: fakeCliEnv('success', home, { FAKE_CLI_LOGGED_IN: '0', MITTELO_KIRO_DEVICE_FLOW: '1' }),
      cwd: place,
    });
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(
      ran.stderr,
      /\[kiro\] fail: Kiro CLI is not logged in: none of KIRO_API_KEY is set; `kiro-cli whoami` does not say logged in/,
    );
    assert.match(
      ran.stderr,
      /fix: kiro-cli login --use-device-flow \(or export KIRO_API_KEY=\.\.\. for headless use\)/,
    );
  });
});

/**
 * The driver runner on its own, with a made-up driver around `sh`: early failure on retry signals
 * (and recovery when the CLI gets through), a CLI that is not installed, and where the model
 * comes from. Real processes; no vendor CLI needed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driverBackend, driverContext, runDriver } from '../../src/backends/drivers/driver-backend.ts';
import type { DriverSpec } from '../../src/backends/drivers/types.ts';
import type { BackendOutcome } from '../../src/backends/types.ts';

function shDriver(script: string, overrides: Partial<DriverSpec> = {}): DriverSpec {
  return {
    name: 'sh_test',
    title: 'Test CLI',
    binaries: ['sh'],
    modelEnv: 'MITTELO_SH_TEST_MODEL',
    invocation: () => ({ args: ['-c', script], input: '' }),
    parse: (stdout) => ({ text: stdout.trim().split('\n').at(-1) ?? '' }),
    rules: [],
    signals: [
      { kind: 'network', pattern: /RETRY/, message: 'the API cannot be reached', fix: 'check the network' },
    ],
    versionArgs: ['-c', 'echo 1.0.0'],
    requiredFlags: [],
    setup: ['install the test CLI'],
    ...overrides,
  };
}

function run(spec: DriverSpec, earlyFailureMs: number, timeoutMs = 20_000): Promise<BackendOutcome> {
  return runDriver(
    spec,
    { earlyFailureMs },
    { task_id: 1, prompt: 'p', worker_id: 'w' },
    { signal: new AbortController().signal, timeoutMs, maxOutputBytes: 1 << 20 },
  );
}

describe('driver runner', () => {
  it('stops a CLI that keeps retrying after the grace period, with the signal kind and its evidence', async () => {
    const started = Date.now();
    const outcome = await run(
      shDriver('echo starting; while true; do echo "RETRY attempt" >&2; sleep 0.05; done'),
      300,
    );
    assert.equal(outcome.ok, false);
    if (outcome.ok) return;
    assert.equal(outcome.kind, 'network');
    assert.match(
      outcome.error,
      /the API cannot be reached; stopped after 0\.3 s more of retrying .* Last sign: RETRY attempt/,
    );
    assert.equal(outcome.fix, 'check the network');
    assert.ok(Date.now() - started < 10_000, 'long before the task timeout');
  });

  it('leaves alone a CLI that retried and then got through (progress on stdout)', async () => {
    const outcome = await run(
      shDriver('echo RETRY; sleep 0.2; echo working; sleep 0.6; echo the answer'),
      400,
    );
    assert.deepEqual(outcome, { ok: true, output: 'the answer' });
  });

  it('reports a CLI that is not on PATH as not_installed with its install step', async () => {
    const outcome = await run(shDriver('true', { binaries: ['mittelo-no-such-cli'] }), 1000);
    assert.deepEqual(outcome, {
      ok: false,
      kind: 'not_installed',
      error: 'Test CLI is not installed: no mittelo-no-such-cli on PATH',
      fix: 'install the test CLI',
    });
  });

  it('takes the model from --model, else from the driver variable', () => {
    const spec = shDriver('true');
    const env = { MITTELO_SH_TEST_MODEL: 'from-env' };
    assert.equal(driverContext(spec, { env }).model, 'from-env');
    assert.equal(driverContext(spec, { env, model: 'from-flag' }).model, 'from-flag');
    assert.equal(driverContext(spec, { env: {} }).model, undefined);
  });

  it('exposes the setup steps and a preflight that finds the binary and its version', async () => {
    const backend = driverBackend(shDriver('true'), { env: process.env });
    assert.deepEqual(backend.setup, ['install the test CLI']);
    const report = await backend.preflight();
    assert.equal(report.ready, true, JSON.stringify(report));
    assert.equal(report.details?.version, '1.0.0');
    assert.equal(report.details?.auth, 'none needed');
  });
});

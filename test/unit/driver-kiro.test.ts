/**
 * The kiro driver's parts the recorded outputs do not reach: the command line, where it runs with
 * all tools trusted, the device-flow wording of its fixes, and its unverified rules.
 */
import assert from 'node:assert/strict';
import { realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { classify } from '../../src/backends/classify.ts';
import { driverContext } from '../../src/backends/drivers/driver-backend.ts';
import { kiro, kiroSpec } from '../../src/backends/drivers/kiro.ts';
import { makeTempDir } from '../helpers/hub-process.ts';

const temp = makeTempDir('mittelo-kiro-unit-');
const started = process.cwd();
after(() => {
  process.chdir(started);
  rmSync(temp, { recursive: true, force: true });
});

const context = (env: NodeJS.ProcessEnv, model?: string) => driverContext(kiro, { env, model });

describe('kiro invocation', () => {
  it('chats without interaction or wrapping, trusting no tools, the prompt as the last argument', () => {
    const run = kiro.invocation('say hi', context({ MITTELO_KIRO_MODEL: 'claude-x' }));
    assert.deepEqual(run.args, [
      'chat',
      '--no-interactive',
      '--wrap',
      'never',
      '--model',
      'claude-x',
      // No level given: read, so kiro trusts only its file-reading tool.
      '--trust-tools=fs_read',
      'say hi',
    ]);
    const edit = kiro.invocation('x', context({}), { permissions: 'edit' });
    assert.ok(edit.args.includes('--trust-tools=fs_read,fs_write'), edit.args.join(' '));
    assert.equal(run.input, '');
    assert.equal(run.cwd, undefined);
  });

  it('ends the options before a prompt that starts with a dash', () => {
    assert.deepEqual(kiro.invocation('-v please', context({})).args.slice(-2), ['--', '-v please']);
  });

  it('trusts all tools only at the full level, and then runs in .mittelo/work/kiro', () => {
    process.chdir(temp);
    try {
      const run = kiro.invocation('x', context({}), { permissions: 'full' });
      assert.ok(run.args.includes('--trust-all-tools'));
      assert.ok(!run.args.some((arg) => arg.startsWith('--trust-tools=')));
      // The runner creates it before the run (tested end to end in test/integration/drivers/kiro.test.ts).
      assert.equal(run.cwd, join(realpathSync(temp), '.mittelo', 'work', 'kiro'));
    } finally {
      process.chdir(started);
    }
  });

  it('leaves the working directory to MITTELO_SUBPROCESS_WORKDIR when that is set', () => {
    const run = kiro.invocation('x', context({ MITTELO_SUBPROCESS_WORKDIR: join(temp, 'work') }), {
      permissions: 'full',
    });
    assert.ok(run.args.includes('--trust-all-tools'));
    assert.equal(run.cwd, undefined);
  });
});

describe('kiro login advice', () => {
  it('always mentions the device flow for blocked callback ports', () => {
    const spec = kiroSpec({});
    const auth = classify(spec.rules, {
      exitCode: 1,
      output: 'error: You are not logged in, please log in with kiro-cli login',
    });
    assert.equal(auth.kind, 'auth');
    assert.match(
      auth.fix!,
      /OAuth portal init fails when callback ports are blocked: use `kiro-cli login --use-device-flow`/,
    );
    assert.match(spec.setup[1]!, /^kiro-cli login \(on a headless machine or with blocked callback ports/);
  });

  it('says the device-flow login everywhere with MITTELO_KIRO_DEVICE_FLOW=1', () => {
    const spec = kiroSpec({ MITTELO_KIRO_DEVICE_FLOW: '1' });
    assert.match(spec.setup[1]!, /^kiro-cli login --use-device-flow/);
    const auth = classify(spec.rules, { exitCode: 1, output: 'error: You are not logged in' });
    assert.match(auth.fix!, /^run `kiro-cli login --use-device-flow`/);
  });
});

describe('kiro rules', () => {
  it('classifies the unverified AWS SDK wordings', () => {
    const kindOf = (output: string) => classify(kiro.rules, { exitCode: 1, output }).kind;
    assert.equal(kindOf('error: dispatch failure (io error): error trying to connect'), 'network');
    assert.equal(kindOf('ThrottlingException: Rate exceeded'), 'rate_limit');
    assert.equal(kindOf('ExpiredTokenException: the token has expired'), 'auth');
  });
});

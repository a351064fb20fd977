/**
 * The kimi driver's parts the recorded outputs do not reach: the command line, reading the
 * stream-json messages, and the preflight's check that kimi has a model to run.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { driverContext } from '../../src/backends/drivers/driver-backend.ts';
import { kimi, kimiModelCheck, parseKimi } from '../../src/backends/drivers/kimi.ts';
import { makeTempDir } from '../helpers/hub-process.ts';

const temp = makeTempDir('mittelo-kimi-unit-');
after(() => rmSync(temp, { recursive: true, force: true }));

const context = (env: NodeJS.ProcessEnv, model?: string) => driverContext(kimi, { env, model });

function homeWithConfig(name: string, config: string | null): string {
  const home = join(temp, name);
  mkdirSync(join(home, '.kimi'), { recursive: true });
  if (config !== null) writeFileSync(join(home, '.kimi', 'config.toml'), config);
  return home;
}

describe('kimi invocation', () => {
  it('runs print mode with stream-json, the prompt on stdin, no model unless one is given', () => {
    const run = kimi.invocation('say hi', context({}));
    assert.deepEqual(run.args, ['--print', '--output-format', 'stream-json']);
    assert.equal(run.input, 'say hi');
    assert.deepEqual(kimi.invocation('x', context({ MITTELO_KIMI_MODEL: 'k2' })).args.slice(3), [
      '--model',
      'k2',
    ]);
  });
});

describe('kimi output', () => {
  it('answers with the last assistant message that has text, and keeps a session id', () => {
    const stdout = [
      '{"role":"assistant","content":"first"}',
      '{"role":"assistant","content":[{"type":"think","think":"hm"},{"type":"text","text":"final"}]}',
      '{"role":"assistant","content":""}',
      '{"role":"meta","type":"session.resume_hint","session_id":"s-1"}',
    ].join('\n');
    assert.deepEqual(parseKimi(stdout), { text: 'final', usage: { session_id: 's-1' } });
  });

  it('falls back to the plain text of a kimi printing no JSON', () => {
    assert.deepEqual(parseKimi('\u001b[1mhello\u001b[0m\n'), { text: 'hello' });
  });
});

describe('kimi model check', () => {
  it('warns when there is no config at all, saying runs would fail with LLM not set', async () => {
    const home = homeWithConfig('no-config', null);
    const problems = await kimiModelCheck(context({ HOME: home }));
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.severity, 'warn');
    assert.equal(problems[0]!.kind, 'config');
    assert.match(problems[0]!.message, /there is no .*config\.toml.*"LLM not set"/);
  });

  it('warns about the empty config kimi writes on its first run', async () => {
    const home = homeWithConfig('empty', 'default_model = ""\n\n[models]\n\n[providers]\n');
    const problems = await kimiModelCheck(context({ HOME: home }));
    assert.match(problems[0]?.message ?? '', /sets no default_model/);
  });

  it('is satisfied by a default model, a --model the config defines, or the KIMI_* variables', async () => {
    const config =
      'default_model = "kimi-for-coding"\n\n[models.kimi-for-coding]\nprovider = "kimi"\nmodel = "kimi-for-coding"\nmax_context_size = 262144\n';
    const home = homeWithConfig('configured', config);
    assert.deepEqual(await kimiModelCheck(context({ HOME: home })), []);
    assert.deepEqual(await kimiModelCheck(context({ HOME: home }, 'kimi-for-coding')), []);
    assert.match(
      (await kimiModelCheck(context({ HOME: home }, 'other')))[0]?.message ?? '',
      /defines no model "other"/,
    );
    assert.deepEqual(
      await kimiModelCheck(
        context({ HOME: homeWithConfig('vars', null), KIMI_BASE_URL: 'u', KIMI_MODEL_NAME: 'm' }),
      ),
      [],
    );
  });

  it('follows KIMI_SHARE_DIR', async () => {
    const share = join(temp, 'share');
    mkdirSync(share, { recursive: true });
    writeFileSync(join(share, 'config.toml'), 'default_model = "m"\n');
    assert.deepEqual(
      await kimiModelCheck(context({ HOME: homeWithConfig('elsewhere', null), KIMI_SHARE_DIR: share })),
      [],
    );
  });
});

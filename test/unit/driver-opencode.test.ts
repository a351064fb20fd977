/**
 * The opencode driver's own logic: the command line built from the settings, the reading of
 * `run --format json` events, the retry signals, and the provider-key check of preflight.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { driverContext } from '../../src/backends/drivers/driver-backend.ts';
import { opencode, parseOpencode } from '../../src/backends/drivers/opencode.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { makeTempDir } from '../helpers/hub-process.ts';

const home = makeTempDir('mittelo-opencode-home-');
after(() => rmSync(home, { recursive: true, force: true }));

const invocation = (env: NodeJS.ProcessEnv, model?: string) =>
  opencode.invocation('say hi', driverContext(opencode, { env, model }));

describe('opencode invocation', () => {
  it('runs with JSON events and logs on stderr, the prompt on stdin (no message argument)', () => {
    const built = invocation({});
    assert.deepEqual(built.args, ['run', '--format', 'json', '--print-logs']);
    assert.equal(built.input, 'say hi');
  });

  it('takes the model from --model over MITTELO_OPENCODE_MODEL, and --dir (absolute)', () => {
    assert.deepEqual(invocation({ MITTELO_OPENCODE_MODEL: 'opencode/a' }).args.slice(4), [
      '-m',
      'opencode/a',
    ]);
    assert.deepEqual(
      invocation(
        { MITTELO_OPENCODE_MODEL: 'opencode/a', MITTELO_SUBPROCESS_WORKDIR: 'w' },
        'anthropic/b',
      ).args.slice(4),
      ['-m', 'anthropic/b', '--dir', resolve('w')],
    );
  });
});

const line = (value: unknown) => `${JSON.stringify(value)}\n`;

describe('opencode run --format json parsing', () => {
  it('reports an error event by its name and message', () => {
    const parsed = parseOpencode(
      line({ type: 'text', sessionID: 's1', part: { type: 'text', text: 'partial' } }) +
        line({ type: 'error', sessionID: 's1', error: { name: 'UnknownError', data: { message: 'boom' } } }),
    );
    assert.equal(parsed.error, 'UnknownError: boom');
    assert.equal(parsed.usage?.session_id, 's1');
  });

  it('without events, answers with stdout minus any JSON lines', () => {
    assert.deepEqual(parseOpencode('hello\n{"not":"an event"}\nworld\n'), { text: 'hello\nworld' });
  });

  it('with events but no text part, answers with nothing rather than the events', () => {
    assert.equal(parseOpencode(line({ type: 'step_start', part: {} })).text, '');
  });
});

describe('opencode retry signals', () => {
  const kindOf = (text: string) => opencode.signals?.find((signal) => signal.pattern.test(text))?.kind;

  it('stops on the provider call failing, not on the models.dev catalog alone', () => {
    assert.equal(
      kindOf(
        'level=ERROR service=models.dev message="Failed to fetch models.dev" cause="(cause: Error: Unable to connect. Is the computer able to access the url?)"',
      ),
      undefined,
    );
    assert.equal(
      kindOf('level=ERROR message="stream error" error.error="AI_APICallError: Cannot connect to API: x"'),
      'network',
    );
    assert.equal(
      kindOf('level=ERROR message="stream error" error.error="AI_APICallError: Too Many Requests (429)"'),
      'rate_limit',
    );
  });
});

describe('opencode provider keys in preflight', () => {
  const check = (model: string | undefined, extra: NodeJS.ProcessEnv = {}) =>
    opencode.extraChecks!(driverContext(opencode, { env: fakeCliEnv('success', home, extra), model }));

  it('asks for no key with the default or an opencode/* model', async () => {
    assert.deepEqual(await check(undefined, { FAKE_CLI_LOGGED_IN: '0' }), []);
    assert.deepEqual(await check('opencode/big-pickle', { FAKE_CLI_LOGGED_IN: '0' }), []);
  });

  it("finds the provider's key variable, or its credentials in `opencode auth list`", async () => {
    assert.deepEqual(
      await check('anthropic/claude-x', { ANTHROPIC_API_KEY: 'sk-ant', FAKE_CLI_LOGGED_IN: '0' }),
      [],
    );
    assert.deepEqual(await check('anthropic/claude-x'), [], 'the fake lists Anthropic credentials');
    assert.deepEqual(
      await check('groq/llama-x', { FAKE_CLI_LOGGED_IN: '0', GROQ_API_KEY: 'k' }),
      [],
      'from its Environment block',
    );
  });

  it('warns (does not fail) when a keyed provider has no key anywhere', async () => {
    const problems = await check('openai/gpt-x', { FAKE_CLI_LOGGED_IN: '0' });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.severity, 'warn');
    assert.equal(problems[0]!.kind, 'auth');
    assert.match(problems[0]!.message, /openai\/gpt-x needs a key for openai.*OPENAI_API_KEY not set/);
    assert.match(problems[0]!.fix!, /opencode auth login/);
  });
});

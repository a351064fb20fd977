/**
 * The codex driver's own logic: the command line built from the settings, the reading of
 * `exec --json` events, the retry signals, and where preflight looks for a login.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { codex, parseCodex } from '../../src/backends/drivers/codex.ts';
import { driverContext, resolveCommand } from '../../src/backends/drivers/driver-backend.ts';
import { findAuth } from '../../src/backends/drivers/preflight.ts';
import type { Permissions } from '../../src/backends/types.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { makeTempDir } from '../helpers/hub-process.ts';

const home = makeTempDir('mittelo-codex-home-');
after(() => rmSync(home, { recursive: true, force: true }));

const invocation = (env: NodeJS.ProcessEnv, model?: string, permissions?: Permissions) =>
  codex.invocation('say hi', driverContext(codex, { env, model }), permissions ? { permissions } : {});

describe('codex invocation', () => {
  it('runs exec --json outside git checks, the prompt on stdin (`-`)', () => {
    const built = invocation({});
    // No level given: read, codex's read-only sandbox.
    assert.deepEqual(built.args, ['exec', '--json', '--skip-git-repo-check', '-s', 'read-only', '-']);
    assert.equal(built.input, 'say hi');
  });

  it('takes the model from --model over MITTELO_CODEX_MODEL', () => {
    assert.deepEqual(invocation({ MITTELO_CODEX_MODEL: 'gpt-env' }).args.slice(3, 5), ['-m', 'gpt-env']);
    assert.deepEqual(invocation({ MITTELO_CODEX_MODEL: 'gpt-env' }, 'gpt-flag').args.slice(3, 5), [
      '-m',
      'gpt-flag',
    ]);
  });

  it("adds -C (absolute), the task's level as -s and --ephemeral, before the `-`", () => {
    const args = invocation(
      { MITTELO_SUBPROCESS_WORKDIR: 'work/codex', MITTELO_CODEX_EPHEMERAL: '1' },
      undefined,
      'edit',
    ).args;
    assert.deepEqual(args, [
      'exec',
      '--json',
      '--skip-git-repo-check',
      '-C',
      resolve('work/codex'),
      '-s',
      'workspace-write',
      '--ephemeral',
      '-',
    ]);
    assert.ok(!invocation({ MITTELO_CODEX_EPHEMERAL: '0' }).args.includes('--ephemeral'));
    const full = invocation({}, undefined, 'full').args;
    assert.deepEqual(full.slice(full.indexOf('-s'), full.indexOf('-s') + 2), ['-s', 'danger-full-access']);
  });
});

const line = (value: unknown) => `${JSON.stringify(value)}\n`;

describe('codex exec --json parsing', () => {
  it('reports the error of a failed turn, even after a message', () => {
    const parsed = parseCodex(
      line({ type: 'item.completed', item: { id: 'i0', type: 'agent_message', text: 'starting' } }) +
        line({ type: 'turn.failed', error: { message: 'context window exceeded' } }),
    );
    assert.equal(parsed.error, 'context window exceeded');
  });

  it('reports the last error event when no answer came', () => {
    const parsed = parseCodex(
      line({ type: 'thread.started', thread_id: 't1' }) +
        line({ type: 'error', message: 'Reconnecting... 2/5' }) +
        line({ type: 'error', message: 'stream disconnected before completion' }),
    );
    assert.equal(parsed.error, 'stream disconnected before completion');
    assert.equal(parsed.usage?.session_id, 't1');
  });

  it('takes plain stdout as the answer when there are no events', () => {
    assert.deepEqual(parseCodex('just text\n'), { text: 'just text' });
  });
});

describe('codex retry signals', () => {
  const kindOf = (text: string) => codex.signals?.find((signal) => signal.pattern.test(text))?.kind;

  it('tells a rejected key and a rate limit from a dead network', () => {
    assert.equal(
      kindOf('{"type":"error","message":"Reconnecting... 2/5 (stream disconnected before completion: x)"}'),
      'network',
    );
    assert.equal(kindOf('ERROR: Reconnecting... waiting for network'), 'network');
    assert.equal(
      kindOf('{"type":"error","message":"Reconnecting... 1/5 (unexpected status 401 Unauthorized: x)"}'),
      'auth',
    );
    assert.equal(
      kindOf('Reconnecting... 1/5 (exceeded retry limit, last status: 429 Too Many Requests)'),
      'rate_limit',
    );
    assert.equal(kindOf('{"type":"turn.started"}'), undefined);
  });
});

describe('codex login as preflight sees it', () => {
  const env = (extra: NodeJS.ProcessEnv = {}) => fakeCliEnv('success', home, extra);
  const auth = (extra: NodeJS.ProcessEnv) => {
    const context = driverContext(codex, { env: env(extra) });
    return findAuth(codex, context, resolveCommand(codex, context.env));
  };

  it('counts a key variable first (`codex login status` ignores them)', async () => {
    assert.equal(await auth({ CODEX_API_KEY: 'sk-x', FAKE_CLI_LOGGED_IN: '0' }), 'CODEX_API_KEY is set');
  });

  it('asks `codex login status` when there is no key', async () => {
    assert.equal(await auth({}), '`codex login status` says logged in');
    assert.equal(await auth({ FAKE_CLI_LOGGED_IN: '0' }), null);
  });

  it('finds ~/.codex/auth.json in the subprocess HOME', async () => {
    const sandbox = join(home, 'sandbox');
    mkdirSync(join(sandbox, '.codex'), { recursive: true });
    writeFileSync(join(sandbox, '.codex', 'auth.json'), '{}');
    assert.equal(
      await auth({ FAKE_CLI_LOGGED_IN: '0', MITTELO_SUBPROCESS_HOME: sandbox }),
      `credentials in ${join(sandbox, '.codex', 'auth.json')}`,
    );
  });
});

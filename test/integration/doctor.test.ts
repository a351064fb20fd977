/** `mittelo doctor` and `mittelo backend-check` as commands, against fake CLIs on PATH. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { makeTempDir } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const home = makeTempDir('mittelo-doctor-home-');
after(() => rmSync(home, { recursive: true, force: true }));

describe('mittelo doctor', () => {
  it('--core --json: node, bind, database folder and echo all pass here (exit 0)', async () => {
    const ran = await runCli(['doctor', '--core', '--json', '--db', `${home}/db/hub.db`]);
    assert.equal(ran.code, 0, ran.stderr);
    const report = JSON.parse(ran.stdout) as {
      ok: boolean;
      core: Array<{ name: string; ok: boolean }>;
      backends: unknown[];
    };
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.core.map((c) => [c.name, c.ok]),
      [
        ['node', true],
        ['bind 127.0.0.1', true],
        ['database folder', true],
        ['echo backend', true],
      ],
    );
    assert.deepEqual(report.backends, []);
  });

  it('the full run adds a row per CLI backend, with version drift from docs/cli-lock.json', async () => {
    const ran = await runCli(['doctor', '--db', `${home}/db/hub.db`], {
      env: fakeCliEnv('success', home, { ANTHROPIC_API_KEY: 'sk-ant-test', FAKE_CLI_VERSION: '2.2.0' }),
    });
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(
      ran.stdout,
      /^claude_code +ready +2\.2\.0 \(Claude Code\) +ANTHROPIC_API_KEY is set +installed 2\.2\.0, tested with 2\.1\.197/m,
    );
    assert.match(ran.stdout, /\d+ of \d+ backends ready/);
  });
});

describe('mittelo backend-check', () => {
  it('exit 0 for a ready backend, with where, which version and which auth', async () => {
    const ran = await runCli(['backend-check', '--backend', 'claude_code'], {
      env: fakeCliEnv('success', home, { ANTHROPIC_API_KEY: 'sk-ant-test' }),
    });
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^claude_code: ready$/m);
    assert.match(ran.stdout, /^ {2}path +.*fake-clis\/claude$/m);
    assert.match(ran.stdout, /^ {2}version +2\.1\.197 \(Claude Code\)$/m);
    assert.match(ran.stdout, /^ {2}auth +ANTHROPIC_API_KEY is set$/m);
  });

  it('exit 1 when not logged in, printing the first-time setup to copy', async () => {
    const ran = await runCli(['backend-check', '--backend', 'claude_code', '--json'], {
      env: fakeCliEnv('success', home, { FAKE_CLI_LOGGED_IN: '0' }),
    });
    assert.equal(ran.code, 1);
    const row = JSON.parse(ran.stdout) as {
      ready: boolean;
      problems: Array<{ kind: string; fix: string }>;
      setup: string[];
    };
    assert.equal(row.ready, false);
    assert.equal(row.problems[0]!.kind, 'auth');
    assert.deepEqual(row.setup, [
      'npm install -g @anthropic-ai/claude-code',
      'run `claude` once and `/login`, or set ANTHROPIC_API_KEY',
    ]);
  });

  it('exit 1 for a CLI that is not installed; exit 2 for an unknown backend', async () => {
    const missing = await runCli(['backend-check', '--backend', 'claude_code'], {
      env: { PATH: '/usr/bin:/bin', HOME: home },
    });
    assert.equal(missing.code, 1);
    assert.match(
      missing.stdout,
      /fail: Claude Code is not installed: no claude on PATH\n {4}fix: npm install -g @anthropic-ai\/claude-code/,
    );
    const unknown = await runCli(['backend-check', '--backend', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown backend "nope"/);
  });
});

/**
 * Resumed sessions reaching the CLIs that can continue one by id: Claude Code `--resume <id>`,
 * Codex `exec … resume <id> -` (never `--ephemeral` for a task that resumes), opencode
 * `--session <id>`; gemini and kimi start over. Then fake CLIs run through runDriver: codex
 * continues the thread it was given and reports it as the session; a session claude cannot find
 * makes the run start over instead of failing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resumeOf } from '../../src/agent/run-task.ts';
import { claudeCode, glm } from '../../src/backends/drivers/claude-code.ts';
import { codex } from '../../src/backends/drivers/codex.ts';
import { runDriver } from '../../src/backends/drivers/driver-backend.ts';
import { gemini } from '../../src/backends/drivers/gemini.ts';
import { kimi } from '../../src/backends/drivers/kimi.ts';
import { opencode } from '../../src/backends/drivers/opencode.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { makeTask } from '../helpers/fixtures.ts';

const home = mkdtempSync(join(tmpdir(), 'mittelo-resume-home-'));
after(() => rmSync(home, { recursive: true, force: true }));
const context = { env: {}, model: undefined, cwd: undefined };
const SESSION = '5b1c8d9e-0000-4000-8000-00000000abcd';

describe('resumed sessions in the drivers', () => {
  it('the agent asks for a resume only for a task with resume: true and a session', () => {
    assert.deepEqual(resumeOf(makeTask(1, { resume: true, session_id: SESSION })), {
      resume: true,
      resume_session: SESSION,
    });
    assert.deepEqual(resumeOf(makeTask(2, { resume: true })), { resume: true }, 'a first run has none yet');
    assert.deepEqual(resumeOf(makeTask(3, { session_id: SESSION })), {}, 'no resume: start over');
  });

  it('claude and glm get --resume <id>; without a session, no flag and no --no-session-persistence', () => {
    for (const spec of [claudeCode, glm]) {
      const { args, input } = spec.invocation('next step', context, { resume: true, resumeSession: SESSION });
      assert.equal(args[args.indexOf('--resume') + 1], SESSION, spec.name);
      assert.equal(input, 'next step', 'the prompt is the next turn, on stdin as always');
      const first = spec.invocation('p', context, { resume: true });
      assert.ok(!first.args.includes('--resume'));
      assert.ok(!first.args.includes('--no-session-persistence'), 'the session stays on disk to be resumed');
    }
  });

  it('codex: exec flags, then resume <id> -; a resuming task is never --ephemeral', () => {
    const env = { MITTELO_CODEX_EPHEMERAL: '1' };
    const { args } = codex.invocation(
      'p',
      { env, model: 'gpt-x', cwd: '/work' },
      {
        resume: true,
        resumeSession: SESSION,
      },
    );
    assert.deepEqual(args.slice(0, 3), ['exec', '--json', '--skip-git-repo-check']);
    assert.deepEqual(args.slice(-3), ['resume', SESSION, '-']);
    assert.ok(args.includes('-C') && args.includes('-s') && args.includes('-m'));
    assert.ok(!args.includes('--ephemeral'));
    // A first run of such a task keeps its session too; a task without resume honours the setting.
    assert.ok(
      !codex
        .invocation('p', { env, model: undefined, cwd: undefined }, { resume: true })
        .args.includes('--ephemeral'),
    );
    const plain = codex.invocation('p', { env, model: undefined, cwd: undefined }, {}).args;
    assert.ok(plain.includes('--ephemeral'));
    assert.ok(!plain.includes('resume'));
  });

  it('opencode gets --session <id>; gemini and kimi cannot resume by id and start over', () => {
    const { args } = opencode.invocation('p', context, { resume: true, resumeSession: 'ses_abc' });
    assert.equal(args[args.indexOf('--session') + 1], 'ses_abc');
    assert.ok(!opencode.invocation('p', context, {}).args.includes('--session'));
    for (const spec of [gemini, kimi]) {
      const resumed = spec.invocation('p', context, { resume: true, resumeSession: SESSION });
      assert.deepEqual(resumed, spec.invocation('p', context, {}), spec.name);
    }
  });

  it('a session the CLI cannot find (another machine): the run starts over, with a session of its own', async () => {
    const run = (resume_session: string) =>
      runDriver(
        claudeCode,
        { env: fakeCliEnv('success', home, { ANTHROPIC_API_KEY: 'sk-ant-test' }) },
        { task_id: 10, prompt: 'go on', worker_id: 'w', resume: true, resume_session },
        { signal: new AbortController().signal, timeoutMs: 20_000, maxOutputBytes: 1 << 20 },
      );
    const fresh = await run('gone-1');
    assert.equal(fresh.ok, true, fresh.ok ? '' : fresh.error);
    if (!fresh.ok) return;
    assert.equal(fresh.output, 'claude(default) answers: go on', 'started over, without --resume');
    assert.equal(fresh.usage?.session_id, '5b1c8d9e-0000-4000-8000-000000000001');
    const continued = await run(SESSION);
    assert.equal(continued.ok && continued.output, `claude(default) answers: go on (resumed ${SESSION})`);
  });

  it('the fake codex continues the thread it is given and reports it as the session', async () => {
    const outcome = await runDriver(
      codex,
      { env: fakeCliEnv('success', home, { OPENAI_API_KEY: 'sk-test' }) },
      { task_id: 9, prompt: 'go on', worker_id: 'w', resume: true, resume_session: SESSION },
      { signal: new AbortController().signal, timeoutMs: 20_000, maxOutputBytes: 1 << 20 },
    );
    assert.equal(outcome.ok, true, outcome.ok ? '' : outcome.error);
    if (!outcome.ok) return;
    assert.equal(outcome.output, `codex(default) answers: go on (resumed ${SESSION})`);
    assert.equal(outcome.usage?.session_id, SESSION);
  });
});

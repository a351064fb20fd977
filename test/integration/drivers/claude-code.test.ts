/**
 * The claude_code driver end to end: a real hub, a real agent process, and a fake `claude` on
 * PATH that mimics the real CLI's flags and outputs. Success with usage; a run that is not logged
 * in (task released, agent unhealthy with the fix); a network retry loop given up early; the
 * preflight of a logged-out CLI; a task's max_cost_usd reaching claude as --max-budget-usd; and
 * its output_schema as --json-schema, the structured_output stored parsed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DriverBench, untilReleased, untilUnhealthy } from '../../helpers/driver-agent.ts';
import { fakeCliEnv } from '../../helpers/fake-cli.ts';
import { HANG_GUARD_MS } from '../../helpers/hub-process.ts';
import { runCli } from '../../helpers/run-cli.ts';

const bench = new DriverBench();
const home = bench.home;

async function hubWithAgent(
  mode: string,
  extra: NodeJS.ProcessEnv = {},
  args: string[] = [],
  backend = 'claude_code',
) {
  return bench.start(
    backend,
    `claude-${mode}`,
    fakeCliEnv(mode, home, { ANTHROPIC_API_KEY: 'sk-ant-test', ...extra }),
    args,
  );
}

describe('driver claude_code (fake claude on PATH)', () => {
  it('answers with the result text, the model and the usage of the stream-json result', async () => {
    const { client } = await hubWithAgent('success', { MITTELO_CLAUDE_MODEL: 'sonnet-test' });
    const id = await client.enqueue({ prompt: 'say hi', backend: 'claude_code' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'done', task.error ?? '');
    assert.equal(
      task.result,
      'claude(sonnet-test) answers: say hi',
      'the prompt went in on stdin, the model from MITTELO_CLAUDE_MODEL',
    );
    assert.equal(task.usage?.cost_usd, 0.0042);
    assert.equal(task.usage?.input_tokens, 7);
    assert.equal(task.usage?.session_id, '5b1c8d9e-0000-4000-8000-000000000001');
    // Its stream reached the hub as live output: text, the tool call, the edit, the usage so far.
    const tail = await client.outputTail(id);
    const lines = tail.lines.map((line) => `${line.kind}: ${line.text}`);
    for (const expected of [
      'text: thinking',
      'tool: Bash npm test',
      'tool: Edit notes.txt',
      'edit: notes.txt',
    ]) {
      assert.ok(lines.includes(expected), `${expected} in ${JSON.stringify(lines)}`);
    }
    assert.ok(
      lines.some((line) => line.startsWith('usage: 7 tokens in')),
      JSON.stringify(lines),
    );
  });

  it('glm: the same CLI with GLM credentials and MITTELO_GLM_MODEL', async () => {
    const { client } = await hubWithAgent(
      'success',
      {
        ANTHROPIC_API_KEY: '',
        ANTHROPIC_AUTH_TOKEN: 'glm-key',
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/glm',
        MITTELO_GLM_MODEL: 'glm-4.6',
      },
      [],
      'glm',
    );
    const id = await client.enqueue({ prompt: 'ni hao', backend: 'glm' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    assert.equal(tasks[0]!.status, 'done', tasks[0]!.error ?? '');
    assert.equal(tasks[0]!.result, 'claude(glm-4.6) answers: ni hao');
  });

  it('not logged in: releases the task, reports the agent unhealthy with the fix, leases nothing more', async () => {
    const { hub, client, agent } = await hubWithAgent('auth');
    const id = await client.enqueue({ prompt: 'say hi', backend: 'claude_code' });
    const info = await untilUnhealthy(client, 'claude-auth');
    assert.match(
      info!.reason!,
      /claude_code: auth: Claude Code exited with code 1: Not logged in · Please run \/login/,
    );
    assert.equal(info!.fix, 'run `claude` once and `/login`, or set ANTHROPIC_API_KEY');
    // A lease parked before the failure may take the task once more; it is released again at once.
    const task = await untilReleased(client, id);
    assert.equal(task.status, 'queued', 'released, not failed');
    assert.equal(task.attempts, 0, 'a release is not an attempt');
    assert.equal(task.error_kind, 'auth');
    assert.equal(task.error_fix, 'run `claude` once and `/login`, or set ANTHROPIC_API_KEY');
    await agent.waitForStderr(/leases nothing until the backend is ready/);
    const status = await runCli(['status', '--port', String(hub.port)]);
    assert.match(status.stdout, /claude-auth +claude_code +connected +UNHEALTHY/);
    assert.match(status.stdout, /fix: run `claude` once and `\/login`, or set ANTHROPIC_API_KEY/);
  });

  it('network down: gives up on the retry loop early and fails the task with kind network', async () => {
    const { client } = await hubWithAgent('network');
    const id = await client.enqueue({ prompt: 'say hi', backend: 'claude_code', timeout_s: 600 });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'failed');
    assert.equal(task.error_kind, 'network');
    assert.match(task.error!, /the API cannot be reached .*stopped after 0\.5 s more of retrying/);
    assert.match(task.error_fix!, /check the network connection/);
  });

  it('max_cost_usd: claude gets --max-budget-usd, and a run stopped there fails for good with its cost', async () => {
    const { client } = await hubWithAgent('success', { FAKE_CLI_COST_USD: '0.75' });
    // Below the run's cost: the fake stops at the budget (it only does so when given the flag).
    const stopped = await client.enqueue({
      prompt: 'big job',
      backend: 'claude_code',
      max_cost_usd: 0.5,
      max_attempts: 3,
    });
    const { tasks } = await client.wait([stopped], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'failed', 'not retried although attempts remain');
    assert.equal(task.attempts, 1);
    assert.equal(task.error_kind, 'budget');
    assert.match(
      task.error!,
      /Claude Code stopped at its budget of \$0\.5 \(max_cost_usd\) after spending \$0\.75/,
    );
    assert.match(task.error_fix!, /raise the task's max_cost_usd/);
    assert.equal(task.cost_usd, 0.75, 'the cost of a failed run is acked too');
    assert.equal(task.cost_basis, 'reported');
    // Above it: the flag is taken and the run answers.
    const fits = await client.enqueue({ prompt: 'small job', backend: 'claude_code', max_cost_usd: 2 });
    const done = (await client.wait([fits], { timeout_ms: HANG_GUARD_MS })).tasks[0]!;
    assert.equal(done.status, 'done', done.error ?? '');
    assert.equal(done.cost_usd, 0.75);
  });

  it('output_schema: claude gets --json-schema, its structured_output is the answer, stored parsed', async () => {
    const { client } = await hubWithAgent('success');
    const schema = {
      type: 'object',
      properties: { prompt: { type: 'string' } },
      required: ['prompt'],
      additionalProperties: false,
    };
    const id = await client.enqueue({ prompt: 'name it', backend: 'claude_code', output_schema: schema });
    const task = (await client.wait([id], { timeout_ms: HANG_GUARD_MS })).tasks[0]!;
    assert.equal(task.status, 'done', task.error ?? '');
    // The fake answers with structured_output only when given --json-schema; its result is prose.
    assert.deepEqual(task.parsed, { prompt: 'name it' });
    assert.equal(task.result, '{"prompt":"name it"}');
    assert.deepEqual(task.output_schema, schema);
    // The agent checks the answer itself too: one that does not meet the schema fails bad_output.
    const strict = { type: 'object', required: ['count'] };
    const bad = await client.enqueue({
      prompt: 'count it',
      backend: 'claude_code',
      output_schema: strict,
      max_attempts: 1,
    });
    const failed = (await client.wait([bad], { timeout_ms: HANG_GUARD_MS })).tasks[0]!;
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error_kind, 'bad_output');
    assert.match(
      failed.error!,
      /the answer does not match output_schema: \(root\) must have required property 'count'/,
    );
    assert.equal(failed.result, '{"prompt":"count it"}', 'the raw answer is kept');
  });

  it('with --require-ready, a logged-out claude refuses to start, printing the fix', async () => {
    const ran = await runCli(['agent', '--backend', 'claude_code', '--require-ready', '--port', '1'], {
      env: fakeCliEnv('success', home, { FAKE_CLI_LOGGED_IN: '0' }),
    });
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(
      ran.stderr,
      /\[claude_code\] fail: Claude Code is not logged in: none of ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN is set/,
    );
    assert.match(ran.stderr, /fix: run `claude` once and `\/login`, or set ANTHROPIC_API_KEY/);
  });
});

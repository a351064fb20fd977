/**
 * Resumed sessions end to end: a real hub, a real agent process and the fake `claude` on PATH.
 * A task with resume: true whose first run fails (after printing its session) is retried, and the
 * retry continues that session (`--resume <id>`, which the fake echoes into its answer); a task
 * without resume starts over. The enqueue and run flags and pack lines set resume, a bad one is
 * refused by line, and an ack without session_id (as an older agent sends) leaves the stored one.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import { startCli } from '../helpers/cli-process.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { HANG_GUARD_MS, type HubProcess, makeTempDir, startHubProcess } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A hub that retries a failed attempt at once, and a client of it. */
async function hub(): Promise<{ hub: HubProcess; client: HubClient }> {
  const started = await startHubProcess({ args: ['--retry-backoff-ms', '0'] });
  const client = new HubClient({ port: started.port, reconnect: false });
  cleanups.push(() => started.stop());
  cleanups.push(() => client.close());
  return { hub: started, client };
}

describe('resumed sessions', () => {
  it('a retried task with resume: true continues its first run’s session; one without starts over', async () => {
    const { hub: started, client } = await hub();
    const home = makeTempDir('mittelo-fake-home-');
    const state = makeTempDir('mittelo-fake-state-');
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    // Every task's first run prints a session of its own, then fails (a retryable `unknown`).
    const env = fakeCliEnv('fail_first', home, {
      ANTHROPIC_API_KEY: 'sk-ant-test',
      FAKE_CLI_STATE_DIR: state,
      FAKE_CLI_SESSION: 'new',
    });
    const resumed = await client.enqueue({
      prompt: 'long job',
      backend: 'claude_code',
      max_attempts: 2,
      resume: true,
    });
    const fresh = await client.enqueue({ prompt: 'short job', backend: 'claude_code', max_attempts: 2 });
    const agent = startCli(
      ['agent', '--backend', 'claude_code', '--port', String(started.port), '--worker-id', 'claude-resume'],
      { env },
    );
    cleanups.push(() => agent.kill());
    const { tasks } = await client.wait([resumed, fresh], { timeout_ms: HANG_GUARD_MS });
    const [continued, restarted] = tasks;
    assert.equal(continued!.status, 'done', continued!.error ?? '');
    assert.equal(continued!.attempts, 2, 'the first run failed and was retried');
    assert.equal(continued!.resume, true);
    const session = continued!.session_id;
    assert.match(session ?? '', UUID, 'the session the first run printed is kept with the task');
    assert.equal(
      continued!.result,
      `claude(default) answers: long job (resumed ${session})`,
      'the retry was started with --resume <the first run’s session>',
    );
    assert.equal(restarted!.status, 'done', restarted!.error ?? '');
    assert.equal(restarted!.attempts, 2);
    assert.equal(restarted!.resume, false);
    assert.equal(restarted!.result, 'claude(default) answers: short job', 'no --resume without resume: true');
    assert.match(restarted!.session_id ?? '', UUID, 'its session is recorded all the same');
    assert.notEqual(restarted!.session_id, session);
  });

  it('an ack without session_id (an older agent) leaves the stored session; one with it replaces it', async () => {
    const { client } = await hub();
    const id = await client.enqueue({ prompt: 'x', max_attempts: 3, resume: true });
    let [held] = (await client.lease({ worker_id: 'w', max_tasks: 1 })).tasks;
    await client.ack({
      task_id: id,
      lease_token: held!.lease_token,
      status: 'failed',
      error: 'e',
      session_id: 'ses-1',
    });
    assert.equal((await client.get(id)).session_id, 'ses-1');
    [held] = (await client.lease({ worker_id: 'w', max_tasks: 1 })).tasks;
    assert.equal(held!.session_id, 'ses-1', 'the lease carries it to the next run');
    await client.ack({ task_id: id, lease_token: held!.lease_token, status: 'failed', error: 'e' });
    assert.equal((await client.get(id)).session_id, 'ses-1');
    [held] = (await client.lease({ worker_id: 'w', max_tasks: 1 })).tasks;
    await client.release({ task_id: id, lease_token: held!.lease_token, session_id: 'ses-2' });
    assert.equal((await client.get(id)).session_id, 'ses-2');
    // A session id the schema refuses changes nothing.
    [held] = (await client.lease({ worker_id: 'w', max_tasks: 1 })).tasks;
    await assert.rejects(
      client.ack({
        task_id: id,
        lease_token: held!.lease_token,
        status: 'done',
        session_id: 'x'.repeat(201),
      }),
      /session_id may be at most 200 characters/,
    );
    assert.equal((await client.get(id)).session_id, 'ses-2');
    assert.equal((await client.get(id)).status, 'leased');
  });

  it('enqueue --resume-session and a line’s "resume" set it; a resume that is not a boolean is refused by line', async () => {
    const { hub: started, client } = await hub();
    const cwd = makeTempDir('mittelo-resume-cli-');
    cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
    writeFileSync(
      join(cwd, 'tasks.jsonl'),
      '{"prompt": "own false", "resume": false}\n{"prompt": "default"}\n{"prompt": "own true", "resume": true}\n',
    );
    writeFileSync(join(cwd, 'bad.jsonl'), '{"prompt": "fine"}\n{"prompt": "bad", "resume": "yes"}\n');
    const port = ['--port', String(started.port)];
    const flagged = await runCli(['enqueue', ...port, '--resume-session', '--jsonl', 'tasks.jsonl'], { cwd });
    assert.equal(flagged.code, 0, flagged.stderr);
    const plain = await runCli(['enqueue', ...port, '--prompt', 'no flag'], { cwd });
    assert.equal(plain.code, 0, plain.stderr);
    const byPrompt = new Map(
      (await client.list({ limit: 0 })).tasks.map((task) => [task.prompt, task.resume]),
    );
    assert.deepEqual(Object.fromEntries(byPrompt), {
      'own false': false,
      default: true,
      'own true': true,
      'no flag': false,
    });
    const bad = await runCli(['enqueue', ...port, '--jsonl', 'bad.jsonl'], { cwd });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.jsonl:2.*resume must be true or false/);
    assert.equal((await client.list({ limit: 0 })).tasks.length, 4, 'nothing of the bad file was enqueued');
  });

  it('run --resume-sessions sets resume on every pack line without its own; a bad one stops the run first', async () => {
    const { hub: started, client } = await hub();
    const cwd = makeTempDir('mittelo-resume-run-');
    cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
    writeFileSync(join(cwd, 'pack.jsonl'), '{"prompt": "a"}\n{"prompt": "b", "resume": false}\n');
    writeFileSync(join(cwd, 'bad.jsonl'), '{"prompt": "a", "resume": 1}\n');
    const hubFlag = ['--hub', `127.0.0.1:${started.port}`, '--agent', 'echo=1'];
    const ran = await runCli(['run', 'pack.jsonl', ...hubFlag, '--resume-sessions'], { cwd });
    assert.equal(ran.code, 0, ran.stderr);
    const tasks = (await client.list({ limit: 0 })).tasks;
    assert.deepEqual(Object.fromEntries(tasks.map((task) => [task.prompt, [task.status, task.resume]])), {
      a: ['done', true],
      b: ['done', false],
    });
    const bad = await runCli(['run', 'bad.jsonl', ...hubFlag], { cwd });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.jsonl:1.*resume must be true or false/);
    assert.equal((await client.list({ limit: 0 })).tasks.length, 2);
  });
});

/**
 * A spent usage window does not eat the queue (issue 13): a fake `claude` that prints Claude Code's
 * real limit output (a rejected rate_limit_event, "You've hit your limit") after 5 runs, for a few
 * seconds. The claude agents give their tasks back without spending attempts and pause the
 * claude_code route until the reset; echo finishes its share meanwhile; after the reset claude
 * carries on and the run completes with nothing failed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.ts';
import { type Backend, type BackendOutcome, readyReport } from '../../src/backends/types.ts';
import { HubClient } from '../../src/client/hub-client.ts';
import type { ResultRecord } from '../../src/run/results.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const dir = makeTempDir('mittelo-usage-limits-');
after(() => rmSync(dir, { recursive: true, force: true }));

describe('usage windows', () => {
  it('run: claude hits its five-hour window after 5 tasks; its tasks wait for the reset, none fails', async () => {
    const state = join(dir, 'claude-state');
    mkdirSync(state);
    const pack = join(dir, 'pack.jsonl');
    const tasks = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ prompt: `p${i}`, backend: i % 2 === 0 ? 'claude_code' : 'echo' }),
    );
    writeFileSync(pack, `${tasks.join('\n')}\n`);
    const out = join(dir, 'results.jsonl');
    const ran = await runCli(
      [
        'run',
        pack,
        '--agent',
        'claude_code=2',
        '--agent',
        'echo=2',
        '--out',
        out,
        '--db',
        join(dir, 'run.db'),
      ],
      {
        cwd: dir,
        env: fakeCliEnv('usage_limit', dir, {
          ANTHROPIC_API_KEY: 'sk-ant-test',
          FAKE_CLI_STATE_DIR: state,
          FAKE_CLI_LIMIT_AFTER: '5',
          FAKE_CLI_LIMIT_RESET_S: '3',
          // The margin after the reset: short, so the test does not wait a minute.
          MITTELO_LIMIT_MARGIN_S: '1',
        }),
      },
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /50 tasks: 50 done, 0 failed/, ran.stdout);
    // The fake really did spend its window (a run hit it), and the run said so and said the end.
    assert.match(ran.stderr, /hit the five-hour usage limit: claude_code paused until/, ran.stderr);
    assert.match(ran.stderr, /mittelo run: claude_code paused until \S+ \(five-hour usage limit\)/);
    assert.match(ran.stderr, /mittelo run: claude_code resumed/);
    const records = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ResultRecord);
    assert.equal(records.length, 50);
    const claude = records.filter((r) => r.backend === 'claude_code');
    assert.equal(claude.length, 25);
    assert.ok(records.every((r) => r.status === 'done'));
    // Giving a task back over a usage window is no attempt: each ran once, successfully.
    assert.ok(
      records.every((r) => r.attempts === 1),
      JSON.stringify(records.filter((r) => r.attempts !== 1)),
    );
    assert.ok(claude.every((r) => /^claude\(default\) answers: p\d+$/.test(String(r.result))));
  });
});

/** A backend that answers with `outcomes` in turn (the last one repeats). */
function scripted(name: string, outcomes: BackendOutcome[]): Backend & { runs: number } {
  const backend = {
    name,
    runs: 0,
    async run(): Promise<BackendOutcome> {
      const outcome = outcomes[Math.min(backend.runs, outcomes.length - 1)]!;
      backend.runs += 1;
      return outcome;
    },
    preflight: async () => readyReport(name),
  };
  return backend;
}

describe('limits, agent by agent', () => {
  const OVERLOADED: BackendOutcome = {
    ok: false,
    kind: 'overloaded',
    error: 'POST http://x/v1/chat/completions answered 529: Overloaded',
  };

  async function withAgent(
    backend: Backend,
    test: (client: HubClient, logs: string[]) => Promise<void>,
  ): Promise<void> {
    const hub = await startHubProcess();
    const client = new HubClient({ port: hub.port, reconnect: false });
    const logs: string[] = [];
    const agent = new Agent({
      port: hub.port,
      backend,
      preflight: false,
      longPollMs: 500,
      transientBackoffMs: { base: 20, max: 100 },
      limitMarginS: 1,
      log: (message) => logs.push(message),
    });
    const running = agent.run();
    try {
      await test(client, logs);
    } finally {
      await agent.stop(0);
      await running;
      client.close();
      await hub.kill();
    }
  }

  it('overload: the task goes back with a delay, attempts not spent, and then succeeds', async () => {
    const backend = scripted('flaky', [OVERLOADED, OVERLOADED, { ok: true, output: 'at last' }]);
    await withAgent(backend, async (client, logs) => {
      const id = await client.enqueue({ prompt: 'p', backend: 'flaky', max_attempts: 1 });
      const task = await waitFor(async () => {
        const found = await client.get(id);
        return found?.status === 'done' ? found : null;
      }, 'the task to be done');
      assert.equal(task?.result, 'at last');
      assert.equal(task?.attempts, 1);
      assert.ok(
        logs.some((line) => /transient retry 2 of 5, its attempt not counted/.test(line)),
        logs.join('\n'),
      );
    });
  });

  it('overload without end: after 5 free retries the failure counts', async () => {
    const backend = scripted('down', [OVERLOADED]);
    await withAgent(backend, async (client) => {
      const id = await client.enqueue({ prompt: 'p', backend: 'down', max_attempts: 1 });
      const task = await waitFor(async () => {
        const found = await client.get(id);
        return found?.status === 'failed' ? found : null;
      }, 'the task to fail');
      assert.equal(task?.error_kind, 'overloaded');
      assert.equal(backend.runs, 6);
      assert.equal(task?.attempts, 1);
    });
  });

  it('usage window: the route is paused on the hub until the reset, then the task runs', async () => {
    const resetsAt = Math.ceil(Date.now() / 1000) + 1;
    const backend = scripted('windowed', [
      {
        ok: false,
        kind: 'usage_limit',
        error: "You've hit your limit",
        resets_at: resetsAt,
        window: 'weekly',
      },
      { ok: true, output: 'after the reset' },
    ]);
    await withAgent(backend, async (client, logs) => {
      const id = await client.enqueue({ prompt: 'p', backend: 'windowed', max_attempts: 1 });
      const pause = await waitFor(
        async () => (await client.pauses()).find((p) => p.backend === 'windowed'),
        'the pause',
      );
      assert.equal(pause?.reason, 'weekly usage limit');
      assert.equal(pause?.until, resetsAt + 1);
      const task = await waitFor(async () => {
        const found = await client.get(id);
        return found?.status === 'done' ? found : null;
      }, 'the task to be done after the reset');
      assert.equal(task?.attempts, 1);
      assert.ok(
        logs.some((line) => /hit the weekly usage limit: windowed paused until/.test(line)),
        logs.join('\n'),
      );
    });
  });
});

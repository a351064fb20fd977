/**
 * A spent usage window does not eat the queue (issue 13): a fake `claude` that prints Claude Code's
 * real limit output (a rejected rate_limit_event, "You've hit your limit") after 5 runs, for a few
 * seconds. The claude agents give their tasks back without spending attempts and pause the
 * claude_code route until the reset; echo finishes its share meanwhile; after the reset claude
 * carries on and the run completes with nothing failed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
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
      const observedS = Date.now() / 1000;
      assert.equal(pause?.reason, 'weekly usage limit');
      // The reset plus the 1 s margin; when the run came after the reset (a loaded machine), the
      // margin counts from the agent's now, which lies before this observation.
      assert.ok(pause!.until! - 1 >= resetsAt, `paused until ${pause?.until}, reset at ${resetsAt}`);
      assert.ok(
        pause!.until! - 1 <= Math.max(resetsAt, Math.ceil(observedS)),
        `paused until ${pause?.until}`,
      );
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

/**
 * A hub that predates `pause`: a real hub process behind a line proxy that answers `pause` as a
 * hub without the method does (unknown_method) and passes every other call through. (The v0.1
 * stand-in of test/helpers/v01-hub.ts cannot serve here: it has no `hello` and no `release`, so an
 * agent acks a failure there as any other.) `leases` records when each lease call was sent.
 */
async function startHubWithoutPause(hubPort: number) {
  const leases: number[] = [];
  const pauseCalls: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    const upstream = net.connect(hubPort, '127.0.0.1');
    sockets.add(downstream).add(upstream);
    for (const socket of [downstream, upstream]) {
      socket.on('error', () => {});
      socket.on('close', () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    upstream.pipe(downstream);
    let buffer = '';
    downstream.setEncoding('utf8').on('data', (text: string) => {
      buffer += text;
      for (let at = buffer.indexOf('\n'); at !== -1; at = buffer.indexOf('\n')) {
        const line = buffer.slice(0, at + 1);
        buffer = buffer.slice(at + 1);
        const request = JSON.parse(line) as { id?: unknown; method?: string };
        if (request.method === 'lease') leases.push(Date.now() / 1000);
        if (request.method === 'pause') {
          pauseCalls.push(Date.now() / 1000);
          const error = { code: 'unknown_method', message: 'Unknown method: pause' };
          downstream.write(`${JSON.stringify({ id: request.id ?? null, result: null, error })}\n`);
        } else upstream.write(line);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    leases,
    pauseCalls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('usage window on a hub that cannot pause', () => {
  it('the agent gives the task back and leases nothing before the reset; after it the task completes', async () => {
    const hub = await startHubProcess();
    const proxy = await startHubWithoutPause(hub.port);
    const client = new HubClient({ port: hub.port, reconnect: false });
    const resetsAt = Math.ceil(Date.now() / 1000) + 2;
    const marginS = 1;
    const backend = scripted('windowed', [
      {
        ok: false,
        kind: 'usage_limit',
        error: "You've hit your limit",
        resets_at: resetsAt,
        window: 'five_hour',
      },
      { ok: true, output: 'after the reset' },
    ]);
    const logs: string[] = [];
    const agent = new Agent({
      port: proxy.port,
      backend,
      preflight: false,
      longPollMs: 200,
      limitMarginS: marginS,
      log: (message) => logs.push(message),
    });
    const running = agent.run();
    try {
      const id = await client.enqueue({ prompt: 'p', backend: 'windowed', max_attempts: 1 });
      // Given back: queued again, its attempt not counted, saying why.
      const given = await waitFor(async () => {
        const found = await client.get(id);
        return found.status === 'queued' && found.error_kind === 'usage_limit' ? found : null;
      }, 'the task to go back to the queue');
      assert.equal(given?.attempts, 0);
      assert.equal(proxy.pauseCalls.length, 1, 'the agent asked the hub to pause');
      assert.deepEqual(await client.pauses(), [], 'the hub paused nothing');
      const task = await waitFor(async () => {
        const found = await client.get(id);
        return found.status === 'done' ? found : null;
      }, 'the task to be done after the reset');
      assert.equal(task?.result, 'after the reset');
      assert.equal(task?.attempts, 1);
      assert.equal(backend.runs, 2);
      // No lease was asked for between the give-back and the reset plus the margin.
      const until = resetsAt + marginS;
      const early = proxy.leases.filter((at) => at > proxy.pauseCalls[0]! && at < until);
      assert.deepEqual(early, [], `leases before ${until}: ${early.join(', ')}`);
      assert.ok(
        logs.some((line) =>
          /hit the five-hour usage limit; the hub cannot pause routes \(it predates `pause`\), so this agent leases nothing until/.test(
            line,
          ),
        ),
        logs.join('\n'),
      );
      assert.ok(logs.some((line) => /usage window should have reset; leasing again/.test(line)));
    } finally {
      await agent.stop(0);
      await running;
      client.close();
      await proxy.close();
      await hub.kill();
    }
  });
});

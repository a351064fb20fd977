/**
 * Being told, end to end: `mittelo run --notify URL` and `mittelo hub --webhook URL` against a
 * real HTTP server on port 0, `--notify-cmd` with a real shell, a dead webhook that is logged once
 * while the queue keeps going, and bad flags refused before anything starts.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import { startCli } from '../helpers/cli-process.ts';
import { makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

type Event = Record<string, unknown> & { event: string };

async function receiver(): Promise<{ url: string; events: Event[] }> {
  const events: Event[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let text = '';
    request.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    request.on('end', () => {
      events.push(JSON.parse(text) as Event);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, events };
}

function workspace(lines: string[]): { cwd: string; pack: string } {
  const cwd = makeTempDir('mittelo-notify-');
  cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
  const pack = join(cwd, 'pack.jsonl');
  writeFileSync(pack, `${lines.join('\n')}\n`);
  return { cwd, pack };
}

/** A shell backend that fails the prompt "bad" and answers every other. */
const FAIL_BAD = 'if [ "$(cat)" = bad ]; then echo broken >&2; exit 1; fi; echo ok';

describe('mittelo run --notify', () => {
  it('POSTs each failed task and, at the end, the run with its counts', async () => {
    const hook = await receiver();
    const { cwd, pack } = workspace(['{"prompt": "good"}', '{"prompt": "bad"}', '{"prompt": "fine"}']);
    const ran = await runCli(
      ['run', pack, '--agent', 'shell=1', '--shell-cmd', FAIL_BAD, '--notify', hook.url],
      {
        cwd,
      },
    );
    assert.equal(ran.code, 1, ran.stderr);
    const names = hook.events.map((event) => event.event);
    assert.deepEqual(names, ['task.failed', 'run.finished'], 'delivered before the command exits');
    const [failed, finished] = hook.events as [Event, Event];
    assert.equal(failed.source, 'run');
    assert.equal((failed.task as { prompt: string }).prompt, 'bad');
    const run = finished.run as Record<string, unknown>;
    assert.deepEqual(
      { ended: run.ended, total: run.total, done: run.done, failed: run.failed, unfinished: run.unfinished },
      { ended: 'finished', total: 3, done: 2, failed: 1, unfinished: 0 },
    );
    assert.ok(Number.isInteger(run.wall_ms));
    assert.match(String(run.results), /^\/.*results\.jsonl$/, 'an absolute path');
    assert.deepEqual(run.cost, { cost_usd: null, input_tokens: null, output_tokens: null });
  });

  it('--notify-cmd gets the same events as JSON on stdin', async () => {
    const { cwd, pack } = workspace(['{"prompt": "bad"}']);
    const out = join(cwd, 'events.jsonl');
    const ran = await runCli(
      ['run', pack, '--agent', 'shell=1', '--shell-cmd', FAIL_BAD, '--notify-cmd', `cat >> '${out}'`],
      { cwd },
    );
    assert.equal(ran.code, 1, ran.stderr);
    const events = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Event);
    assert.deepEqual(
      events.map((event) => event.event),
      ['task.failed', 'run.finished'],
    );
  });

  it('refuses a URL that is not http(s), and an empty command, before anything starts', async () => {
    const { cwd, pack } = workspace(['{"prompt": "a"}']);
    const bad = await runCli(['run', pack, '--agent', 'echo=1', '--notify', 'ftp://example.com/x'], { cwd });
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr.trim(),
      'mittelo: --notify must be an http:// or https:// URL (for example http://127.0.0.1:9000/hook), got "ftp://example.com/x"; nothing was started',
    );
    const empty = await runCli(['run', pack, '--agent', 'echo=1', '--notify-cmd', ' '], { cwd });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^mittelo: --notify-cmd needs a command/);
    const hub = await runCli(['hub', '--port', '0', '--webhook', 'not a url', '--db', join(cwd, 'h.db')], {
      cwd,
    });
    assert.equal(hub.code, 2);
    assert.match(hub.stderr, /^mittelo: --webhook must be an http:\/\/ or https:\/\/ URL/);
  });
});

describe('mittelo hub --webhook', () => {
  it('tells of tasks that failed for good, of a backend that turned unhealthy, and of a pause', async () => {
    const hook = await receiver();
    const hub = await startHubProcess({ args: ['--webhook', hook.url] });
    cleanups.push(() => hub.stop());
    const port = String(hub.port);
    const enqueued = await runCli(['enqueue', '--prompt', 'bad', '--port', port]);
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const failing = await runCli([
      'agent',
      '--backend',
      'shell',
      '--shell-cmd',
      FAIL_BAD,
      '--once',
      '--port',
      port,
    ]);
    assert.equal(failing.code, 0, failing.stderr);
    const failed = (await waitFor(
      () => hook.events.find((event) => event.event === 'task.failed'),
      'task.failed',
    ))!;
    assert.equal(failed.source, 'hub');
    assert.equal(failed.hub, `tcp://127.0.0.1:${hub.port}`);
    const task = failed.task as Record<string, unknown>;
    assert.equal(task.task_id, Number(enqueued.stdout.trim()));
    assert.match(String(task.error), /broken/);

    const sick = startCli([
      'agent',
      '--backend',
      'shell',
      '--shell-cmd',
      'mittelo-no-such-program',
      '--worker-id',
      'w-sick',
      '--port',
      port,
    ]);
    cleanups.push(() => sick.kill());
    const unhealthy = (await waitFor(
      () => hook.events.find((event) => event.event === 'backend.unhealthy'),
      'backend.unhealthy',
    ))!;
    assert.equal(unhealthy.backend, 'shell');
    assert.equal(unhealthy.worker_id, 'w-sick');
    assert.match(String(unhealthy.reason), /mittelo-no-such-program/);
    assert.ok(unhealthy.fix);

    const paused = await runCli(['pause', '--backend', 'codex', '--port', port]);
    assert.equal(paused.code, 0, paused.stderr);
    const told = (await waitFor(
      () => hook.events.find((event) => event.event === 'backend.paused'),
      'backend.paused',
    ))!;
    assert.equal(told.backend, 'codex');
  });

  it('a dead webhook is logged once, and the queue keeps going', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const hub = await startHubProcess({ args: ['--webhook', `http://127.0.0.1:${deadPort}/hook`] });
    cleanups.push(() => hub.stop());
    const client = new HubClient({ host: '127.0.0.1', port: hub.port });
    cleanups.push(() => client.close());
    await client.enqueueMany([{ prompt: 'bad' }, { prompt: 'bad' }, { prompt: 'bad' }]);
    const agent = startCli([
      'agent',
      '--backend',
      'shell',
      '--shell-cmd',
      FAIL_BAD,
      '--port',
      String(hub.port),
    ]);
    cleanups.push(() => agent.kill());
    await waitFor(
      async () => (await client.stats()).failed === 3,
      'every task failed while the webhook is down',
    );
    await waitFor(() => /webhook .* failed: ECONNREFUSED/.test(hub.stderr()), 'the outage line');
    await client.enqueueMany([{ prompt: 'good' }]);
    await waitFor(async () => (await client.stats()).done === 1, 'work goes on');
    agent.kill('SIGTERM');
    await agent.exit();
    assert.equal(await hub.stop(), 0);
    const outage = hub
      .stderr()
      .split('\n')
      .filter((line) => line.includes('failed: ECONNREFUSED'));
    assert.equal(outage.length, 1, hub.stderr());
    assert.match(outage[0]!, /^mittelo hub: webhook http:\/\/127\.0\.0\.1:\d+\/hook failed: ECONNREFUSED/);
  });
});

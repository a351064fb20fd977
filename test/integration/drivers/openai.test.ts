/**
 * The `openai` backend end to end: a real hub, a real `mittelo agent --backend openai` process,
 * and an OpenAI-compatible server in this test process (node:http on port 0) that the agent
 * reaches through MITTELO_OPENAI_BASE_URL. Success with usage; a key the server rejects (task
 * released, agent unhealthy with the fix); a server that is down (network, and the refusal under
 * --require-ready).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DriverBench, untilReleased, untilUnhealthy } from '../../helpers/driver-agent.ts';
import { HANG_GUARD_MS } from '../../helpers/hub-process.ts';
import { runCli } from '../../helpers/run-cli.ts';

/**
 * `ok` answers; `chat401` lists models but rejects chat requests, as llama-server started with
 * --api-key does (its /models is public), so the agent's preflight passes and the run fails.
 */
let mode: 'ok' | 'chat401' = 'ok';
const server = createServer((request, response) => {
  let raw = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => {
    raw += chunk;
  });
  request.on('end', () => {
    const reply = (status: number, value: unknown) =>
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (request.url === '/v1/models') return reply(200, { object: 'list', data: [{ id: 'local-model' }] });
    if (request.url !== '/v1/chat/completions') return reply(404, { error: { message: 'File Not Found' } });
    if (mode === 'chat401') return reply(401, { error: { code: 401, message: 'Invalid API Key' } });
    const body = JSON.parse(raw) as { model: string; messages: Array<{ content: string }> };
    return reply(200, {
      object: 'chat.completion',
      model: body.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: `local answer to: ${body.messages[0]?.content}` },
        },
      ],
      usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
    });
  });
});
let base = '';
/** A port nothing listens on. */
let deadBase = '';

const bench = new DriverBench();
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  deadBase = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/v1`;
  await new Promise((resolve) => probe.close(resolve));
});
after(async () => {
  server.closeAllConnections();
  server.close();
});

const openaiEnv = (baseUrl: string): NodeJS.ProcessEnv => ({
  MITTELO_OPENAI_BASE_URL: baseUrl,
  MITTELO_OPENAI_MODEL: '',
  MITTELO_OPENAI_API_KEY: '',
  OPENAI_API_KEY: '',
});

async function hubWithAgent(workerId: string, baseUrl: string, args: string[] = []) {
  return bench.start('openai', workerId, openaiEnv(baseUrl), args);
}

describe('backend openai (a local OpenAI-compatible server)', () => {
  it('answers through the server, with the usage and the model it found in GET /models', async () => {
    mode = 'ok';
    const { client } = await hubWithAgent('openai-ok', base);
    const id = await client.enqueue({ prompt: 'say hi', backend: 'openai' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'done', task.error ?? '');
    assert.equal(task.result, 'local answer to: say hi');
    assert.equal(task.usage?.input_tokens, 9);
    assert.equal(task.usage?.output_tokens, 4);
    assert.equal(task.usage?.model, 'local-model');
  });

  it('a key the server rejects: releases the task, reports the agent unhealthy with the fix', async () => {
    mode = 'chat401';
    const { client, agent } = await hubWithAgent('openai-401', base);
    const id = await client.enqueue({ prompt: 'say hi', backend: 'openai' });
    const info = await untilUnhealthy(client, 'openai-401');
    assert.match(
      info!.reason!,
      /openai: auth: POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions answered 401: Invalid API Key/,
    );
    assert.equal(info!.fix, 'set MITTELO_OPENAI_API_KEY to a key this server accepts');
    const task = await untilReleased(client, id);
    assert.equal(task.attempts, 0, 'a release is not an attempt');
    assert.equal(task.error_kind, 'auth');
    await agent.waitForStderr(/leases nothing until the backend is ready/);
  });

  it('server down: fails the task with kind network and the start-the-server fix', async () => {
    const { client } = await hubWithAgent('openai-down', deadBase, ['--no-preflight']);
    const id = await client.enqueue({ prompt: 'say hi', backend: 'openai' });
    const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
    const task = tasks[0]!;
    assert.equal(task.status, 'failed');
    assert.equal(task.error_kind, 'network');
    assert.match(task.error!, /could not reach http:\/\/127\.0\.0\.1:\d+\/v1\/models: .*ECONNREFUSED/);
    assert.match(task.error_fix!, /^start the server \(llama-server -m model\.gguf --port 8080/);
  });

  it('server down, with --require-ready: refuses to start, printing the fix', async () => {
    const ran = await runCli(['agent', '--backend', 'openai', '--require-ready', '--port', '1'], {
      env: openaiEnv(deadBase),
    });
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(
      ran.stderr,
      /\[openai\] fail: could not reach http:\/\/127\.0\.0\.1:\d+\/v1\/models: .*ECONNREFUSED/,
    );
    assert.match(
      ran.stderr,
      /fix: start the server \(llama-server -m model\.gguf --port 8080, `ollama serve`/,
    );
  });
});

/**
 * The `openai` backend against a real local HTTP server (node:http on port 0) that answers like
 * an OpenAI-compatible one: `GET /v1/models` and `POST /v1/chat/completions`, with modes for
 * success, 401, 404 (unknown model), 429, 500, slow, and a body that is not JSON. Covers every
 * failure kind the backend can report, the key rules, the output cap and the model discovery.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { capText, modelIds, openaiBackend } from '../../src/backends/openai.ts';
import { openaiConfig } from '../../src/backends/openai-config.ts';
import { httpFailure, serverMessage } from '../../src/backends/openai-errors.ts';
import { cutNote } from '../../src/backends/outcome.ts';
import { createBackend } from '../../src/backends/registry.ts';
import type { BackendOutcome } from '../../src/backends/types.ts';
import { unusedPort } from '../helpers/ports.ts';

type Mode = 'ok' | '401' | 'chat401' | '404' | '429' | '500' | 'slow' | 'not_json' | 'no_models' | 'big';

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> | null;
}

const MODELS = ['qwen2.5-1.5b-instruct', 'llama3.2:latest', 'a', 'b', 'c', 'd'];
const json = (status: number, value: unknown) => ({ status, body: JSON.stringify(value) });

function answer(mode: Mode, path: string, body: Record<string, unknown> | null) {
  if (path === '/v1/models') {
    if (mode === '401')
      return json(401, { error: { message: 'Invalid API Key', type: 'authentication_error' } });
    if (mode === 'not_json') return { status: 200, body: '<!doctype html><title>web ui</title>' };
    if (mode === 'no_models') return json(200, { object: 'list', data: [] });
    return json(200, {
      object: 'list',
      data: MODELS.map((id) => ({ id, object: 'model', owned_by: 'local' })),
    });
  }
  if (path !== '/v1/chat/completions') return json(404, { error: { message: `File Not Found: ${path}` } });
  if (mode === '401' || mode === 'chat401')
    return json(401, { error: { code: 401, message: 'Invalid API Key', type: 'authentication_error' } });
  if (mode === '404')
    return json(404, {
      error: { message: `model "${body?.model}" not found, try pulling it first`, type: 'api_error' },
    });
  if (mode === '429') return json(429, { error: { message: 'Too many requests', type: 'rate_limit_error' } });
  if (mode === '500')
    return json(500, { error: { code: 500, message: 'llama_decode failed: out of memory' } });
  if (mode === 'not_json') return { status: 200, body: '<!doctype html><title>web ui</title>' };
  const messages = body?.messages as Array<{ content: string }>;
  const content = mode === 'big' ? 'ä'.repeat(100) : `echo: ${messages.at(-1)?.content}`;
  return json(200, {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    model: String(body?.model),
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
  });
}

const server = {
  mode: 'ok' as Mode,
  seen: [] as Seen[],
  base: '',
  http: createServer((request, response) => {
    let raw = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      raw += chunk;
    });
    request.on('end', () => {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : null;
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      server.seen.push({ method: request.method ?? '', path, headers: request.headers, body });
      const reply = answer(server.mode, path, body);
      const send = () =>
        response.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
      if (server.mode === 'slow' && path === '/v1/chat/completions') setTimeout(send, 5000).unref();
      else send();
    });
  }),
};

before(async () => {
  await new Promise<void>((resolve) => server.http.listen(0, '127.0.0.1', resolve));
  server.base = `http://127.0.0.1:${(server.http.address() as AddressInfo).port}/v1`;
});
after(() => {
  server.http.closeAllConnections();
  server.http.close();
});
beforeEach(() => {
  server.mode = 'ok';
  server.seen = [];
});

const task = { task_id: 7, prompt: 'say hi', worker_id: 'w1' };
const context = (
  extra: Partial<{ timeoutMs: number; maxOutputBytes: number; signal: AbortSignal }> = {},
) => ({
  signal: new AbortController().signal,
  timeoutMs: 10_000,
  maxOutputBytes: 1 << 20,
  ...extra,
});
const envFor = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  MITTELO_OPENAI_BASE_URL: server.base,
  MITTELO_OPENAI_MODEL: 'qwen2.5-1.5b-instruct',
  ...extra,
});

function failure(outcome: BackendOutcome) {
  assert.equal(outcome.ok, false, JSON.stringify(outcome));
  if (outcome.ok) throw new Error('unreachable');
  return outcome;
}

describe('openai backend: runs', () => {
  it('is a built-in backend', () => {
    assert.equal(createBackend('openai', { env: envFor() }).name, 'openai');
  });

  it('posts the prompt as one user message and answers with the content and the usage', async () => {
    const outcome = await openaiBackend({ env: envFor() }).run(task, context());
    assert.deepEqual(outcome, {
      ok: true,
      output: 'echo: say hi',
      usage: { input_tokens: 12, output_tokens: 5, model: 'qwen2.5-1.5b-instruct' },
    });
    const chat = server.seen.find((r) => r.path === '/v1/chat/completions')!;
    assert.equal(chat.method, 'POST');
    assert.deepEqual(chat.body, {
      model: 'qwen2.5-1.5b-instruct',
      messages: [{ role: 'user', content: 'say hi' }],
      stream: false,
    });
    assert.equal(chat.headers.authorization, undefined, 'no key configured, none sent');
    assert.equal(server.seen.length, 1, 'a configured model needs no GET /models');
  });

  it('--model wins over MITTELO_OPENAI_MODEL; MITTELO_OPENAI_MAX_TOKENS becomes max_tokens', async () => {
    await openaiBackend({ env: envFor({ MITTELO_OPENAI_MAX_TOKENS: '64' }), model: 'llama3.2' }).run(
      task,
      context(),
    );
    assert.equal(server.seen[0]!.body?.model, 'llama3.2');
    assert.equal(server.seen[0]!.body?.max_tokens, 64);
  });

  it('sends MITTELO_OPENAI_API_KEY as a bearer key, but never OPENAI_API_KEY to a server other than api.openai.com', async () => {
    await openaiBackend({
      env: envFor({ MITTELO_OPENAI_API_KEY: 'sk-local', OPENAI_API_KEY: 'sk-paid' }),
    }).run(task, context());
    assert.equal(server.seen[0]!.headers.authorization, 'Bearer sk-local');
    server.seen = [];
    await openaiBackend({ env: envFor({ OPENAI_API_KEY: 'sk-paid' }) }).run(task, context());
    assert.equal(server.seen[0]!.headers.authorization, undefined);
  });

  it('without a model, uses the first one GET /models lists (asked once)', async () => {
    const backend = openaiBackend({ env: envFor({ MITTELO_OPENAI_MODEL: '' }) });
    const first = await backend.run(task, context());
    assert.equal(first.ok && first.usage?.model, 'qwen2.5-1.5b-instruct');
    await backend.run(task, context());
    assert.deepEqual(
      server.seen.map((r) => `${r.method} ${r.path}`),
      ['GET /v1/models', 'POST /v1/chat/completions', 'POST /v1/chat/completions'],
    );
  });

  it('without a model and none listed: config, with the fix', async () => {
    server.mode = 'no_models';
    const outcome = failure(
      await openaiBackend({ env: envFor({ MITTELO_OPENAI_MODEL: '' }) }).run(task, context()),
    );
    assert.equal(outcome.kind, 'config');
    assert.match(outcome.fix!, /set MITTELO_OPENAI_MODEL/);
  });

  it('cuts an answer over the output cap on a character boundary, with the process runner note', async () => {
    server.mode = 'big';
    const outcome = await openaiBackend({ env: envFor() }).run(task, context({ maxOutputBytes: 11 }));
    assert.equal(outcome.ok, true);
    if (!outcome.ok) return;
    assert.equal(outcome.output, `${'ä'.repeat(5)}\n${cutNote('output', 11, 190)}`);
  });

  it('401: auth, with the key fix and which key was sent', async () => {
    server.mode = '401';
    const outcome = failure(
      await openaiBackend({ env: envFor({ OPENAI_API_KEY: 'sk-paid' }) }).run(task, context()),
    );
    assert.equal(outcome.kind, 'auth');
    assert.match(
      outcome.error,
      /answered 401: Invalid API Key \(key sent: none \(OPENAI_API_KEY is set but only sent to api\.openai\.com/,
    );
    assert.equal(outcome.fix, 'set MITTELO_OPENAI_API_KEY to a key this server accepts');
  });

  it('404 for the model: config, pointing at MITTELO_OPENAI_MODEL and GET /models', async () => {
    server.mode = '404';
    const outcome = failure(await openaiBackend({ env: envFor(), model: 'nope' }).run(task, context()));
    assert.equal(outcome.kind, 'config');
    assert.match(outcome.error, /model "nope" not found/);
    assert.equal(
      outcome.fix,
      `set MITTELO_OPENAI_MODEL (or --model) to a model the server has; list them with GET ${server.base}/models`,
    );
  });

  it('404 for the path: config, pointing at the base URL', async () => {
    const outcome = failure(
      await openaiBackend({
        env: envFor({ MITTELO_OPENAI_BASE_URL: server.base.replace('/v1', '/v2') }),
      }).run(task, context()),
    );
    assert.equal(outcome.kind, 'config');
    assert.match(outcome.fix!, /check MITTELO_OPENAI_BASE_URL/);
  });

  it('429: rate_limit', async () => {
    server.mode = '429';
    const outcome = failure(await openaiBackend({ env: envFor() }).run(task, context()));
    assert.equal(outcome.kind, 'rate_limit');
    assert.match(outcome.fix!, /wait and retry/);
  });

  it('500: unknown, with the server body', async () => {
    server.mode = '500';
    const outcome = failure(await openaiBackend({ env: envFor() }).run(task, context()));
    assert.equal(outcome.kind, 'unknown');
    assert.match(outcome.error, /answered 500: llama_decode failed: out of memory/);
  });

  it('a 200 that is not JSON: config (the base URL is some other web server)', async () => {
    server.mode = 'not_json';
    const outcome = failure(await openaiBackend({ env: envFor() }).run(task, context()));
    assert.equal(outcome.kind, 'config');
    assert.match(outcome.error, /not JSON: <!doctype html>/);
  });

  it('slow: timeout after the task timeout', async () => {
    server.mode = 'slow';
    const started = Date.now();
    const outcome = failure(await openaiBackend({ env: envFor() }).run(task, context({ timeoutMs: 200 })));
    assert.equal(outcome.kind, 'timeout');
    assert.match(outcome.error, /did not answer within the timeout of 0\.2 s/);
    assert.ok(Date.now() - started < 3000);
  });

  it('canceled: stops at once', async () => {
    server.mode = 'slow';
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const outcome = failure(
      await openaiBackend({ env: envFor() }).run(task, context({ signal: controller.signal })),
    );
    assert.match(outcome.error, /was stopped/);
    assert.ok(Date.now() - started < 3000);
  });

  it('server down: network, with the start-the-server fix', async () => {
    const base = `http://127.0.0.1:${await unusedPort()}/v1`;
    const outcome = failure(
      await openaiBackend({ env: envFor({ MITTELO_OPENAI_BASE_URL: base }) }).run(task, context()),
    );
    assert.equal(outcome.kind, 'network');
    assert.match(
      outcome.error,
      /could not reach http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: .*ECONNREFUSED/,
    );
    assert.match(outcome.fix!, /start the server \(llama-server -m model\.gguf --port 8080, `ollama serve`/);
  });

  it('a bad base URL or max tokens: config, before any request', async () => {
    for (const env of [
      envFor({ MITTELO_OPENAI_BASE_URL: 'localhost:8080' }),
      envFor({ MITTELO_OPENAI_BASE_URL: 'not a url' }),
      envFor({ MITTELO_OPENAI_MAX_TOKENS: 'lots' }),
    ]) {
      const outcome = failure(await openaiBackend({ env }).run(task, context()));
      assert.equal(outcome.kind, 'config');
      assert.ok(outcome.fix);
    }
    assert.equal(server.seen.length, 0);
  });
});

describe('openai backend: preflight', () => {
  it('ready: the base URL, the first models, the model and which key', async () => {
    const report = await openaiBackend({ env: envFor({ MITTELO_OPENAI_API_KEY: 'sk-local' }) }).preflight();
    assert.equal(report.ready, true, JSON.stringify(report));
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.details, {
      base_url: server.base,
      auth: 'MITTELO_OPENAI_API_KEY',
      models: 'qwen2.5-1.5b-instruct, llama3.2:latest, a, b, c, … (6 in all)',
      model: 'qwen2.5-1.5b-instruct',
    });
    assert.equal(server.seen[0]!.headers.authorization, 'Bearer sk-local');
  });

  it('no model configured: says it uses the first listed one', async () => {
    const report = await openaiBackend({ env: envFor({ MITTELO_OPENAI_MODEL: '' }) }).preflight();
    assert.equal(report.ready, true);
    assert.match(
      report.details!.model!,
      /^qwen2\.5-1\.5b-instruct \(the first model the server lists; set MITTELO_OPENAI_MODEL/,
    );
  });

  it("a model the server does not list: a warning (Ollama's :latest counts as listed)", async () => {
    assert.deepEqual((await openaiBackend({ env: envFor(), model: 'llama3.2' }).preflight()).problems, []);
    const report = await openaiBackend({ env: envFor(), model: 'nope' }).preflight();
    assert.equal(report.ready, true);
    assert.equal(report.problems[0]!.severity, 'warn');
    assert.equal(report.problems[0]!.kind, 'config');
    assert.match(report.problems[0]!.message, /does not list model "nope"/);
  });

  it('401: fail auth', async () => {
    server.mode = '401';
    const report = await openaiBackend({ env: envFor() }).preflight();
    assert.equal(report.ready, false);
    assert.equal(report.problems[0]!.kind, 'auth');
    assert.match(report.problems[0]!.fix!, /MITTELO_OPENAI_API_KEY/);
  });

  it('unreachable: fail network with the fix', async () => {
    const base = `http://127.0.0.1:${await unusedPort()}/v1`;
    const report = await openaiBackend({ env: envFor({ MITTELO_OPENAI_BASE_URL: base }) }).preflight();
    assert.equal(report.ready, false);
    assert.equal(report.problems[0]!.kind, 'network');
    assert.match(report.problems[0]!.message, /could not reach .*\/v1\/models/);
    assert.match(report.problems[0]!.fix!, /start the server/);
    assert.equal(report.details?.base_url, base);
  });

  it('something that is not an OpenAI-compatible API: fail config', async () => {
    server.mode = 'not_json';
    const report = await openaiBackend({ env: envFor() }).preflight();
    assert.equal(report.problems[0]!.kind, 'config');
    assert.match(report.problems[0]!.fix!, /MITTELO_OPENAI_BASE_URL/);
  });

  it('no model anywhere: fail config', async () => {
    server.mode = 'no_models';
    const report = await openaiBackend({ env: envFor({ MITTELO_OPENAI_MODEL: '' }) }).preflight();
    assert.equal(report.ready, false);
    assert.equal(report.problems[0]!.kind, 'config');
  });
});

describe('openai backend: pieces', () => {
  it('defaults to llama-server on 127.0.0.1:8080, trims a trailing slash, and sends OPENAI_API_KEY to api.openai.com only', () => {
    const local = openaiConfig({ OPENAI_API_KEY: 'sk-paid' }, undefined);
    assert.ok('config' in local);
    assert.equal(local.config.baseUrl, 'http://127.0.0.1:8080/v1');
    assert.equal(local.config.apiKey, undefined);
    const hosted = openaiConfig(
      { MITTELO_OPENAI_BASE_URL: 'https://api.openai.com/v1/', OPENAI_API_KEY: 'sk-paid' },
      'gpt-x',
    );
    assert.ok('config' in hosted);
    assert.equal(hosted.config.baseUrl, 'https://api.openai.com/v1');
    assert.equal(hosted.config.apiKey, 'sk-paid');
    assert.equal(hosted.config.model, 'gpt-x');
  });

  it("reads the server's words from OpenAI, Ollama and plain bodies", () => {
    assert.equal(serverMessage('{"error":{"message":"bad"}}'), 'bad');
    assert.equal(serverMessage('{"error":"model not found"}'), 'model not found');
    assert.equal(serverMessage('Bad Gateway'), 'Bad Gateway');
    assert.equal(serverMessage(''), '(empty body)');
  });

  it('maps 403 to auth and other statuses to unknown', () => {
    const request = { method: 'POST', url: 'u', baseUrl: 'b', keySource: 'none' };
    assert.equal(httpFailure(403, '', request).kind, 'auth');
    assert.equal(httpFailure(400, '{"error":{"message":"context too long"}}', request).kind, 'unknown');
    assert.equal(httpFailure(500, 'out of memory', request).kind, 'unknown');
  });

  it('maps 429, 529 and 5xx with Retry-After to limit kinds', () => {
    const request = { method: 'POST', url: 'u', baseUrl: 'b', keySource: 'none', nowMs: 1_778_560_000_000 };
    const burst = httpFailure(429, '', { ...request, retryAfter: '2' });
    assert.equal(burst.kind, 'rate_limit');
    assert.equal(burst.retry_after_s, 2);
    assert.equal(httpFailure(429, '', request).retry_after_s, undefined);
    const quota = httpFailure(429, '', { ...request, retryAfter: '3600' });
    assert.equal(quota.kind, 'usage_limit');
    assert.equal(quota.resets_at, 1_778_560_000 + 3600);
    const dated = httpFailure(429, '', {
      ...request,
      retryAfter: new Date(1_778_560_000_000 + 7200_000).toUTCString(),
    });
    assert.equal(dated.kind, 'usage_limit');
    assert.equal(dated.resets_at, 1_778_560_000 + 7200);
    assert.equal(
      httpFailure(529, '{"type":"error","error":{"type":"overloaded_error"}}', request).kind,
      'overloaded',
    );
    const loading = httpFailure(503, 'Loading model', { ...request, retryAfter: '5' });
    assert.equal(loading.kind, 'overloaded');
    assert.equal(loading.retry_after_s, 5);
  });

  it('lists model ids from OpenAI and Ollama shapes', () => {
    assert.deepEqual(modelIds('{"data":[{"id":"a"},{"id":"b"}]}'), ['a', 'b']);
    assert.deepEqual(modelIds('{"models":[{"name":"llama3.2:latest"}]}'), ['llama3.2:latest']);
    assert.equal(modelIds('<html>'), null);
  });

  it('cuts on UTF-8 character boundaries', () => {
    assert.deepEqual(capText('abc', 3), { text: 'abc', cut: 0 });
    assert.deepEqual(capText('aää', 4), { text: 'aä', cut: 2 });
    assert.deepEqual(capText('ää', 1), { text: '', cut: 4 });
  });
});

/**
 * The `openai` backend: any OpenAI-compatible chat-completions server — llama.cpp's llama-server,
 * Ollama, LM Studio, mlx_lm.server, or a hosted API. No process: one `POST {base}/chat/completions`
 * per task, bounded by the task's timeout and canceled with it, its answer capped like a
 * process's output. Without a configured model, the first one `GET {base}/models` lists is used.
 */
import { DEFAULT_BASE_URL, type OpenAiConfig, openaiConfig } from './openai-config.ts';
import { type Failure, httpFailure, START_SERVER_FIX, serverMessage, unreachable } from './openai-errors.ts';
import { cutNote } from './outcome.ts';
import {
  type Backend,
  type BackendOutcome,
  type BackendTask,
  type PreflightProblem,
  type PreflightReport,
  type RunContext,
  readyReport,
} from './types.ts';

export interface OpenAiSettings {
  /** The environment to read MITTELO_OPENAI_* from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** --model; else MITTELO_OPENAI_MODEL. */
  model?: string | undefined;
}

/** A server that cannot list its models within this long is not one to send tasks to. */
const PREFLIGHT_TIMEOUT_MS = 5000;
const MODELS_SHOWN = 5;
const SNIPPET_CHARS = 300;
const BASE_URL_FIX =
  "check MITTELO_OPENAI_BASE_URL: it should be the server's OpenAI-compatible root, usually ending in /v1";

type Reply = { status: number; ok: boolean; body: string; retryAfter: string | null } | { thrown: unknown };

async function call(
  config: OpenAiConfig,
  method: 'GET' | 'POST',
  url: string,
  signal: AbortSignal,
  payload?: unknown,
): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  try {
    const response = await fetch(url, {
      method,
      headers,
      signal,
      ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
    });
    return {
      status: response.status,
      ok: response.ok,
      body: await response.text(),
      retryAfter: response.headers.get('retry-after'),
    };
  } catch (thrown) {
    return { thrown };
  }
}

function snippet(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > SNIPPET_CHARS ? `${trimmed.slice(0, SNIPPET_CHARS)}…` : trimmed;
}

/** At most `maxBytes` of UTF-8, cut on a character boundary; `cut` counts the bytes dropped. */
export function capText(text: string, maxBytes: number): { text: string; cut: number } {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return { text, cut: 0 };
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return { text: bytes.subarray(0, end).toString('utf8'), cut: bytes.length - end };
}

/** The model ids of a `GET /models` body (`{data: [{id}]}`; Ollama's `{models: [{name}]}` too), or null. */
export function modelIds(body: string): string[] | null {
  try {
    const parsed = JSON.parse(body) as { data?: unknown; models?: unknown };
    const list = Array.isArray(parsed?.data)
      ? parsed.data
      : Array.isArray(parsed?.models)
        ? parsed.models
        : null;
    if (!list) return null;
    return list
      .map((entry) => (entry as { id?: unknown; name?: unknown })?.id ?? (entry as { name?: unknown })?.name)
      .filter((id): id is string => typeof id === 'string');
  } catch {
    return null;
  }
}

/** The answer of a chat completion, with its usage; a failure when the body is not one. */
export function completionOutcome(
  body: string,
  request: { url: string; model: string; maxOutputBytes: number },
): BackendOutcome {
  let parsed: {
    model?: unknown;
    choices?: Array<{ message?: { content?: unknown } }>;
    usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
  };
  try {
    parsed = JSON.parse(body);
  } catch {
    return {
      ok: false,
      kind: 'config',
      error: `${request.url} answered with something that is not JSON: ${snippet(body)}`,
      fix: BASE_URL_FIX,
    };
  }
  const content = parsed?.choices?.[0]?.message?.content;
  if (typeof content !== 'string') {
    return {
      ok: false,
      kind: 'unknown',
      error: `${request.url} answered without choices[0].message.content: ${snippet(body)}`,
    };
  }
  const usage: Record<string, unknown> = {};
  if (typeof parsed.usage?.prompt_tokens === 'number') usage.input_tokens = parsed.usage.prompt_tokens;
  if (typeof parsed.usage?.completion_tokens === 'number')
    usage.output_tokens = parsed.usage.completion_tokens;
  usage.model = typeof parsed.model === 'string' && parsed.model ? parsed.model : request.model;
  const capped = capText(content, request.maxOutputBytes);
  const output =
    capped.cut > 0 ? `${capped.text}\n${cutNote('output', request.maxOutputBytes, capped.cut)}` : capped.text;
  return { ok: true, output, usage };
}

function failed(failure: Failure): BackendOutcome {
  return { ok: false, ...failure };
}

function problem(failure: Failure, severity: 'fail' | 'warn' = 'fail'): PreflightProblem {
  return {
    severity,
    kind: failure.kind,
    message: failure.error,
    ...(failure.fix ? { fix: failure.fix } : {}),
  };
}

const OPENAI_SETUP = [
  "start an OpenAI-compatible server: llama-server -m model.gguf --port 8080 (or `ollama serve`, LM Studio's server, `mlx_lm.server --port 8080`)",
  `export MITTELO_OPENAI_BASE_URL=${DEFAULT_BASE_URL} MITTELO_OPENAI_MODEL=<an id from GET /models> (and MITTELO_OPENAI_API_KEY=<key> if the server wants one)`,
];

const NO_MODEL: Failure = {
  kind: 'config',
  error: 'no model: MITTELO_OPENAI_MODEL is not set and the server lists none',
  fix: 'set MITTELO_OPENAI_MODEL (or --model), or load a model into the server (e.g. `ollama pull <model>`)',
};

export function openaiBackend(settings: OpenAiSettings = {}): Backend {
  const env = settings.env ?? process.env;
  /** The first model the server listed, used while none is configured. */
  let discovered: string | undefined;

  async function listModels(
    config: OpenAiConfig,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<{ failure: Failure } | { ids: string[] }> {
    const url = `${config.baseUrl}/models`;
    const reply = await call(config, 'GET', url, signal);
    if ('thrown' in reply) {
      if (signal.aborted) {
        return {
          failure: {
            kind: 'network',
            error: `${url} did not answer within ${timeoutMs / 1000} s`,
            fix: START_SERVER_FIX,
          },
        };
      }
      return { failure: unreachable(url, reply.thrown) };
    }
    if (reply.status === 404) {
      return {
        failure: {
          kind: 'config',
          error: `GET ${url} answered 404: ${serverMessage(reply.body)}`,
          fix: BASE_URL_FIX,
        },
      };
    }
    if (!reply.ok)
      return {
        failure: httpFailure(reply.status, reply.body, {
          method: 'GET',
          url,
          ...requestOf(config),
          retryAfter: reply.retryAfter,
        }),
      };
    const ids = modelIds(reply.body);
    if (!ids) {
      return {
        failure: {
          kind: 'config',
          error: `GET ${url} did not answer with a model list: ${snippet(reply.body)}`,
          fix: BASE_URL_FIX,
        },
      };
    }
    return { ids };
  }

  async function run(task: BackendTask, context: RunContext): Promise<BackendOutcome> {
    const resolved = openaiConfig(env, settings.model);
    if ('problem' in resolved) return failed({ kind: 'config', ...toFailure(resolved.problem) });
    const config = resolved.config;
    const timeout = AbortSignal.timeout(context.timeoutMs);
    const signal = AbortSignal.any([context.signal, timeout]);
    const seconds = Number((context.timeoutMs / 1000).toFixed(3));
    const stopped = (url: string, thrown: unknown): BackendOutcome => {
      if (context.signal.aborted)
        return {
          ok: false,
          kind: 'unknown',
          error: `the request to ${url} was stopped (task canceled or agent stopping)`,
        };
      if (timeout.aborted)
        return {
          ok: false,
          kind: 'timeout',
          error: `${url} did not answer within the timeout of ${seconds} s`,
          fix: "raise the task's timeout_s (or the agent's --timeout-s), or split the task; a local model may need a smaller model or MITTELO_OPENAI_MAX_TOKENS",
        };
      return failed(unreachable(url, thrown));
    };

    let model = config.model ?? discovered;
    if (!model) {
      const listed = await listModels(config, signal, context.timeoutMs);
      if ('failure' in listed) {
        if (context.signal.aborted || timeout.aborted) return stopped(`${config.baseUrl}/models`, null);
        return failed(listed.failure);
      }
      model = listed.ids[0];
      if (!model) return failed(NO_MODEL);
      discovered = model;
    }

    const url = `${config.baseUrl}/chat/completions`;
    const payload = {
      model,
      messages: [{ role: 'user', content: task.prompt }],
      stream: false,
      ...(config.maxTokens ? { max_tokens: config.maxTokens } : {}),
    };
    const reply = await call(config, 'POST', url, signal, payload);
    if ('thrown' in reply) return stopped(url, reply.thrown);
    if (!reply.ok)
      return failed(
        httpFailure(reply.status, reply.body, {
          method: 'POST',
          url,
          ...requestOf(config),
          retryAfter: reply.retryAfter,
        }),
      );
    return completionOutcome(reply.body, { url, model, maxOutputBytes: context.maxOutputBytes });
  }

  async function preflight(): Promise<PreflightReport> {
    const resolved = openaiConfig(env, settings.model);
    if ('problem' in resolved)
      return readyReport('openai', [problem({ kind: 'config', ...toFailure(resolved.problem) })]);
    const config = resolved.config;
    const details: Record<string, string> = { base_url: config.baseUrl, auth: config.keySource };
    const listed = await listModels(config, AbortSignal.timeout(PREFLIGHT_TIMEOUT_MS), PREFLIGHT_TIMEOUT_MS);
    if ('failure' in listed) return readyReport('openai', [problem(listed.failure)], details);
    const { ids } = listed;
    details.models =
      ids.length === 0
        ? '(none)'
        : ids.slice(0, MODELS_SHOWN).join(', ') +
          (ids.length > MODELS_SHOWN ? `, … (${ids.length} in all)` : '');
    const problems: PreflightProblem[] = [];
    if (config.model) {
      details.model = config.model;
      // Ollama takes `llama3.2` for `llama3.2:latest`; llama-server answers with its one model
      // whatever the name, so an unlisted model is a warning, not a failure.
      if (ids.length > 0 && !ids.includes(config.model) && !ids.includes(`${config.model}:latest`)) {
        problems.push({
          severity: 'warn',
          kind: 'config',
          message: `the server does not list model "${config.model}" (it lists ${details.models}); most servers will answer 404`,
          fix: 'set MITTELO_OPENAI_MODEL (or --model) to one of the listed ids',
        });
      }
    } else if (ids[0]) {
      discovered = ids[0];
      details.model = `${ids[0]} (the first model the server lists; set MITTELO_OPENAI_MODEL or --model to choose)`;
    } else {
      problems.push(problem(NO_MODEL));
    }
    return readyReport('openai', problems, details);
  }

  return { name: 'openai', run, preflight, setup: OPENAI_SETUP };
}

function requestOf(config: OpenAiConfig) {
  return { baseUrl: config.baseUrl, keySource: config.keySource };
}

function toFailure(configProblem: { message: string; fix: string }): Omit<Failure, 'kind'> {
  return { error: configProblem.message, fix: configProblem.fix };
}

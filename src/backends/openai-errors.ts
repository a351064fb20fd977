/**
 * What a failed call to an OpenAI-compatible server means: the failure kind and a fix, from the
 * HTTP status (and body) or from the error fetch threw. Pure, so every case is unit-tested.
 */
import type { FailureKind } from './types.ts';

export const START_SERVER_FIX =
  "start the server (llama-server -m model.gguf --port 8080, `ollama serve`, LM Studio's server) or set MITTELO_OPENAI_BASE_URL";
const KEY_FIX = 'set MITTELO_OPENAI_API_KEY to a key this server accepts';
/** Enough of an error body to see what the server said. */
const BODY_CHARS = 1000;

export interface Failure {
  kind: FailureKind;
  error: string;
  fix?: string;
}

/** The server's own words: OpenAI's `{error: {message}}`, Ollama's `{error: "..."}`, or the body. */
export function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const error = parsed?.error;
    if (typeof error === 'string') return error;
    if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string')
      return (error as { message: string }).message;
    for (const key of ['message', 'detail'])
      if (typeof parsed?.[key] === 'string') return parsed[key] as string;
  } catch {
    // not JSON: the raw body says it
  }
  const text = body.trim();
  return text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS)}…` : text || '(empty body)';
}

/** Why fetch threw, with the system error code when there is one (ECONNREFUSED, ENOTFOUND, ...). */
export function describeFetchError(error: unknown): string {
  const err = error as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err?.cause;
  if (cause?.message)
    return cause.code && !cause.message.includes(cause.code)
      ? `${cause.code}: ${cause.message}`
      : cause.message;
  return err?.message ?? String(error);
}

/** fetch threw without a timeout or an abort: the server cannot be reached. */
export function unreachable(url: string, error: unknown): Failure {
  return {
    kind: 'network',
    error: `could not reach ${url}: ${describeFetchError(error)}`,
    fix: START_SERVER_FIX,
  };
}

/** A non-2xx answer. `keySource` says which key was sent (see openai-config.ts). */
export function httpFailure(
  status: number,
  body: string,
  request: { method: string; url: string; baseUrl: string; keySource: string },
): Failure {
  const said = serverMessage(body);
  const error = `${request.method} ${request.url} answered ${status}: ${said}`;
  if (status === 401 || status === 403) {
    return { kind: 'auth', error: `${error} (key sent: ${request.keySource})`, fix: KEY_FIX };
  }
  if (status === 404) {
    return /model/i.test(said)
      ? {
          kind: 'config',
          error,
          fix: `set MITTELO_OPENAI_MODEL (or --model) to a model the server has; list them with GET ${request.baseUrl}/models`,
        }
      : {
          kind: 'config',
          error,
          fix: `check MITTELO_OPENAI_BASE_URL (${request.baseUrl}): it should be the server's OpenAI-compatible root, usually ending in /v1`,
        };
  }
  if (status === 429) {
    return {
      kind: 'rate_limit',
      error,
      fix: 'wait and retry (the task is retried with backoff while attempts remain), or run fewer agents against this server',
    };
  }
  return { kind: 'unknown', error };
}

/**
 * What a failed call to an OpenAI-compatible server means: the failure kind and a fix, from the
 * HTTP status (and body) or from the error fetch threw. Pure, so every case is unit-tested.
 */
import type { FailureKind, LimitDetails } from './types.ts';
import { retryAfterSeconds } from './usage-limits.ts';

export const START_SERVER_FIX =
  "start the server (llama-server -m model.gguf --port 8080, `ollama serve`, LM Studio's server) or set MITTELO_OPENAI_BASE_URL";
const KEY_FIX = 'set MITTELO_OPENAI_API_KEY to a key this server accepts';
/** Enough of an error body to see what the server said. */
const BODY_CHARS = 1000;

export interface Failure extends LimitDetails {
  kind: FailureKind;
  error: string;
  fix?: string;
}

/**
 * A 429 whose Retry-After is longer than this is a spent quota window, not a burst: the backend is
 * paused until then (kind `usage_limit`) rather than the task retried soon.
 */
export const LONG_RETRY_AFTER_S = 300;
/**
 * The statuses of an overloaded or briefly failing server (529 is Anthropic's "overloaded"):
 * retried with backoff. A 500 is not among them: it is the server's own error (out of memory).
 */
const TRANSIENT_STATUSES = new Set([502, 503, 504, 529]);

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
  request: {
    method: string;
    url: string;
    baseUrl: string;
    keySource: string;
    /** The answer's Retry-After header, if any. */
    retryAfter?: string | null;
    nowMs?: number;
  },
): Failure {
  const nowMs = request.nowMs ?? Date.now();
  const retryAfter = retryAfterSeconds(request.retryAfter, nowMs);
  const after = retryAfter !== null ? { retry_after_s: retryAfter } : {};
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
  if (status === 429 && retryAfter !== null && retryAfter > LONG_RETRY_AFTER_S) {
    return {
      kind: 'usage_limit',
      error: `${error} (Retry-After: ${request.retryAfter})`,
      fix: 'wait for the quota to reset (the agent pauses this backend until then and its tasks wait), or raise the quota',
      resets_at: Math.round(nowMs / 1000 + retryAfter),
      window: null,
    };
  }
  if (status === 429) {
    return {
      kind: 'rate_limit',
      error,
      fix: 'wait and retry (the task is retried with backoff, up to 5 times without spending an attempt), or run fewer agents against this server',
      ...after,
    };
  }
  if (TRANSIENT_STATUSES.has(status)) {
    return {
      kind: 'overloaded',
      error,
      fix: 'the server is overloaded or failing for a moment: the task is retried with backoff (up to 5 times without spending an attempt)',
      ...after,
    };
  }
  return { kind: 'unknown', error };
}

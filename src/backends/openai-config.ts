/**
 * The `openai` backend's settings, from the environment (and --model): which server, which
 * model, which key, how many tokens. Problems come back as messages with their fix, never thrown.
 */

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080/v1';
const OPENAI_HOST = 'api.openai.com';

export interface OpenAiConfig {
  /** Up to and including `/v1`, without a trailing slash. */
  baseUrl: string;
  /** --model, else MITTELO_OPENAI_MODEL; undefined: the first model the server lists. */
  model: string | undefined;
  apiKey: string | undefined;
  /** Where the key came from, for reports (never the key itself). */
  keySource: string;
  maxTokens: number | undefined;
}

export interface ConfigProblem {
  message: string;
  fix: string;
}

export function openaiConfig(
  env: NodeJS.ProcessEnv,
  model: string | undefined,
): { config: OpenAiConfig } | { problem: ConfigProblem } {
  const raw = (env.MITTELO_OPENAI_BASE_URL || DEFAULT_BASE_URL).trim();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: badBaseUrl(raw, 'it is not a URL') };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { problem: badBaseUrl(raw, 'it is not http or https') };

  let maxTokens: number | undefined;
  const rawMax = env.MITTELO_OPENAI_MAX_TOKENS?.trim();
  if (rawMax) {
    maxTokens = /^\d+$/.test(rawMax) ? Number(rawMax) : Number.NaN;
    if (!(maxTokens > 0)) {
      return {
        problem: {
          message: `MITTELO_OPENAI_MAX_TOKENS must be a whole number above 0, got "${rawMax}"`,
          fix: 'set MITTELO_OPENAI_MAX_TOKENS to a number such as 1024, or unset it for the server default',
        },
      };
    }
  }

  const key = apiKeyFor(url, env);
  return {
    config: {
      baseUrl: raw.replace(/\/+$/, ''),
      model: model || env.MITTELO_OPENAI_MODEL || undefined,
      apiKey: key.value,
      keySource: key.source,
      maxTokens,
    },
  };
}

/**
 * MITTELO_OPENAI_API_KEY goes to whatever server the user configured. OPENAI_API_KEY is often
 * exported for other tools; it goes only to api.openai.com, since sending it to a local or LAN
 * server (or one the base URL was pointed at by mistake) would hand a paid key to a stranger.
 */
function apiKeyFor(url: URL, env: NodeJS.ProcessEnv): { value: string | undefined; source: string } {
  if (env.MITTELO_OPENAI_API_KEY)
    return { value: env.MITTELO_OPENAI_API_KEY, source: 'MITTELO_OPENAI_API_KEY' };
  if (env.OPENAI_API_KEY) {
    if (url.hostname === OPENAI_HOST) return { value: env.OPENAI_API_KEY, source: 'OPENAI_API_KEY' };
    return {
      value: undefined,
      source: `none (OPENAI_API_KEY is set but only sent to ${OPENAI_HOST}; set MITTELO_OPENAI_API_KEY for this server)`,
    };
  }
  return { value: undefined, source: 'none' };
}

function badBaseUrl(raw: string, why: string): ConfigProblem {
  return {
    message: `MITTELO_OPENAI_BASE_URL "${raw}" is not usable: ${why}`,
    fix: `set MITTELO_OPENAI_BASE_URL to the server's OpenAI-compatible root, e.g. ${DEFAULT_BASE_URL} (llama-server), http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:1234/v1 (LM Studio)`,
  };
}

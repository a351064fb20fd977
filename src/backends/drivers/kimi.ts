/**
 * Kimi CLI (`kimi`, the Python kimi-cli from Moonshot AI): `kimi --print --output-format
 * stream-json [--model M]`, the prompt on stdin. Not installable here, so nothing below was
 * recorded: the flags and messages come from BACKEND_FACTS (reported) and kimi-cli's own source
 * and print-mode docs.
 *
 * - Print mode reads the prompt from piped stdin when no `--prompt`/`--command` is given (its docs:
 *   `echo "..." | kimi --print`). The `--query` flag of the earlier driver was an alias that
 *   later versions dropped; stdin works in both and has no argv size limit.
 * - stream-json prints one `{"role": ..., "content": ...}` message per line; the answer is the
 *   last assistant message. Errors are printed as plain text on stdout (`LLM not set`, the
 *   provider's error), exit 1, or 75 (EX_TEMPFAIL) for retryable ones in later versions.
 * - Print mode approves every tool call (it implies `--yolo`).
 * - No default model: `--model` must name a model defined in ~/.kimi/config.toml, and any other
 *   name leaves the LLM unset. The earlier driver defaulted to `kimi-for-coding`, which only
 *   works where the config happens to define a model by that name; kimi's own `default_model`
 *   is the honest default.
 * - Its successor, Kimi Code CLI (npm, also `kimi`), runs prompts as `kimi -p` instead; the
 *   preflight warns when `kimi --help` no longer lists `--print`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClassifyRule, stripAnsi } from '../classify.ts';
import type { PreflightProblem } from '../types.ts';
import { jsonLines } from './json-lines.ts';
import type { DriverContext, DriverSpec, ParsedAnswer } from './types.ts';

const SETUP_FIX =
  'run `kimi` once interactively and pick a provider and model (`/login`), or export KIMI_BASE_URL, KIMI_API_KEY and KIMI_MODEL_NAME for the agent';
const LOGIN_FIX =
  'the model API rejected the key: run `kimi` and `/login` again, or export a valid KIMI_API_KEY';
const NETWORK_FIX =
  "check the network connection to the model API (api.moonshot.cn / api.kimi.com, or the provider's base_url in ~/.kimi/config.toml): DNS, proxy, firewall";
const VERSION_FIX =
  'the installed kimi does not accept the flags Mittelö uses (`--print`, `--output-format`): install the version in docs/cli-lock.json';

export const KIMI_RULES: readonly ClassifyRule[] = [
  // Reported (BACKEND_FACTS §9) and printed verbatim by kimi-cli when no model is configured.
  { kind: 'config', pattern: /\bLLM not set\b/, fix: SETUP_FIX },
  {
    kind: 'config',
    pattern: /LLM model '[^']*' does not support required/,
    fix: 'pick a model that supports what kimi needs: MITTELO_KIMI_MODEL or --model, or default_model in ~/.kimi/config.toml',
  },
  // Click/Typer usage errors.
  {
    kind: 'config',
    pattern: /No such option:|Got unexpected extra argument|Invalid value for/,
    fix: VERSION_FIX,
  },
  // AUTH_REQUIRED is what `kimi acp` answers when logged out; the rest is the provider's HTTP 401
  // as the OpenAI SDK words it (`Error code: 401 - {...}`), which kimi prints.
  {
    kind: 'auth',
    pattern:
      /AUTH_REQUIRED|Error code: 401\b|invalid_authentication_error|Invalid Authentication|Invalid API key/i,
    fix: LOGIN_FIX,
  },
  {
    kind: 'rate_limit',
    pattern:
      /Error code: 429\b|rate_limit_reached_error|exceeded_current_quota_error|engine_overloaded_error/,
    fix: 'wait for the limit or quota to reset, or run fewer kimi agents',
  },
  // APIConnectionError / APITimeoutError texts (the OpenAI SDK's, kept by kimi's provider layer).
  { kind: 'network', pattern: /^Connection error\.?$|^Request timed out\.?$/m, fix: NETWORK_FIX },
  {
    kind: 'not_installed',
    pattern: /No module named '?kimi_cli/,
    fix: 'reinstall kimi: pip install kimi-cli (or uv tool install kimi-cli)',
  },
];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A message's text: `content` is a string, or a list of parts of which `text` ones count. */
function textOf(message: Record<string, unknown>): string {
  const content = message.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((part): part is Record<string, unknown> => isRecord(part) && part.type === 'text')
    .map((part) => (typeof part.text === 'string' ? part.text : ''))
    .join('');
}

export function parseKimi(stdout: string): ParsedAnswer {
  const messages = jsonLines(stdout);
  const replies = messages.filter((message) => message.role === 'assistant').map(textOf);
  if (replies.length === 0) return { text: stripAnsi(stdout).trim() };
  const text = replies.findLast((reply) => reply.trim() !== '') ?? '';
  const session = messages.find((message) => typeof message.session_id === 'string')?.session_id;
  return session ? { text, usage: { session_id: session } } : { text };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Does kimi have a model to run? kimi writes an empty config.toml on its first run, so the file
 * existing proves nothing: it needs `default_model` (or the `--model` given, defined there), or
 * the KIMI_BASE_URL + KIMI_MODEL_NAME variables that stand in for a configured provider. A
 * warning, not a failure: the config format is kimi's and may change.
 */
export async function kimiModelCheck(context: DriverContext): Promise<PreflightProblem[]> {
  const env = context.env;
  if (env.KIMI_BASE_URL && env.KIMI_MODEL_NAME) return [];
  const home = env.MITTELO_SUBPROCESS_HOME || env.HOME || '';
  const share = env.KIMI_SHARE_DIR || join(home, '.kimi');
  const paths = [join(share, 'config.toml'), join(share, 'config.json')];
  const path = paths.find((candidate) => readText(candidate) !== null);
  const text = path ? (readText(path) ?? '') : '';
  let missing: string;
  if (!path) missing = `there is no ${paths[0]}`;
  else if (context.model) {
    const model = context.model;
    if ([`models.${model}]`, `models."${model}"]`, `"${model}":`].some((form) => text.includes(form)))
      return [];
    missing = `${path} defines no model "${model}" (--model / MITTELO_KIMI_MODEL must name one of its models)`;
  } else {
    if (/^\s*"?default_model"?\s*[=:]\s*"[^"\s]+"/m.test(text)) return [];
    missing = `${path} sets no default_model`;
  }
  return [
    {
      severity: 'warn',
      kind: 'config',
      message: `kimi has no model to run: ${missing}, and KIMI_BASE_URL / KIMI_MODEL_NAME are not set; runs would fail with "LLM not set"`,
      fix: SETUP_FIX,
    },
  ];
}

export const kimi: DriverSpec = {
  name: 'kimi',
  title: 'Kimi CLI',
  binaries: ['kimi'],
  modelEnv: 'MITTELO_KIMI_MODEL',
  invocation: (prompt, context) => {
    const args = ['--print', '--output-format', 'stream-json'];
    if (context.model) args.push('--model', context.model);
    return { args, input: prompt };
  },
  parse: (stdout) => parseKimi(stdout),
  rules: KIMI_RULES,
  versionArgs: ['--version'],
  requiredFlags: [{ helpArgs: ['--help'], flags: ['--print', '--output-format', '--model'] }],
  auth: {
    // kimi-cli reads KIMI_API_KEY (with KIMI_BASE_URL / KIMI_MODEL_NAME, or for a configured kimi
    // provider). MOONSHOT_API_KEY, which the earlier driver exported too, is read by nothing in
    // kimi-cli, so it does not count.
    env: ['KIMI_API_KEY'],
    // Where kimi-cli keeps its providers and keys (KIMI_SHARE_DIR moves them; kimiModelCheck
    // follows it). config.json is the older format, migrated to config.toml on first use.
    files: ['.kimi/config.toml', '.kimi/config.json'],
  },
  extraChecks: kimiModelCheck,
  setup: ['pip install kimi-cli (or uv tool install kimi-cli)', SETUP_FIX],
};

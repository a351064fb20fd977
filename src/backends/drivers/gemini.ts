/**
 * Gemini CLI (`gemini`, else `npx -y @google/gemini-cli`): the prompt on piped stdin with no
 * `-p` (piped stdin alone runs headless, BACKEND_FACTS §2), `--output-format json --skip-trust`.
 * The answer is one JSON object on stdout, possibly pretty-printed; errors are a JSON object on
 * STDERR with stdout empty, and the exit code alone tells the class (41 auth, 55 untrusted folder,
 * 42/44/52 configuration, 1 after `fetch failed` retries).
 *
 * Offline, gemini retries for about 281 s before exiting 1; its `Attempt N failed. Retrying with
 * backoff` lines (within about 5 s) end the run early instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ClassifyRule } from '../classify.ts';
import { permissionArgs } from '../permissions.ts';
import type { PreflightProblem } from '../types.ts';
import { geminiUsageLimit } from '../usage-limits.ts';
import { firstJsonObject } from './json-lines.ts';
import type { DriverContext, DriverSpec, ParsedAnswer } from './types.ts';

const LOGIN_FIX =
  'set GEMINI_API_KEY (or GOOGLE_API_KEY, or Vertex: GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT/GOOGLE_CLOUD_LOCATION), or choose an auth method in ~/.gemini/settings.json';
const NETWORK_FIX =
  'check the network connection to the Gemini API (generativelanguage.googleapis.com, or Vertex AI): DNS, proxy, firewall';
const RATE_FIX = 'wait for the quota to reset (429 RESOURCE_EXHAUSTED), or run fewer gemini agents';
const VERSION_FIX =
  'the installed gemini does not accept the flags Mittelö uses: install the version in docs/cli-lock.json';
const TRUST_FIX =
  'gemini refuses to run headless in an untrusted folder: Mittelö passes --skip-trust, so this gemini predates it; set GEMINI_CLI_TRUST_WORKSPACE=true for the agent, or install the version in docs/cli-lock.json';

export const GEMINI_RULES: readonly ClassifyRule[] = [
  { kind: 'auth', exitCode: 41, fix: LOGIN_FIX },
  { kind: 'auth', pattern: /Please set an Auth method in your .*settings\.json/, fix: LOGIN_FIX },
  // The Google API's answer to a rejected key (not recorded here: no valid network).
  { kind: 'auth', pattern: /API key not valid|API_KEY_INVALID/, fix: LOGIN_FIX },
  { kind: 'config', exitCode: 55, fix: TRUST_FIX },
  { kind: 'config', pattern: /not running in a trusted directory/, fix: TRUST_FIX },
  {
    kind: 'config',
    exitCode: 42,
    fix: 'gemini rejected its input (exit 42, FatalInputError): check the task prompt, and the flags against docs/cli-lock.json',
  },
  {
    kind: 'config',
    exitCode: 44,
    fix: "gemini's sandbox failed (exit 44, FatalSandboxError): check GEMINI_SANDBOX and the sandbox settings in ~/.gemini/settings.json, or turn the sandbox off",
  },
  {
    kind: 'config',
    exitCode: 52,
    fix: "gemini's configuration is invalid (exit 52, FatalConfigError): check ~/.gemini/settings.json (or GEMINI_CLI_HOME/.gemini/settings.json)",
  },
  // The task needed more turns than gemini allows; another task may well fit.
  {
    kind: 'unknown',
    exitCode: 53,
    fix: "the task hit gemini's turn limit (exit 53): raise model.maxSessionTurns in ~/.gemini/settings.json, or split the task",
  },
  { kind: 'config', pattern: /^Unknown arguments?:|^Invalid values:/m, fix: VERSION_FIX },
  {
    kind: 'not_installed',
    pattern: /Cannot find module '[^']*gemini/,
    fix: 'reinstall gemini: npm install -g @google/gemini-cli',
  },
  // 429s are retried with the same `Attempt N failed` lines as network errors: check them first.
  {
    kind: 'rate_limit',
    pattern: /status 429|"code":\s*429|RESOURCE_EXHAUSTED|Quota exceeded/i,
    fix: RATE_FIX,
  },
  {
    kind: 'network',
    pattern: /fetch failed|Attempt \d+ failed|Error when talking to Gemini API/,
    fix: NETWORK_FIX,
  },
];

/**
 * Each top-level JSON object in `text`: one per line, or pretty-printed from a `{` line to the
 * next `}` line. Stray braces in warnings and stack traces around it do not get in the way.
 */
export function jsonBlocks(text: string): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = [];
  const starts = /^\{/gm;
  for (let match = starts.exec(text); match; match = starts.exec(text)) {
    const start = match.index;
    const lineEnd = text.indexOf('\n', start);
    const candidates = [text.slice(start, lineEnd === -1 ? undefined : lineEnd)];
    const close = text.indexOf('\n}', start);
    if (close !== -1) candidates.push(text.slice(start, close + 2));
    for (const candidate of candidates) {
      const value = firstJsonObject(candidate);
      if (value && candidate.trim().endsWith('}')) {
        found.push(value);
        break;
      }
    }
  }
  return found;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const asNumber = (value: unknown): number => (typeof value === 'number' ? value : 0);

/**
 * Token counts summed over the models in `stats.models` (gemini may route to several), and when
 * there are several, each model's own counts under `models` too: models are priced differently,
 * so a cost estimate (src/spend/cost.ts) needs each one's share, not only the sum.
 */
function usageOf(result: Record<string, unknown>): Record<string, unknown> {
  const usage: Record<string, unknown> = {};
  if (typeof result.session_id === 'string') usage.session_id = result.session_id;
  const models = isRecord(result.stats) && isRecord(result.stats.models) ? result.stats.models : {};
  const names = Object.keys(models);
  if (names.length === 0) return usage;
  const sums = { input_tokens: 0, output_tokens: 0, cached_tokens: 0, thoughts_tokens: 0, total_tokens: 0 };
  const perModel: Record<string, typeof sums> = {};
  let latency = 0;
  for (const name of names) {
    const model = models[name];
    if (!isRecord(model)) continue;
    const tokens = isRecord(model.tokens) ? model.tokens : {};
    const own = {
      input_tokens: asNumber(tokens.prompt ?? tokens.input),
      output_tokens: asNumber(tokens.candidates ?? tokens.output),
      cached_tokens: asNumber(tokens.cached),
      thoughts_tokens: asNumber(tokens.thoughts),
      total_tokens: asNumber(tokens.total),
    };
    perModel[name] = own;
    for (const key of Object.keys(sums) as (keyof typeof sums)[]) sums[key] += own[key];
    if (isRecord(model.api)) latency += asNumber(model.api.totalLatencyMs);
  }
  Object.assign(usage, sums, { model: names.join(', ') });
  if (names.length > 1) usage.models = perModel;
  if (latency > 0) usage.duration_api_ms = latency;
  return usage;
}

function errorMessage(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isRecord(value) && typeof value.message === 'string') return value.message;
  return undefined;
}

/** The answer from `--output-format json` on stdout, or the error object gemini put on stderr. */
export function parseGemini(stdout: string, stderr: string): ParsedAnswer {
  const result =
    jsonBlocks(stdout).find((block) => 'response' in block || 'error' in block) ?? firstJsonObject(stdout);
  if (result && ('response' in result || 'error' in result)) {
    const text = typeof result.response === 'string' ? result.response : '';
    const usage = usageOf(result);
    const error = errorMessage(result.error);
    return error === undefined ? { text, usage } : { text, usage, error };
  }
  const failure = jsonBlocks(stderr).findLast((block) => 'error' in block);
  const error = failure ? errorMessage(failure.error) : undefined;
  const text = stdout.trim();
  return error === undefined ? { text } : { text, error };
}

const AUTH_ENV = ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_GENAI_USE_VERTEXAI', 'GOOGLE_GENAI_USE_GCA'];
const AUTH_FILES = ['.gemini/settings.json', '.gemini/.env', '.env'];
const KEY_LINE = /^\s*(?:export\s+)?(GEMINI_API_KEY|GOOGLE_API_KEY)\s*=\s*\S/m;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** settings.json allows comment lines; drop them before parsing. */
function readSettings(path: string): Record<string, unknown> | null {
  const text = readText(path);
  if (text === null) return null;
  try {
    const value = JSON.parse(text.replace(/^\s*\/\/.*$/gm, '')) as unknown;
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}

/** `security.auth.selectedType`, or the older top-level `selectedAuthType`. */
function selectedAuthType(settings: Record<string, unknown>): string | undefined {
  const security = isRecord(settings.security) ? settings.security : {};
  const auth = isRecord(security.auth) ? security.auth : {};
  const type = auth.selectedType ?? settings.selectedAuthType;
  return typeof type === 'string' && type ? type : undefined;
}

/** The folders holding gemini's `.gemini`: GEMINI_CLI_HOME first, then the HOME it will see. */
function geminiHomes(context: DriverContext): string[] {
  const home = context.env.MITTELO_SUBPROCESS_HOME || context.env.HOME || '';
  const cliHome = context.env.GEMINI_CLI_HOME;
  return [...new Set([cliHome, home].filter((dir): dir is string => Boolean(dir)))];
}

/**
 * Which auth gemini will find, said the way a person checks it ("GEMINI_API_KEY is set",
 * "~/.gemini/settings.json selects oauth-personal"), or null. gemini also reads `.env` files
 * upward from its working directory; only the ones under its home are looked at here.
 */
export function findGeminiAuth(context: DriverContext): string | null {
  for (const name of AUTH_ENV) if (context.env[name]) return `${name} is set`;
  const homes = geminiHomes(context);
  for (const dir of homes) {
    const path = join(dir, '.gemini', 'settings.json');
    const settings = readSettings(path);
    const type = settings ? selectedAuthType(settings) : undefined;
    if (type) return `${path} selects ${type}`;
  }
  for (const dir of homes) {
    for (const path of [join(dir, '.gemini', '.env'), join(dir, '.env')]) {
      const key = readText(path)?.match(KEY_LINE)?.[1];
      if (key) return `${key} is set in ${path}`;
    }
  }
  return null;
}

/**
 * The preflight's own auth check only sees that settings.json or a .env file exists; this one
 * fails when none of them selects an auth method or holds a key, saying what was found.
 */
export async function geminiAuthChecks(context: DriverContext): Promise<PreflightProblem[]> {
  if (findGeminiAuth(context) !== null) return [];
  const home = context.env.MITTELO_SUBPROCESS_HOME || context.env.HOME || '';
  const present = AUTH_FILES.map((file) => (isAbsolute(file) ? file : join(home, file))).filter((path) =>
    existsSync(path),
  );
  // With none of them present the preflight has already reported the missing auth.
  if (present.length === 0) return [];
  return [
    {
      severity: 'fail',
      kind: 'auth',
      message: `Gemini CLI has no auth: none of ${AUTH_ENV.join(', ')} is set, no settings.json selects an auth method (security.auth.selectedType), and no GEMINI_API_KEY is in ${present.join(', ')}`,
      fix: LOGIN_FIX,
    },
  ];
}

export const gemini: DriverSpec = {
  name: 'gemini',
  title: 'Gemini CLI',
  binaries: ['gemini'],
  fallback: { command: 'npx', args: ['-y', '@google/gemini-cli'] },
  modelEnv: 'MITTELO_GEMINI_MODEL',
  // No resumed sessions: gemini's --resume takes "latest" or an index into this folder's list,
  // not a session id, and "latest" may be another task's session (docs/BACKENDS.md).
  invocation: (prompt, context, options) => {
    const args = ['--output-format', 'json', '--skip-trust'];
    if (context.model) args.push('--model', context.model);
    // What the task may do, as gemini's --approval-mode (plan: read-only).
    args.push(...permissionArgs('gemini', options?.permissions));
    return { args, input: prompt };
  },
  parse: parseGemini,
  rules: GEMINI_RULES,
  usageLimit: (stdout, stderr, nowS) => geminiUsageLimit(`${stdout}\n${stderr}`, nowS),
  signals: [
    {
      kind: 'rate_limit',
      pattern: /Attempt \d+ failed with status 429|RESOURCE_EXHAUSTED/,
      message: 'the Gemini API keeps answering 429 (quota or rate limit)',
      fix: RATE_FIX,
    },
    {
      kind: 'network',
      pattern: /Attempt \d+ failed(?: with status 5\d\d)?\. Retrying with backoff|fetch failed/,
      message: 'the Gemini API cannot be reached (gemini keeps retrying: `Attempt N failed`)',
      fix: NETWORK_FIX,
    },
  ],
  // `gemini --version` takes up to ~8 s (BACKEND_FACTS §1); preflight's check timeout allows it.
  versionArgs: ['--version'],
  requiredFlags: [
    { helpArgs: ['--help'], flags: ['--output-format', '--skip-trust', '--model', '--approval-mode'] },
  ],
  // gemini has no auth-status command: the environment, then the auth method settings.json selects.
  auth: { env: AUTH_ENV, files: AUTH_FILES },
  extraChecks: geminiAuthChecks,
  setup: [
    'npm install -g @google/gemini-cli',
    'export GEMINI_API_KEY=... (https://aistudio.google.com/apikey), or run `gemini` once to choose a login',
  ],
};

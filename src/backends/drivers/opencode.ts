/**
 * opencode (`opencode`): `opencode run --format json --print-logs`, the prompt on stdin (no
 * message argument). Events arrive as JSON Lines on stdout: `text` parts make the answer,
 * `step_finish` parts carry tokens and cost, an `error` event says why a run failed.
 * `--print-logs` puts its logs on stderr: without it opencode prints nothing for about 75 s when
 * the API cannot be reached; with it, `Cannot connect to API` shows within seconds.
 *
 * Auth: opencode's default model (`opencode/big-pickle`, provider "opencode") needs no key, so no
 * credentials is no reason to call it unready. Only a model of another provider needs that
 * provider's key; then a missing one is a warning (see providerKeyCheck).
 */
import { resolve } from 'node:path';
import type { ClassifyRule } from '../classify.ts';
import { permissionEnv } from '../permissions.ts';
import { runProcess } from '../process-runner.ts';
import { subprocessPlace } from '../subprocess-env.ts';
import type { PreflightProblem } from '../types.ts';
import { resolveCommand } from './driver-backend.ts';
import { jsonLines } from './json-lines.ts';
import { opencodeLiveEvents } from './live-events.ts';
import type { DriverContext, DriverSpec, ParsedAnswer } from './types.ts';

const KEY_FIX = "set the provider's API key (e.g. ANTHROPIC_API_KEY) or run `opencode auth login`";
const NETWORK_FIX =
  "check the network connection to the model provider's API (opencode's default is opencode.ai): DNS, proxy, firewall";
const RATE_FIX = 'wait for the limit to reset, or run fewer opencode agents';
const VERSION_FIX =
  'the installed opencode does not accept the flags Mittelö uses (it printed its `run` help): install the version in docs/cli-lock.json';

export const OPENCODE_RULES: readonly ClassifyRule[] = [
  {
    kind: 'not_installed',
    pattern: /opencode-ai's postinstall script was not run/,
    fix: 'reinstall opencode with its install scripts allowed: npm install -g opencode-ai',
  },
  {
    kind: 'config',
    pattern: /EROFS: read-only file system/,
    fix: 'opencode writes under ~/.local, ~/.config and ~/.cache: make HOME writable, point XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_CACHE_HOME and XDG_STATE_HOME at writable folders, or set MITTELO_SUBPROCESS_HOME',
  },
  // A model of a provider with no key is "not found" (the default output calls it UnknownError;
  // --print-logs shows the cause). A mistyped model name looks the same.
  {
    kind: 'auth',
    pattern: /ProviderModelNotFoundError: Model not found: /,
    fix: `${KEY_FIX}; \`opencode models\` lists the models it can use`,
  },
  // Online (reported, not recorded offline): a reachable provider rejecting the key.
  {
    kind: 'auth',
    pattern: /"statusCode":\s*401|invalid x-api-key|Incorrect API key|"type":"authentication_error"/,
    fix: KEY_FIX,
  },
  {
    kind: 'rate_limit',
    pattern: /"statusCode":\s*429|Too Many Requests|rate[ _-]?limit/i,
    fix: RATE_FIX,
  },
  { kind: 'config', exitCode: 1, pattern: /^\s*opencode run \[message\.\.\]/m, fix: VERSION_FIX },
  {
    kind: 'config',
    pattern: /You must provide a message or a command/,
    fix: 'give the task a non-empty prompt (opencode reads it on stdin); if it had one, this opencode does not read stdin: install the version in docs/cli-lock.json',
  },
  {
    kind: 'network',
    pattern:
      /Cannot connect to API|Unable to connect\. Is the computer able to access the url\?|Failed to fetch models\.dev|"name":"APIError","data":\{[^\n]*"isRetryable":true/,
    fix: NETWORK_FIX,
  },
];

type Event = Record<string, unknown>;
const record = (value: unknown): Event | undefined =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Event) : undefined;

/** Tokens and cost summed over the run's steps (each `step_finish` counts its own step). */
function usageOf(events: Event[]): Record<string, unknown> {
  const usage: Record<string, number> = {};
  const add = (key: string, value: unknown) => {
    if (typeof value === 'number' && Number.isFinite(value)) usage[key] = (usage[key] ?? 0) + value;
  };
  for (const event of events) {
    if (event.type !== 'step_finish') continue;
    const part = record(event.part);
    const tokens = record(part?.tokens);
    add('input_tokens', tokens?.input);
    add('output_tokens', tokens?.output);
    add('reasoning_tokens', tokens?.reasoning);
    add('cache_read_input_tokens', record(tokens?.cache)?.read);
    add('cache_creation_input_tokens', record(tokens?.cache)?.write);
    add('cost_usd', part?.cost);
  }
  const session = events.find((event) => typeof event.sessionID === 'string')?.sessionID;
  return session ? { ...usage, session_id: session } : usage;
}

/**
 * The answer from `--format json` events: the text parts in order, one per line (as opencode's
 * own plain output prints them). An `error` event makes the run a failure. Without text parts
 * (another format, another version), what stdout has besides JSON lines is the answer.
 */
export function parseOpencode(stdout: string): ParsedAnswer {
  const events = jsonLines(stdout);
  const texts = events
    .filter((event) => event.type === 'text')
    .map((event) => record(event.part)?.text)
    .filter((value): value is string => typeof value === 'string' && value.trim() !== '')
    .map((value) => value.trim());
  const text =
    texts.length > 0
      ? texts.join('\n')
      : stdout
          .split('\n')
          .filter((line) => !line.trim().startsWith('{'))
          .join('\n')
          .trim();
  const usage = usageOf(events);
  const withUsage = Object.keys(usage).length > 0 ? { usage } : {};
  const failure = events.findLast((event) => event.type === 'error');
  if (failure) {
    const error = record(failure.error);
    const message = record(error?.data)?.message;
    const name = typeof error?.name === 'string' ? `${error.name}: ` : '';
    return {
      text,
      ...withUsage,
      error:
        typeof message === 'string' && message ? `${name}${message}` : `${name}opencode reported an error`,
    };
  }
  return { text, ...withUsage };
}

/** Key variables of common providers; `opencode auth list` knows the rest. */
const PROVIDER_KEYS: Record<string, string[]> = {
  anthropic: ['ANTHROPIC_API_KEY'],
  openai: ['OPENAI_API_KEY'],
  google: ['GOOGLE_GENERATIVE_AI_API_KEY', 'GEMINI_API_KEY'],
  openrouter: ['OPENROUTER_API_KEY'],
};

const letters = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * With a model of a keyed provider (`-m anthropic/...`), is there a key for it: its variable, or
 * the provider in `opencode auth list` (stored credentials, and the key variables it sees). Only
 * a warning when none is found: a key may also sit in opencode's own config file, which neither
 * shows; a run without one fails with `auth` and the agent stops leasing then.
 */
async function providerKeyCheck(context: DriverContext): Promise<PreflightProblem[]> {
  const provider = context.model?.includes('/') ? context.model.split('/')[0]! : undefined;
  if (!provider || provider === 'opencode') return [];
  if ((PROVIDER_KEYS[provider] ?? []).some((name) => context.env[name])) return [];
  const command = resolveCommand(opencode, context.env);
  if (!command) return [];
  const place = subprocessPlace({}, context.env);
  const list = await runProcess(
    { command: command.command, args: ['auth', 'list'], env: place.env, cwd: place.cwd },
    { timeoutMs: 20_000, maxOutputBytes: 256 * 1024 },
  );
  // The first line names the credentials file, whose path says "opencode": skip it.
  const listed = `${list.stdout}\n${list.stderr}`.split('\n').slice(1).join('\n');
  if (list.exitCode === 0 && letters(listed).includes(letters(provider))) return [];
  const variables = PROVIDER_KEYS[provider];
  return [
    {
      severity: 'warn',
      kind: 'auth',
      message: `the model ${context.model} needs a key for ${provider}, and none was found (${variables ? `${variables.join(', ')} not set; ` : ''}\`opencode auth list\` does not list ${provider})`,
      fix: KEY_FIX,
    },
  ];
}

export const opencode: DriverSpec = {
  name: 'opencode',
  title: 'opencode',
  binaries: ['opencode'],
  modelEnv: 'MITTELO_OPENCODE_MODEL',
  invocation: (prompt, context, options) => {
    const args = ['run', '--format', 'json', '--print-logs'];
    if (context.model) args.push('-m', context.model);
    // Absolute: the process already runs in this folder, so a relative --dir would apply twice.
    if (context.cwd) args.push('--dir', resolve(context.cwd));
    // The task's last session (its ses_... id), continued with this prompt as its next message.
    if (options?.resumeSession) args.push('--session', options.resumeSession);
    // What the task may do, as opencode's inline permission config (edit, bash, webfetch).
    return { args, input: prompt, env: permissionEnv('opencode', options?.permissions) };
  },
  parse: (stdout) => parseOpencode(stdout),
  live: opencodeLiveEvents,
  rules: OPENCODE_RULES,
  // Not "Failed to fetch models.dev": opencode goes on with its bundled model list and may still
  // reach the provider. The provider call failing (each retry logs a `stream error`) is the sign.
  signals: [
    {
      kind: 'rate_limit',
      pattern: /message="stream error"[^\n]*(\b429\b|Too Many Requests)/,
      message: 'the provider keeps answering 429 (rate limited)',
      fix: RATE_FIX,
    },
    {
      kind: 'network',
      pattern: /Cannot connect to API/,
      message: 'the API cannot be reached (opencode keeps retrying: Cannot connect to API)',
      fix: NETWORK_FIX,
    },
  ],
  versionArgs: ['--version'],
  requiredFlags: [{ helpArgs: ['run', '--help'], flags: ['--format', '--print-logs', '--model'] }],
  extraChecks: providerKeyCheck,
  setup: [
    'npm install -g opencode-ai',
    'run `opencode auth login` for your provider (the default opencode/* models need none)',
  ],
};

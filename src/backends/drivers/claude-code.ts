/**
 * Claude Code (`claude`): `claude -p --output-format stream-json --verbose`, the prompt on stdin.
 * stream-json rather than json because it shows `api_retry` events within a second when the API
 * cannot be reached, where the other modes print nothing for about three minutes. Errors arrive
 * on stdout (a `result` with `is_error`), not stderr. `glm` is this driver with GLM's endpoint
 * and key in the environment.
 */
import type { ClassifyRule } from '../classify.ts';
import { permissionArgs } from '../permissions.ts';
import { claudeUsageLimit, RATE_LIMIT_EVENT_MARKER } from '../usage-limits.ts';
import { extractObjects, jsonLines, pick } from './json-lines.ts';
import { claudeLiveEvents } from './live-events.ts';
import type { DriverSpec, ParsedAnswer } from './types.ts';

const LOGIN_FIX = 'run `claude` once and `/login`, or set ANTHROPIC_API_KEY';
const NETWORK_FIX =
  'check the network connection to api.anthropic.com (or ANTHROPIC_BASE_URL): DNS, proxy, firewall';

/**
 * The `subtype` of the result when a run stops at `--max-budget-usd`: `error_max_budget_usd` in
 * the Agent SDK's result types; matched by its prefix in case a version words the rest otherwise.
 */
const BUDGET_SUBTYPE = /^error_max_budget/;

export const CLAUDE_RULES: readonly ClassifyRule[] = [
  // First: a budget stop is final, whatever else the output shows.
  {
    kind: 'budget',
    pattern: /"subtype":"error_max_budget/,
    fix: "raise the task's max_cost_usd (or the run's --max-cost-usd), or split the task",
  },
  { kind: 'auth', pattern: /Not logged in\s*\S\s*Please run \/login/, fix: LOGIN_FIX },
  { kind: 'auth', pattern: /Invalid API key\s*\S\s*Please run \/login/, fix: LOGIN_FIX },
  { kind: 'auth', pattern: /"error":"authentication_failed"/, fix: LOGIN_FIX },
  { kind: 'auth', pattern: /OAuth token has expired|Please run \/login/, fix: LOGIN_FIX },
  {
    kind: 'not_installed',
    pattern: /claude native binary not installed/,
    fix: 'reinstall with its install scripts allowed: npm install -g @anthropic-ai/claude-code',
  },
  {
    kind: 'rate_limit',
    pattern: /"error_status":429|rate_limit_error|usage limit reached/i,
    fix: 'wait for the limit to reset, or run fewer claude_code agents',
  },
  {
    kind: 'network',
    pattern: /API Error: Unable to connect to API|"error":"server_error"|"subtype":"api_retry"/,
    fix: NETWORK_FIX,
  },
  {
    kind: 'config',
    pattern:
      /^error: unknown option '|^error: option '.*' argument '.*' is invalid|requires --verbose|Input must be provided either through stdin or as a prompt argument/m,
    fix: 'the installed claude does not accept the flags Mittelö uses: install the version in docs/cli-lock.json',
  },
];

/** The answer from stream-json (or json, or plain text) output. */
export function parseClaude(stdout: string): ParsedAnswer {
  // A rate_limit_event may have been written into the middle of another line (claude 2.1.74):
  // cut out first, so the line it split parses.
  const events = jsonLines(extractObjects(stdout, RATE_LIMIT_EVENT_MARKER).rest);
  const result = events.findLast((event) => event.type === 'result');
  if (!result) return { text: stdout.trim() };
  const init = events.find((event) => event.type === 'system' && event.subtype === 'init');
  const usage = {
    ...pick(result.usage as Record<string, unknown> | undefined, {
      input_tokens: 'input_tokens',
      output_tokens: 'output_tokens',
      cache_read_input_tokens: 'cache_read_input_tokens',
      cache_creation_input_tokens: 'cache_creation_input_tokens',
    }),
    ...pick(result, {
      total_cost_usd: 'cost_usd',
      session_id: 'session_id',
      num_turns: 'num_turns',
      duration_api_ms: 'duration_api_ms',
    }),
    ...pick(init, { model: 'model' }),
  };
  // With --json-schema, the validated value comes as `structured_output` and `result` may be
  // prose about it: the value, as JSON text, is the answer (the agent parses and checks it).
  const structured = result.structured_output;
  const text =
    structured !== undefined && structured !== null
      ? JSON.stringify(structured)
      : typeof result.result === 'string'
        ? result.result
        : '';
  if (typeof result.subtype === 'string' && BUDGET_SUBTYPE.test(result.subtype))
    return { text, usage, error: `stopped at its budget (${result.subtype})` };
  // `subtype` says "success" even for errors: `is_error` is what tells.
  if (result.is_error === true) return { text, usage, error: text || 'claude reported an error' };
  return { text, usage };
}

export const claudeCode: DriverSpec = {
  name: 'claude_code',
  title: 'Claude Code',
  binaries: ['claude'],
  modelEnv: 'MITTELO_CLAUDE_MODEL',
  invocation: (prompt, context, options) => {
    const args = ['-p', '--output-format', 'stream-json', '--verbose'];
    if (context.model) args.push('--model', context.model);
    // The task's max_cost_usd, enforced by claude itself ("only works with --print", which -p is).
    if (typeof options?.maxCostUsd === 'number') args.push('--max-budget-usd', String(options.maxCostUsd));
    // The task's output_schema: claude then answers with `structured_output` (see parseClaude).
    if (options?.outputSchema) args.push('--json-schema', JSON.stringify(options.outputSchema));
    // The task's last session, continued (the prompt is the next turn of it). Mittelö never
    // passes --no-session-persistence, so every run's session is on disk to be resumed later.
    if (options?.resumeSession) args.push('--resume', options.resumeSession);
    // What the task may do, as claude's --permission-mode (claude_code and glm alike).
    args.push(...permissionArgs('claude_code', options?.permissions));
    return { args, input: prompt };
  },
  parse: (stdout) => parseClaude(stdout),
  live: claudeLiveEvents,
  rules: CLAUDE_RULES,
  usageLimit: (stdout, _stderr, nowS) => claudeUsageLimit(stdout, nowS),
  signals: [
    {
      kind: 'rate_limit',
      pattern: /"subtype":"api_retry"[^\n]*"error_status":429/,
      message: 'the API keeps answering 429 (rate limited)',
      fix: 'wait for the limit to reset, or run fewer claude_code agents',
    },
    {
      kind: 'network',
      pattern: /"subtype":"api_retry"/,
      message: 'the API cannot be reached (claude keeps retrying: api_retry events)',
      fix: NETWORK_FIX,
    },
  ],
  versionArgs: ['--version'],
  requiredFlags: [
    {
      helpArgs: ['--help'],
      flags: ['--print', '--output-format', '--verbose', '--model', '--permission-mode'],
    },
  ],
  auth: {
    env: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'],
    files: ['.claude/.credentials.json'],
    statusArgs: ['auth', 'status'],
    loggedOut: /"loggedIn":\s*false/,
  },
  setup: ['npm install -g @anthropic-ai/claude-code', LOGIN_FIX],
};

/** GLM through Claude Code: the user points claude at a GLM endpoint with their own exports. */
export const glm: DriverSpec = {
  ...claudeCode,
  name: 'glm',
  title: 'GLM (through Claude Code)',
  modelEnv: 'MITTELO_GLM_MODEL',
  auth: { env: ['ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_API_KEY'] },
  setup: [
    'npm install -g @anthropic-ai/claude-code',
    'export ANTHROPIC_BASE_URL=<your GLM Anthropic-compatible endpoint> ANTHROPIC_AUTH_TOKEN=<your GLM API key>',
  ],
};

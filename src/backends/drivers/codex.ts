/**
 * Codex (`codex`): `codex exec --json --skip-git-repo-check -`, the prompt on stdin (`-` keeps
 * codex from printing "Reading additional input from stdin..."). Events arrive as JSON Lines on
 * stdout; the answer is the last `agent_message` item.
 *
 * Offline, `codex exec` never gives up ("Reconnecting... waiting for network" for as long as it
 * runs), and it cannot tell a missing login from a dead network: without credentials it goes to
 * the network exactly as with a key. So the `Reconnecting...` signal ends the run early, and the
 * preflight (keys in the environment, ~/.codex/auth.json, `codex login status`) is what decides
 * whether codex is logged in.
 */
import { join, resolve } from 'node:path';
import type { ClassifyRule } from '../classify.ts';
import { permissionArgs } from '../permissions.ts';
import { codexUsageLimit } from '../usage-limits.ts';
import { jsonLines, pick } from './json-lines.ts';
import { codexLiveEvents } from './live-events.ts';
import type { DriverSpec, ParsedAnswer } from './types.ts';

const LOGIN_FIX = 'run `codex login` (or set OPENAI_API_KEY / CODEX_API_KEY)';
const NETWORK_FIX =
  'check the network connection to api.openai.com (or your configured model provider): DNS, proxy, firewall';
const RATE_FIX = 'wait for the limit to reset, or run fewer codex agents';
const VERSION_FIX =
  'the installed codex does not accept the flags Mittelö uses: install the version in docs/cli-lock.json';

export const CODEX_RULES: readonly ClassifyRule[] = [
  {
    kind: 'not_installed',
    pattern: /Missing optional dependency @openai\/codex-/,
    fix: 'reinstall codex with its optional dependencies: npm install -g @openai/codex',
  },
  {
    kind: 'config',
    pattern: /Read-only file system \(os error 30\)/,
    fix: 'codex writes its state under ~/.codex: make HOME writable, point CODEX_HOME at a writable folder, or set MITTELO_SUBPROCESS_HOME',
  },
  { kind: 'config', pattern: /^error: (unexpected argument|invalid value) '/m, fix: VERSION_FIX },
  { kind: 'config', exitCode: 2, pattern: /Usage: codex/, fix: VERSION_FIX },
  {
    kind: 'config',
    pattern: /Not inside a trusted directory and --skip-git-repo-check was not specified/,
    fix: VERSION_FIX,
  },
  {
    kind: 'config',
    pattern: /No prompt provided via stdin/,
    fix: 'give the task a non-empty prompt (codex reads it on stdin)',
  },
  // Online messages (BACKEND_FACTS §9 and codex's issue tracker): a reachable API rejecting the
  // key. They come after `Reconnecting... N/5` lines, so they must win over the network rules.
  {
    kind: 'auth',
    pattern:
      /401 Unauthorized|Incorrect API key|invalid_api_key|The configured API key is invalid or unusable|missing api key/i,
    fix: LOGIN_FIX,
  },
  {
    kind: 'rate_limit',
    pattern: /429 Too Many Requests|usage limit|rate_limit_exceeded/i,
    fix: RATE_FIX,
  },
  {
    kind: 'network',
    pattern:
      /stream disconnected before completion|failed to lookup address information|Reconnecting\.\.\. (\d+\/\d+|waiting for network)|failed to connect to Responses WebSocket|Connection failed: error sending request|failed to refresh available models|unreachable over HTTP/,
    fix: NETWORK_FIX,
  },
];

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The answer from `exec --json` events: the last `agent_message`, the usage of `turn.completed`,
 * the thread id as session id. A failed turn is a failure even after some messages (the work was
 * not finished); `error` events count only when no answer came, since codex also reports retries
 * it recovers from as `error` events.
 */
export function parseCodex(stdout: string): ParsedAnswer {
  const events = jsonLines(stdout);
  if (events.length === 0) return { text: stdout.trim() };
  const item = (event: Record<string, unknown>) => event.item as Record<string, unknown> | undefined;
  const answer = events.findLast(
    (event) => event.type === 'item.completed' && item(event)?.type === 'agent_message',
  );
  const answerText = (answer && text(item(answer)?.text)) ?? '';
  const thread = events.find((event) => event.type === 'thread.started');
  const turn = events.findLast((event) => event.type === 'turn.completed');
  const usage = {
    ...pick(turn?.usage as Record<string, unknown> | undefined, {
      input_tokens: 'input_tokens',
      cached_input_tokens: 'cached_input_tokens',
      output_tokens: 'output_tokens',
      reasoning_output_tokens: 'reasoning_output_tokens',
    }),
    ...pick(thread, { thread_id: 'session_id' }),
  };
  const withUsage = Object.keys(usage).length > 0 ? { usage } : {};
  const failed = events.findLast((event) => event.type === 'turn.failed');
  if (failed) {
    const message = text((failed.error as Record<string, unknown> | undefined)?.message);
    return { text: answerText, ...withUsage, error: message || 'codex reported a failed turn' };
  }
  if (!answer) {
    const error = events.findLast((event) => event.type === 'error');
    if (error) return { text: '', ...withUsage, error: text(error.message) || 'codex reported an error' };
  }
  return { text: answerText, ...withUsage };
}

const enabled = (value: string | undefined) => value !== undefined && /^(1|true|yes|on)$/i.test(value);

export const codex: DriverSpec = {
  name: 'codex',
  title: 'Codex',
  binaries: ['codex'],
  modelEnv: 'MITTELO_CODEX_MODEL',
  invocation: (prompt, context, options) => {
    const args = ['exec', '--json', '--skip-git-repo-check'];
    if (context.model) args.push('-m', context.model);
    // Absolute: the process already runs in this folder, so a relative -C would apply twice.
    if (context.cwd) args.push('-C', resolve(context.cwd));
    // What the task may do, as exec's sandbox (-s); exec never asks for approval.
    args.push(...permissionArgs('codex', options?.permissions));
    // A task that continues its session needs it on disk for the next run: never ephemeral.
    if (enabled(context.env.MITTELO_CODEX_EPHEMERAL) && !options?.resume) args.push('--ephemeral');
    // codex takes the schema only as a file: one in the run's own folder, removed after the run.
    let files: Record<string, string> | undefined;
    if (options?.outputSchema && options.runDir) {
      const file = join(options.runDir, 'output-schema.json');
      files = { [file]: JSON.stringify(options.outputSchema) };
      args.push('--output-schema', file);
    }
    // `codex exec [flags] resume <id> -`: the flags above are exec's and apply to the resumed
    // run too (-C and -s are exec's only); the prompt on stdin is the session's next turn.
    if (options?.resumeSession) args.push('resume', options.resumeSession);
    args.push('-');
    return { args, input: prompt, ...(files ? { files } : {}) };
  },
  parse: (stdout) => parseCodex(stdout),
  live: codexLiveEvents,
  rules: CODEX_RULES,
  usageLimit: (stdout, stderr, nowS) => codexUsageLimit(`${stdout}\n${stderr}`, nowS),
  signals: [
    {
      kind: 'auth',
      pattern: /Reconnecting\.\.\.[^\n]*(401 Unauthorized|Incorrect API key|invalid_api_key)/,
      message: 'the API rejects the credentials (codex keeps retrying: 401 Unauthorized)',
      fix: LOGIN_FIX,
    },
    {
      kind: 'rate_limit',
      pattern: /Reconnecting\.\.\.[^\n]*429 Too Many Requests/,
      message: 'the API keeps answering 429 (rate limited)',
      fix: RATE_FIX,
    },
    {
      kind: 'network',
      pattern: /Reconnecting\.\.\./,
      message: 'the API cannot be reached (codex keeps retrying: Reconnecting...)',
      fix: NETWORK_FIX,
    },
  ],
  versionArgs: ['--version'],
  requiredFlags: [
    { helpArgs: ['exec', '--help'], flags: ['--json', '--skip-git-repo-check', '--model', '--sandbox'] },
  ],
  auth: {
    // The variables first: `codex login status` says "Not logged in" even when one is set.
    env: ['OPENAI_API_KEY', 'CODEX_API_KEY'],
    files: ['.codex/auth.json'],
    // Also covers a CODEX_HOME elsewhere: codex reads its auth.json from there.
    statusArgs: ['login', 'status'],
    loggedOut: /Not logged in/,
  },
  setup: ['npm install -g @openai/codex', 'run `codex login` (or export OPENAI_API_KEY=...)'],
};

/**
 * Kiro CLI (`kiro-cli`, from AWS; the renamed Amazon Q Developer CLI): `kiro-cli chat
 * --no-interactive --wrap never [--model M] (--trust-tools= | --trust-all-tools) <prompt>`, the
 * prompt as an argument (no way to read it on stdin is known). The answer is plain text on
 * stdout. Not installable here, so nothing below was recorded: the command line is the earlier
 * driver's (BACKEND_FACTS), `kiro-cli whoami` and KIRO_API_KEY are in Kiro's docs, and the
 * logged-out message is the one other tools driving kiro-cli report (and Amazon Q CLI's source).
 *
 * The task's permissions decide which tools are trusted (permissions.ts: fs_read for read,
 * fs_write too for edit, every tool for full). With every tool trusted kiro runs in
 * `.mittelo/work/kiro` unless it has a folder of its own (the task's worktree,
 * MITTELO_SUBPROCESS_WORKDIR), keeping its side effects out of the agent's repository.
 *
 * Login: `kiro-cli login` opens an OAuth portal on a local callback port, which fails where those
 * ports are blocked (headless machines, containers); `kiro-cli login --use-device-flow` does not
 * need them. MITTELO_KIRO_DEVICE_FLOW=1 makes every fix say the device-flow command.
 */
import { resolve } from 'node:path';
import { type ClassifyRule, stripAnsi } from '../classify.ts';
import { permissionArgs } from '../permissions.ts';
import type { DriverSpec } from './types.ts';

/** Where kiro runs with all tools trusted, relative to the agent's working directory. */
export const KIRO_TRUSTED_WORKDIR = '.mittelo/work/kiro';

const NETWORK_FIX = 'check the network connection to the Kiro service (AWS): DNS, proxy, firewall';
const VERSION_FIX =
  'the installed kiro-cli does not accept the flags Mittelö uses: install the version in docs/cli-lock.json';

const isOn = (value: string | undefined) => /^(1|true|yes|on)$/i.test(value ?? '');

function loginFix(deviceFlow: boolean): string {
  return deviceFlow
    ? 'run `kiro-cli login --use-device-flow`, or export KIRO_API_KEY=... (a Kiro API key, for headless use)'
    : 'run `kiro-cli login`, or export KIRO_API_KEY=... (a Kiro API key, for headless use); OAuth portal init fails when callback ports are blocked: use `kiro-cli login --use-device-flow`';
}

export function kiroRules(deviceFlow: boolean): ClassifyRule[] {
  const fix = loginFix(deviceFlow);
  return [
    {
      kind: 'auth',
      pattern: /You are not logged in|log in with kiro-cli login|--use-device-flow|OAuth portal/,
      fix,
    },
    // AWS service exception names for rejected or expired credentials (unverified for kiro-cli).
    {
      kind: 'auth',
      pattern: /UnauthorizedException|ExpiredTokenException|AccessDeniedException|invalid api key/i,
      fix: `${fix}; if it is logged in, check that the subscription may use this model`,
    },
    {
      kind: 'config',
      pattern: /^error: (unexpected argument|invalid value|unrecognized subcommand) '/m,
      fix: VERSION_FIX,
    },
    { kind: 'config', exitCode: 2, pattern: /Usage: kiro-cli/, fix: VERSION_FIX },
    {
      kind: 'rate_limit',
      pattern: /ThrottlingException|too many requests/i,
      fix: 'wait for the limit to reset, or run fewer kiro agents',
    },
    // aws-sdk-rust and hyper wordings of a connection that never happened (unverified for kiro-cli).
    {
      kind: 'network',
      pattern: /dispatch failure|failed to lookup address information|error trying to connect/,
      fix: NETWORK_FIX,
    },
  ];
}

/** Kiro's spec; the environment decides whether fixes name the device-flow login. */
export function kiroSpec(env: NodeJS.ProcessEnv = process.env): DriverSpec {
  const deviceFlow = isOn(env.MITTELO_KIRO_DEVICE_FLOW);
  return {
    name: 'kiro',
    title: 'Kiro CLI',
    binaries: ['kiro-cli'],
    modelEnv: 'MITTELO_KIRO_MODEL',
    invocation: (prompt, context, options) => {
      const trustAll = options?.permissions === 'full';
      const args = ['chat', '--no-interactive', '--wrap', 'never'];
      if (context.model) args.push('--model', context.model);
      // What the task may do, as the tools kiro trusts (permissions.ts).
      args.push(...permissionArgs('kiro', options?.permissions));
      // A prompt starting with `-` would be read as an option; `--` ends them (clap).
      if (prompt.startsWith('-')) args.push('--');
      args.push(prompt);
      if (!trustAll || context.cwd) return { args, input: '' };
      return { args, input: '', cwd: resolve(KIRO_TRUSTED_WORKDIR) };
    },
    parse: (stdout) => ({ text: stripAnsi(stdout).trim() }),
    rules: kiroRules(deviceFlow),
    versionArgs: ['--version'],
    requiredFlags: [
      {
        helpArgs: ['chat', '--help'],
        flags: ['--no-interactive', '--wrap', '--model', '--trust-all-tools', '--trust-tools'],
      },
    ],
    auth: {
      env: ['KIRO_API_KEY'],
      // Documented by Kiro ("run kiro-cli whoami" shows the active auth); its logged-out text is
      // reported by other tools, not recorded here.
      statusArgs: ['whoami'],
      loggedOut: /not logged in/i,
    },
    setup: [
      'install Kiro CLI: curl -fsSL https://cli.kiro.dev/install | bash (see https://kiro.dev/docs/cli)',
      deviceFlow
        ? 'kiro-cli login --use-device-flow (or export KIRO_API_KEY=... for headless use)'
        : 'kiro-cli login (on a headless machine or with blocked callback ports: kiro-cli login --use-device-flow), or export KIRO_API_KEY=...',
    ],
  };
}

export const kiro: DriverSpec = kiroSpec();

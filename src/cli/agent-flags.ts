/**
 * The flags every command that starts agents shares (`agent`, `swarm`, `run`), and turning them
 * into agent options. Backend preflight reports are printed here too, the same way for all three.
 */
import { type Command, Option } from 'commander';
import type { SharedAgentOptions } from '../agent/swarm.ts';
import type { BackendSettings } from '../backends/registry.ts';
import type { PreflightReport } from '../backends/types.ts';
import { CliError, EXIT, parsePositiveInt } from './common.ts';

export interface AgentFlags {
  shellCmd?: string;
  maxTasks: string;
  leaseSeconds?: string;
  timeoutS: string;
  maxOutputBytes: string;
  tag?: string[];
  model?: string;
  earlyFailureS: string;
  preflight: boolean;
  requireReady?: boolean;
}

export function addAgentOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--shell-cmd <command>', 'the program for the shell backend (prompt on stdin)').env(
        'MITTELO_SHELL_CMD',
      ),
    )
    .addOption(new Option('--max-tasks <n>', 'tasks each agent runs at once').default('1'))
    .addOption(new Option('--lease-seconds <n>', "lease length to ask for (default: the hub's)"))
    .addOption(new Option('--timeout-s <seconds>', 'timeout for tasks that set no timeout_s').default('600'))
    .addOption(
      new Option('--max-output-bytes <n>', 'output kept per run; the rest is cut and counted').default(
        String(4 * 1024 * 1024),
      ),
    )
    .addOption(new Option('--tag <name...>', 'lease only tasks carrying these tags'))
    .addOption(
      new Option('--model <model>', 'model for the CLI drivers (else their MITTELO_*_MODEL variable)'),
    )
    .addOption(
      new Option(
        '--early-failure-s <seconds>',
        'stop a CLI this long after it starts retrying (network down, rate limited)',
      )
        .env('MITTELO_EARLY_FAILURE_S')
        .default('20'),
    )
    .addOption(new Option('--no-preflight', 'skip the backend check before leasing'))
    .addOption(new Option('--require-ready', 'refuse to start when a backend check finds any problem'));
}

function positiveNumber(value: string, flag: string): number {
  const n = /^(\d+\.?\d*|\.\d+)$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n > 0)) throw new CliError(`${flag} must be a number above 0, got "${value}"`);
  return n;
}

/** MITTELO_LIMIT_MARGIN_S: seconds after a usage window's reset before leasing again (docs/AGENTS.md). */
function limitMargin(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n))
    throw new CliError(`MITTELO_LIMIT_MARGIN_S must be a number of seconds, 0 or more, got "${value}"`);
  return n;
}

export function agentOptionsFrom(flags: AgentFlags): {
  shared: SharedAgentOptions;
  settings: BackendSettings;
} {
  return {
    shared: {
      maxTasks: parsePositiveInt(flags.maxTasks, '--max-tasks'),
      leaseSeconds:
        flags.leaseSeconds === undefined ? undefined : positiveNumber(flags.leaseSeconds, '--lease-seconds'),
      timeoutS: positiveNumber(flags.timeoutS, '--timeout-s'),
      maxOutputBytes: parsePositiveInt(flags.maxOutputBytes, '--max-output-bytes'),
      tags: flags.tag,
      preflight: flags.preflight,
      requireReady: Boolean(flags.requireReady),
      limitMarginS: limitMargin(process.env.MITTELO_LIMIT_MARGIN_S),
    },
    settings: {
      shellCmd: flags.shellCmd,
      model: flags.model,
      earlyFailureMs: positiveNumber(flags.earlyFailureS, '--early-failure-s') * 1000,
    },
  };
}

/**
 * An agent's exit (AgentExit.code) as the command's exit code: 3 the hub cannot be reached
 * securely (TLS), 4 the hub refused us (token), anything else a failure.
 */
export function exitCodeOf(code: number): number {
  return code === 4 ? EXIT.refused : code === 3 ? EXIT.unreachable : EXIT.failure;
}

/**
 * Print what the backend checks found (warnings and failures, each with its fix). Under
 * --require-ready any problem refuses the start (exit 1); otherwise agents of an unready backend
 * start, report themselves unhealthy to the hub and wait until the backend is ready.
 */
export function reportPreflight(reports: readonly PreflightReport[], requireReady: boolean): void {
  for (const report of reports) {
    for (const problem of report.problems) {
      const fix = problem.fix ? `\n  fix: ${problem.fix}` : '';
      process.stderr.write(`[${report.backend}] ${problem.severity}: ${problem.message}${fix}\n`);
    }
  }
  if (!requireReady) return;
  const unready = reports.filter((report) => report.problems.length > 0).map((report) => report.backend);
  if (unready.length > 0) {
    throw new CliError(
      `--require-ready: backend ${unready.join(', ')} not ready (see above); nothing was started`,
      EXIT.failure,
    );
  }
}

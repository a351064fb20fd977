/**
 * The flags every command that starts agents shares (`agent`, `swarm`, `run`), and turning them
 * into agent options. Backend preflight reports are printed here too, the same way for all three.
 */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import type { SharedAgentOptions } from '../agent/swarm.ts';
import { DEFAULT_BASE_REF, type WorkspaceOptions } from '../agent/task-workspace.ts';
import { describePermissions } from '../backends/permissions.ts';
import type { BackendSettings } from '../backends/registry.ts';
import type { PreflightReport } from '../backends/types.ts';
import {
  PERMISSION_LEVELS,
  type PermissionLevel,
  WORKSPACE_MODES,
  type WorkspaceMode,
} from '../protocol/model.ts';
import { newTaskSchema } from '../protocol/schemas.ts';
import { type CheckedRepository, checkRepository } from '../workspace/repository-check.ts';
import { ensureIgnored } from '../workspace/task-worktree.ts';
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

/** The workspace flags of `agent` and `run` (docs/AGENTS.md, "Workspaces"). */
export interface WorkspaceFlags {
  workspace?: WorkspaceMode;
  repo?: string;
  base?: string;
  keepWorktrees?: boolean;
  allowDirty?: boolean;
  permissions?: PermissionLevel;
}

export function addWorkspaceOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--workspace <mode>',
        'where tasks that do not say run: shared (the current folder; the default) or worktree (a git worktree and branch of --repo per task)',
      ).choices(WORKSPACE_MODES),
    )
    .addOption(
      new Option(
        '--repo <dir>',
        'the git checkout worktree tasks are made from (default: the current folder, with --workspace worktree)',
      ),
    )
    .addOption(
      new Option(
        '--base <ref>',
        'the ref new worktrees start from, for tasks that name no base_ref (default HEAD)',
      ),
    )
    .addOption(
      new Option(
        '--keep-worktrees',
        "keep done tasks' worktree folders too (a failed task's is always kept; branches always stay)",
      ),
    )
    .addOption(
      new Option(
        '--allow-dirty',
        'start although the repository has uncommitted changes (tasks start from --base, without them)',
      ),
    )
    .addOption(
      new Option(
        '--permissions <level>',
        'what backends may do, for tasks that do not say: read, edit or full (default: read in a shared workspace, edit in a worktree)',
      ).choices(PERMISSION_LEVELS),
    );
}

/**
 * The workspace flags as agent options, the repository checked (once, before anything is made):
 * needed with --workspace worktree, or when `needRepository` (a pack line asks for a worktree),
 * and checked whenever --repo is given. A bad repository or base is one line, exit 2.
 */
export async function workspaceOptionsFrom(
  flags: WorkspaceFlags,
  needRepository = false,
): Promise<{ options: WorkspaceOptions; repository: CheckedRepository | null }> {
  const base = flags.base ?? DEFAULT_BASE_REF;
  const baseProblem = newTaskSchema.shape.base_ref.safeParse(base);
  if (!baseProblem.success) {
    throw new CliError(`--base "${base}": ${baseProblem.error.issues[0]?.message ?? 'not a git ref'}`);
  }
  const mode = flags.workspace ?? 'shared';
  const options: WorkspaceOptions = {
    workspace: mode,
    base,
    keepWorktrees: flags.keepWorktrees === true,
    ...(flags.permissions ? { permissions: flags.permissions } : {}),
  };
  if (flags.repo === undefined && mode !== 'worktree' && !needRepository)
    return { options, repository: null };
  const dir = flags.repo ?? process.cwd();
  const label =
    flags.repo === undefined
      ? `the current folder (${dir}; worktree tasks need a repository: --repo DIR)`
      : `--repo ${flags.repo}`;
  const repository = await checkRepository(dir, base, { allowDirty: flags.allowDirty === true, label });
  // Worktrees and run folders live under .mittelo/: ignored there, they never dirty the checkout.
  await ensureIgnored(repository.root);
  const here = resolve(process.cwd());
  if (here !== repository.root && here.startsWith(`${repository.root}/`)) await ensureIgnored(here);
  return { options: { ...options, repo: repository.root }, repository };
}

/**
 * The workspace an agent or a run works in, and what its backends may do, as the start line says
 * it: `workspace: worktree of /repo from main (abc1234), done tasks' folders removed (branches
 * kept); shell may: …`.
 */
export function describeWorkspace(
  workspace: { options: WorkspaceOptions; repository: CheckedRepository | null },
  backends: readonly string[],
): string {
  const { options, repository } = workspace;
  const mode = options.workspace ?? 'shared';
  const from = repository
    ? `${repository.root} from ${repository.baseRef} (${repository.baseCommit.slice(0, 7)})`
    : '';
  const where =
    mode === 'worktree'
      ? `worktree of ${from}, ${options.keepWorktrees ? "done tasks' folders kept" : "done tasks' folders removed"} (branches kept; failed tasks' folders kept)`
      : repository
        ? `shared (tasks that ask for a worktree get one of ${from})`
        : 'shared (tasks that ask for a worktree fail here: no --repo)';
  const level = options.permissions ?? (mode === 'worktree' ? 'edit' : 'read');
  const may = [...new Set(backends)].map((backend) => `${backend}: ${describePermissions(backend, level)}`);
  const which = options.permissions ? '--permissions' : 'permissions (the default)';
  return `workspace: ${where}; ${which}: ${may.length > 0 ? may.join('; ') : level}`;
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

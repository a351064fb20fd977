/**
 * A driver's prerequisite check: is the CLI there (and where), which version, does its `--help`
 * still list the flags we rely on, is there auth material (environment variables, its own
 * credential files, its status command). Each problem comes with its fix. HOME is the one the
 * CLI will see: MITTELO_SUBPROCESS_HOME when set.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { classify, stripAnsi } from '../classify.ts';
import { runProcess } from '../process-runner.ts';
import { subprocessPlace } from '../subprocess-env.ts';
import { type PreflightProblem, type PreflightReport, readyReport } from '../types.ts';
import type { ResolvedCommand } from './driver-backend.ts';
import type { DriverContext, DriverSpec } from './types.ts';

/** gemini's --version takes up to ~8 s (a large JS bundle); leave room. */
const CHECK_TIMEOUT_MS = 20_000;

async function runCheck(command: ResolvedCommand, args: string[], context: DriverContext) {
  const place = subprocessPlace({}, context.env);
  return runProcess(
    {
      command: command.command,
      args: [...command.prefixArgs, ...args],
      env: place.env,
      cwd: place.cwd,
    },
    { timeoutMs: CHECK_TIMEOUT_MS, maxOutputBytes: 256 * 1024 },
  );
}

/** Which auth the CLI will find, or null. Exported for tests and the doctor. */
export async function findAuth(
  spec: DriverSpec,
  context: DriverContext,
  command: ResolvedCommand | null,
): Promise<string | null> {
  const auth = spec.auth;
  if (!auth) return 'none needed';
  for (const name of auth.env ?? []) if (context.env[name]) return `${name} is set`;
  const home = context.env.MITTELO_SUBPROCESS_HOME || context.env.HOME || '';
  for (const file of auth.files ?? []) {
    const path = isAbsolute(file) ? file : join(home, file);
    if (existsSync(path)) return `credentials in ${path}`;
  }
  // A status command through a fallback (npx) would download the CLI: not from a check.
  if (auth.statusArgs && command && !command.viaFallback) {
    const status = await runCheck(command, auth.statusArgs, context);
    const text = stripAnsi(`${status.stdout}\n${status.stderr}`);
    const loggedOut = auth.loggedOut ? auth.loggedOut.test(text) : status.exitCode !== 0;
    if (!loggedOut && status.exitCode === 0)
      return `\`${spec.binaries[0]} ${auth.statusArgs.join(' ')}\` says logged in`;
  }
  return null;
}

export async function runPreflight(
  spec: DriverSpec,
  context: DriverContext,
  command: ResolvedCommand | null,
): Promise<PreflightReport> {
  const problems: PreflightProblem[] = [];
  const details: Record<string, string> = {};
  if (!command) {
    problems.push({
      severity: 'fail',
      kind: 'not_installed',
      message: `${spec.title} is not installed: no ${spec.binaries.join(' or ')} on PATH`,
      fix: spec.setup[0] ?? `install ${spec.binaries[0]}`,
    });
    return readyReport(spec.name, problems, details);
  }
  details.path = command.path;
  if (command.viaFallback) {
    // Running it would download the CLI (npx): a check, and so the doctor, must not. Runs will.
    problems.push({
      severity: 'warn',
      kind: 'not_installed',
      message: `${spec.title} is not installed; runs go through \`${command.path}\`, which downloads it on first use (version and flags not checked)`,
      fix: spec.setup[0] ?? `install ${spec.binaries[0]}`,
    });
    return finishWithAuth(spec, context, command, problems, details);
  }
  const version = await runCheck(command, spec.versionArgs, context);
  if (version.exitCode === 0) {
    details.version =
      stripAnsi(version.stdout || version.stderr)
        .trim()
        .split('\n')[0] ?? '';
  } else {
    // The driver's own rules may know why (opencode with a read-only HOME fails even --version).
    const output = stripAnsi(`${version.stdout}\n${version.stderr}`).trim();
    const known = classify(spec.rules, { exitCode: version.exitCode, output });
    const how = version.timedOut ? 'timed out' : `exit ${version.exitCode}`;
    problems.push({
      severity: 'fail',
      kind: known.kind === 'unknown' ? 'not_installed' : known.kind,
      message: `\`${spec.binaries[0]} ${spec.versionArgs.join(' ')}\` failed (${how}): ${output.slice(0, 300)}`,
      fix: known.fix ?? `reinstall it: ${spec.setup[0] ?? spec.binaries[0]}`,
    });
    return readyReport(spec.name, problems, details);
  }
  for (const { helpArgs, flags } of spec.requiredFlags) {
    const help = await runCheck(command, helpArgs, context);
    const text = stripAnsi(`${help.stdout}\n${help.stderr}`);
    const missing = flags.filter((flag) => !text.includes(flag));
    if (missing.length > 0) {
      problems.push({
        severity: 'warn',
        kind: 'config',
        message: `\`${spec.binaries[0]} ${helpArgs.join(' ')}\` no longer lists ${missing.join(', ')}: this version (${details.version}) may not run the way Mittelö drives it`,
        fix: 'install the version in docs/cli-lock.json, or see docs/VERSION_LOCK.md',
      });
    }
  }
  return finishWithAuth(spec, context, command, problems, details);
}

/** The auth part of a preflight, and the extra checks: the last steps of every report. */
async function finishWithAuth(
  spec: DriverSpec,
  context: DriverContext,
  command: ResolvedCommand,
  problems: PreflightProblem[],
  details: Record<string, string>,
): Promise<PreflightReport> {
  const auth = await findAuth(spec, context, command);
  if (auth) details.auth = auth;
  else {
    problems.push({
      severity: 'fail',
      kind: 'auth',
      message: `${spec.title} is not logged in: ${describeAuthSources(spec)}`,
      fix: spec.setup.slice(1).join('; ') || `log in to ${spec.binaries[0]}`,
    });
  }
  if (spec.extraChecks) problems.push(...(await spec.extraChecks(context)));
  return readyReport(spec.name, problems, details);
}

function describeAuthSources(spec: DriverSpec): string {
  const parts: string[] = [];
  if (spec.auth?.env?.length) parts.push(`none of ${spec.auth.env.join(', ')} is set`);
  if (spec.auth?.files?.length) parts.push(`no ${spec.auth.files.join(' or ')}`);
  if (spec.auth?.statusArgs)
    parts.push(`\`${spec.binaries[0]} ${spec.auth.statusArgs.join(' ')}\` does not say logged in`);
  return parts.join('; ');
}
